//! The customer: a browser session on a fresh shop, with steps named after what a person does and
//! sees. Every step returns a [`Step`]; [`Customer::finish`] closes the browser and ends its driver
//! first, and only then reports a failure, with what the page showed, a screenshot and what the
//! backend received.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use fantoccini::{Client, Locator};
use serde_json::{json, Value};

use super::browser::{Browser, Device, Driver};
use super::build::{artifacts_dir, axe_source, workspace_root};
use super::shop::{shorten, Shop, ShopSetup};
use super::{Failure, Step};

/// How long a customer waits for something to appear before the step fails.
fn patience() -> Duration {
    let secs = std::env::var("E2E_WAIT_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(15);
    Duration::from_secs(secs)
}

/// Who visits, with what, and which shop.
#[derive(Debug, Clone)]
pub struct Visit {
    /// The browser.
    pub browser: Browser,
    /// The device.
    pub device: Device,
    /// The shop's settings.
    pub shop: ShopSetup,
}

impl Default for Visit {
    fn default() -> Self {
        Self {
            browser: Browser::Chromium,
            device: Device::Desktop,
            shop: ShopSetup::default(),
        }
    }
}

impl Visit {
    /// The default visit with these page configuration fields changed (e.g. `{"locale": "en"}`).
    pub fn with_page_config(page_config: Value) -> Self {
        let mut visit = Self::default();
        visit.shop.page_config = page_config;
        visit
    }
}

/// A customer in a browser, on their own shop.
pub struct Customer {
    /// The shop they visit (backend, simulator, database, front door).
    pub shop: Shop,
    client: Option<Client>,
    driver: Option<Driver>,
    test: String,
    shots: u32,
}

pub const REGISTER_BUTTON: &str = ".tbc-register > button.tbc-button";

impl Customer {
    /// Starts the shop and the browser for the test `test` (the harness has checked that the
    /// browser's driver is installed).
    pub async fn arrives(test: &str, visit: Visit) -> Customer {
        let test = format!("{test}-{}", visit.browser.name());
        let binary = Driver::locate(visit.browser)
            .unwrap_or_else(|| panic!("e2e: `{test}`: no {} driver", visit.browser.name()));
        let shop = Shop::open(&visit.shop)
            .await
            .unwrap_or_else(|e| panic!("e2e: `{test}`: the shop did not open: {}", e.0));
        let driver = Driver::spawn(visit.browser, binary)
            .await
            .unwrap_or_else(|e| panic!("e2e: `{test}`: no WebDriver: {}", e.0));
        // On a panic here, `driver` is dropped and ends its process group.
        let client = driver
            .session(visit.browser, visit.device)
            .await
            .unwrap_or_else(|e| panic!("e2e: `{test}`: {}", e.0));
        let _ = std::fs::remove_dir_all(artifacts_dir().join(&test));
        Customer {
            shop,
            client: Some(client),
            driver: Some(driver),
            test,
            shots: 0,
        }
    }

    fn client(&self) -> &Client {
        self.client
            .as_ref()
            .expect("the browser is open until finish()")
    }

    /// Runs `script` (a function body; `arguments` holds `args`) in the page.
    pub async fn run(&self, script: &str, args: Vec<Value>) -> Step<Value> {
        Ok(self.client().execute(script, args).await?)
    }

    /// Waits until `script` returns something truthy; fails with `what` after the patience runs out.
    pub async fn wait_until(&self, what: &str, script: &str) -> Step<Value> {
        let deadline = Instant::now() + patience();
        loop {
            match self.run(script, vec![]).await {
                Ok(value) if !value.is_null() && value != json!(false) && value != json!("") => {
                    return Ok(value)
                }
                _ if Instant::now() > deadline => {
                    return Err(Failure(format!("waited {:?} for {what}", patience())))
                }
                _ => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }

    // --- where the customer is ---------------------------------------------------------------

    /// Opens a path of the shop.
    pub async fn open(&self, path: &str) -> Step {
        Ok(self.client().goto(&self.shop.url(path)).await?)
    }

    /// Opens the shop's registration page and waits until its button works.
    pub async fn open_registration(&self) -> Step {
        self.open("/").await?;
        self.wait_until_register_button_works().await
    }

    /// Waits until the registration button says it is ready.
    pub async fn wait_until_register_button_works(&self) -> Step {
        self.wait_until(
            "the registration button to become ready",
            &format!("const b = document.querySelector('{REGISTER_BUTTON}'); return b && b.dataset.state === 'ready' && !b.disabled;"),
        )
        .await
        .map(drop)
    }

    /// The address bar.
    pub async fn address(&self) -> Step<String> {
        Ok(self.client().current_url().await?.to_string())
    }

    /// Everything the page shows as text.
    pub async fn page_text(&self) -> Step<String> {
        let text = self
            .run(
                "return document.body ? document.body.innerText : '';",
                vec![],
            )
            .await?;
        Ok(text.as_str().unwrap_or_default().to_owned())
    }

    /// Reloads the page.
    pub async fn reload(&self) -> Step {
        Ok(self.client().refresh().await?)
    }

    /// The browser's back button.
    pub async fn go_back(&self) -> Step {
        Ok(self.client().back().await?)
    }

    /// The browser's forward button.
    pub async fn go_forward(&self) -> Step {
        Ok(self.client().forward().await?)
    }

    /// Opens `url` in a new tab and switches to it.
    pub async fn open_new_tab(&self, url: &str) -> Step {
        let tab = self.client().new_window(true).await?;
        self.client().switch_to_window(tab.handle).await?;
        Ok(self.client().goto(url).await?)
    }

    // --- what the customer does --------------------------------------------------------------

    /// Clicks the registration button.
    pub async fn click_register(&self) -> Step {
        self.wait_until_register_button_works().await?;
        Ok(self
            .client()
            .find(Locator::Css(REGISTER_BUTTON))
            .await?
            .click()
            .await?)
    }

    /// Clicks the button or link whose visible text is `label`.
    pub async fn click(&self, label: &str) -> Step {
        let xpath = format!(
            "//*[self::button or self::a][normalize-space(.)={}]",
            xpath_literal(label)
        );
        let element = self
            .client()
            .wait()
            .at_most(patience())
            .for_element(Locator::XPath(&xpath))
            .await
            .map_err(|e| Failure(format!("no button or link labelled {label:?}: {e}")))?;
        Ok(element.click().await?)
    }

    /// Waits for the sandbox card window, as the in-page overlay (desktop, `iframe`).
    pub async fn see_card_window_overlay(&self) -> Step {
        self.wait_until(
            "the card window overlay",
            "const o = document.querySelector('[data-tsbx-overlay] [role=dialog]'); return !!o && !!o.querySelector('[data-tsbx-action=register]');",
        )
        .await
        .map(drop)
    }

    /// Waits for the sandbox card window as a page of its own (`self`, mobile).
    pub async fn see_card_window_page(&self) -> Step {
        self.wait_until(
            "the full-page card window (sandbox/card-window.html)",
            "return location.pathname.endsWith('/sandbox/card-window.html') && !!document.querySelector('[data-tsbx-action=register]') && !document.querySelector('[data-tsbx-overlay]');",
        )
        .await
        .map(drop)
    }

    /// Presses Tab until the focused element matches `selector` (keyboard-only use); fails when
    /// `max_presses` Tabs never reach it.
    pub async fn tab_to(&self, selector: &str, max_presses: usize) -> Step {
        let is_focused = format!(
            "return !!document.activeElement && document.activeElement.matches({selector:?});"
        );
        for _ in 0..max_presses {
            if self.run(&is_focused, vec![]).await? == json!(true) {
                return Ok(());
            }
            self.client()
                .active_element()
                .await?
                .send_keys("\u{E004}")
                .await?;
        }
        Err(Failure(format!(
            "{max_presses} Tab presses never reached {selector}"
        )))
    }

    /// Presses Enter on the focused element.
    pub async fn press_enter(&self) -> Step {
        Ok(self
            .client()
            .active_element()
            .await?
            .send_keys("\u{E007}")
            .await?)
    }

    /// The id of the focused element.
    pub async fn focused_id(&self) -> Step<String> {
        let id = self
            .run(
                "return document.activeElement ? document.activeElement.id : '';",
                vec![],
            )
            .await?;
        Ok(id.as_str().unwrap_or_default().to_owned())
    }

    /// Types a card number into the card window.
    pub async fn type_card_number(&self, number: &str) -> Step {
        let input = self
            .client()
            .find(Locator::Css("input[name=cardNumber]"))
            .await?;
        input.clear().await?;
        Ok(input.send_keys(number).await?)
    }

    async fn click_in_card_window(&self, action: &str) -> Step {
        let selector = format!("[data-tsbx-action=\"{action}\"]");
        let button = self
            .client()
            .wait()
            .at_most(patience())
            .for_element(Locator::Css(&selector))
            .await
            .map_err(|e| Failure(format!("no {selector} in the card window: {e}")))?;
        Ok(button.click().await?)
    }

    /// Clicks 카드 등록 in the card window.
    pub async fn register_card(&self) -> Step {
        self.click_in_card_window("register").await
    }

    /// Clicks 취소 in the card window.
    pub async fn cancel_card_window(&self) -> Step {
        self.click_in_card_window("cancel").await
    }

    /// Picks one of the sandbox's scripted failures (`PAY_PROCESS_ABORTED`, …).
    pub async fn choose_test_failure(&self, code: &str) -> Step {
        self.click_in_card_window(&format!("fail:{code}")).await
    }

    /// Makes the sandbox keep the next redirect instead of following it; [`Customer::kept_redirect`]
    /// returns it. For tampering with a genuine redirect.
    pub async fn hold_the_next_redirect(&self) -> Step {
        self.run(
            "window.__e2eRedirect = null; TossPayments.__sandbox.navigate = (url) => { window.__e2eRedirect = url; };",
            vec![],
        )
        .await
        .map(drop)
    }

    /// The redirect the sandbox kept.
    pub async fn kept_redirect(&self) -> Step<String> {
        let url = self
            .wait_until("the sandbox's redirect", "return window.__e2eRedirect;")
            .await?;
        Ok(url.as_str().unwrap_or_default().to_owned())
    }

    // --- what the customer sees --------------------------------------------------------------

    /// Waits until the page shows `text`.
    pub async fn see(&self, text: &str) -> Step {
        self.see_within(text, patience()).await
    }

    /// Waits at most `patience` until the page shows `text`.
    pub async fn see_within(&self, text: &str, patience: Duration) -> Step {
        let deadline = Instant::now() + patience;
        loop {
            let shown = self.page_text().await.unwrap_or_default();
            if shown.contains(text) {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(Failure(format!("the page never showed {text:?}")));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Fails if the page shows `text` now.
    pub async fn do_not_see(&self, text: &str) -> Step {
        let shown = self.page_text().await?;
        ensure!(!shown.contains(text), "the page shows {text:?}");
        Ok(())
    }

    /// The success page with this card on it.
    pub async fn see_registered_card(&self, company: &str, masked_number: &str) -> Step {
        self.wait_until(
            "the registered card",
            "return document.querySelector('.tbc-card-number');",
        )
        .await?;
        let card = self
            .run(
                "return [document.querySelector('.tbc-card-company').innerText, document.querySelector('.tbc-card-number').innerText];",
                vec![],
            )
            .await?;
        ensure!(
            card[0].as_str().unwrap_or_default().starts_with(company)
                && card[1] == json!(masked_number),
            "the card shown is {card}, not {company} {masked_number}"
        );
        Ok(())
    }

    /// Whether the address bar shows `parameter=`.
    pub async fn address_has(&self, parameter: &str) -> Step<bool> {
        let address = self.address().await?;
        let query = address.split_once('?').map(|(_, q)| q).unwrap_or("");
        Ok(query
            .split('&')
            .any(|pair| pair.starts_with(&format!("{parameter}="))))
    }

    // --- evidence ----------------------------------------------------------------------------

    /// Saves a screenshot of this page state and checks it: no moderate, serious or critical accessibility
    /// violation (axe-core), and nothing of the checkout sticking out of its box.
    pub async fn snapshot(&mut self, state: &str) -> Step<PathBuf> {
        self.checked_snapshot(state, false).await
    }

    /// A snapshot of a page that is ours from `<html>` down (the operator page): there, any axe
    /// violation fails, minor ones included; a storefront's pages are only partly ours.
    pub async fn snapshot_of_our_own_page(&mut self, state: &str) -> Step<PathBuf> {
        self.checked_snapshot(state, true).await
    }

    async fn checked_snapshot(&mut self, state: &str, strict: bool) -> Step<PathBuf> {
        let path = self.screenshot(state).await?;
        self.check_accessibility(state, strict).await?;
        self.check_layout(state).await?;
        Ok(path)
    }

    /// Every visible element of the checkout lies within its parent (1 px tolerance; a spinning
    /// element's rotated box is not its layout).
    pub async fn check_layout(&self, state: &str) -> Step {
        let overflowing = self
            .run(
                "return [...document.querySelectorAll('.tbc *')].filter((e) => {
                     const b = e.getBoundingClientRect(), p = e.parentElement.getBoundingClientRect();
                     const spinning = getComputedStyle(e).animationName !== 'none';
                     return b.width > 0 && !spinning && (b.right > p.right + 1 || b.left < p.left - 1);
                 }).map((e) => e.tagName.toLowerCase() + '.' + [...e.classList].join('.'));",
                vec![],
            )
            .await?;
        ensure!(
            overflowing.as_array().is_some_and(Vec::is_empty),
            "layout ({state}): these stick out of their box: {overflowing}"
        );
        Ok(())
    }

    /// [`Customer::snapshot`], also copied to `docs/screenshots/{name}.png` when
    /// `E2E_UPDATE_SCREENSHOTS=1`.
    pub async fn snapshot_for_docs(&mut self, state: &str, name: &str) -> Step {
        let path = self.snapshot(state).await?;
        // The docs show Chromium's rendering (one picture per page, not one per browser).
        if std::env::var("E2E_UPDATE_SCREENSHOTS").is_ok_and(|v| v == "1")
            && self.test.ends_with("-chromium")
        {
            let docs = workspace_root().join("docs/screenshots");
            std::fs::create_dir_all(&docs)?;
            std::fs::copy(&path, docs.join(format!("{name}.png")))?;
        }
        Ok(())
    }

    async fn screenshot(&mut self, state: &str) -> Step<PathBuf> {
        self.shots += 1;
        let dir = artifacts_dir().join(&self.test);
        std::fs::create_dir_all(&dir)?;
        let path = dir.join(format!("{:02}-{state}.png", self.shots));
        std::fs::write(&path, self.client().screenshot().await?)?;
        Ok(path)
    }

    /// axe-core on the current page: fails on moderate, serious or critical violations (every page
    /// the stories visit is one of ours: the demo storefronts, the sandbox window), or on any if
    /// `strict`.
    async fn check_accessibility(&self, state: &str, strict: bool) -> Step {
        let loaded = self
            .run("return typeof window.axe === 'object';", vec![])
            .await?;
        if loaded != json!(true) {
            self.run(axe_source(), vec![]).await?;
        }
        let violations = self
            .client()
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 axe.run(document, { resultTypes: ['violations'] })
                   .then((r) => done(r.violations.map((v) => ({
                       id: v.id, impact: v.impact, help: v.help,
                       nodes: v.nodes.slice(0, 3).map((n) => n.target.join(' ') + ((n.any[0] || n.all[0] || n.none[0] || {}).message ? ' (' + (n.any[0] || n.all[0] || n.none[0]).message + ')' : '')) }))))
                   .catch((e) => done([{ id: 'axe-error', impact: 'critical', help: String(e), nodes: [] }]));",
                vec![],
            )
            .await?;
        let violations = violations.as_array().cloned().unwrap_or_default();
        let (blocking, minor): (Vec<_>, Vec<_>) = violations.iter().partition(|v| {
            strict
                || matches!(
                    v["impact"].as_str(),
                    Some("moderate" | "serious" | "critical")
                )
        });
        for v in &minor {
            eprintln!(
                "e2e: {}: axe ({state}): {} {}: {} {}",
                self.test, v["impact"], v["id"], v["help"], v["nodes"]
            );
        }
        ensure!(
            blocking.is_empty(),
            "accessibility ({state}): {} axe violations: {}",
            if strict {
                "any"
            } else {
                "moderate/serious/critical"
            },
            blocking
                .iter()
                .map(|v| format!(
                    "{} [{}] {}: {}",
                    v["id"], v["impact"], v["help"], v["nodes"]
                ))
                .collect::<Vec<_>>()
                .join("; ")
        );
        Ok(())
    }

    /// Ends the visit: the browser is closed and its driver ended first, then a failed story is
    /// reported with what the page showed, a screenshot and what the backend received.
    pub async fn finish(mut self, outcome: Step) {
        let report = match &outcome {
            Ok(()) => None,
            Err(failure) => Some(self.evidence(failure).await),
        };
        if let Some(client) = self.client.take() {
            let _ = tokio::time::timeout(Duration::from_secs(10), client.close()).await;
        }
        drop(self.driver.take());
        if let Some(report) = report {
            panic!("{report}");
        }
    }

    async fn evidence(&mut self, failure: &Failure) -> String {
        let address = self
            .address()
            .await
            .unwrap_or_else(|e| format!("? ({})", e.0));
        let text = self
            .page_text()
            .await
            .unwrap_or_else(|e| format!("? ({})", e.0));
        let shot = match self.screenshot("FAILED").await {
            Ok(path) => path.display().to_string(),
            Err(e) => format!("none ({})", e.0),
        };
        let shown = shorten(text.trim(), 1500)
            .lines()
            .map(|line| format!("  | {line}"))
            .collect::<Vec<_>>()
            .join("\n");
        format!(
            "\n\ne2e: `{}` failed: {}\n  address: {}\n  the page showed:\n{}\n  screenshot: {}\n{}\n",
            self.test,
            failure.0,
            shorten(&address, 200),
            shown,
            shot,
            self.shop.account().await
        )
    }
}

/// An XPath string literal for any text (XPath 1.0 has no escapes).
fn xpath_literal(text: &str) -> String {
    if !text.contains('\'') {
        format!("'{text}'")
    } else if !text.contains('"') {
        format!("\"{text}\"")
    } else {
        let parts = text
            .split('\'')
            .map(|p| format!("'{p}'"))
            .collect::<Vec<_>>()
            .join(", \"'\", ");
        format!("concat({parts})")
    }
}

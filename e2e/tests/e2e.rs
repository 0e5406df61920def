//! End-to-end: the release frontend (`scripts/build-release.sh`, the build that ships), served by the
//! reference backend with its Toss simulator, driven in headless Chromium and headless Firefox:
//! every story runs in both (`chromium::…`, `firefox::…`). Each story checks what the customer sees
//! and what the backend and its database recorded. Helpers are in `support/`; screenshots of every
//! page state go to `target/e2e-artifacts/<test>-<browser>/`.
//!
//! Run: `cargo test -p e2e` (after `npm ci` in e2e/; `scripts/test.sh` does both). A browser whose
//! driver is missing fails its stories with the reason; `SKIP_BROWSERS=firefox` (or `chromium`)
//! reports that browser's stories as ignored — skipped, never passed.

#[macro_use]
mod support;

use std::time::Duration;

use serde_json::json;
use support::{Browser, Customer, Device, Fault, Outcome, ShopSetup, Step, Visit};

/// The sandbox's prefilled test card, as the simulator registers it.
const TEST_CARD: (&str, &str) = ("현대", "433012******123*");

/// The success page's title when the registration started the demo plan and its first charge
/// was paid (the demo page checks out `premium-monthly` with a checkout session).
const SUBSCRIBED: &str = "구독이 시작되었어요";

/// A story: a test that opens a shop and a browser, runs `$body` (a block of steps using `$c`),
/// and always closes the browser before reporting. The harness (`main`) runs it in each browser.
macro_rules! story {
    ($(#[$meta:meta])* $name:ident, $visit:expr, |$c:ident| $body:block) => {
        $(#[$meta])*
        #[allow(unused_mut)]
        fn $name(browser: Browser) -> Story {
            Box::pin(async move {
                let visit: Visit = Visit { browser, ..$visit };
                let mut $c = Customer::arrives(stringify!($name), visit).await;
                let outcome: Step = async { $body }.await;
                $c.finish(outcome).await;
            })
        }
    };
}

/// A story's run in one browser.
type Story = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

/// A story, given the browser to run in.
type StoryFn = fn(Browser) -> Story;

/// After a registration: exactly one hand-off reached the backend, exactly one Toss issue call was
/// made, one card is stored for the customer, and the database holds neither the billing key the
/// simulator minted nor the authKey in clear.
async fn backend_recorded_one_card(c: &Customer, company: &str, number: &str) -> Step {
    ensure_eq!(c.shop.hand_offs(), 1, "hand-offs that reached the backend");
    ensure_eq!(c.shop.toss_issue_calls().await?, 1, "Toss issue calls");
    let cards = c.shop.stored_cards().await?;
    ensure_eq!(cards.len(), 1, "cards stored");
    ensure_eq!(
        (cards[0].company.as_str(), cards[0].number.as_str()),
        (company, number),
        "stored card"
    );
    let customer = c
        .run(
            "return fetch('/api/customer').then((r) => r.json()).then((b) => b.customerKey);",
            vec![],
        )
        .await?;
    ensure_eq!(
        json!(cards[0].customer_key),
        customer,
        "the card's customer"
    );
    let database = c.shop.database_bytes();
    let minted = c.shop.sim.minted_billing_keys().await?;
    ensure!(!minted.is_empty(), "the simulator minted no billing key");
    for key in minted {
        ensure!(
            !contains(&database, key.as_bytes()),
            "the database holds a billing key in clear"
        );
    }
    for redirect in c.shop.success_redirects() {
        let auth_key = query_value(&redirect, "authKey").unwrap_or_default();
        ensure!(
            !auth_key.is_empty() && !contains(&database, auth_key.as_bytes()),
            "the database holds the authKey in clear"
        );
    }
    Ok(())
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The raw (still percent-encoded) value of `name` in a URL's query.
fn query_value(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix(&format!("{name}=")))
        .map(str::to_owned)
}

/// `url` with `name`'s value replaced (or removed with `None`), other parameters kept in order.
fn with_parameter(url: &str, name: &str, value: Option<&str>) -> String {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let pairs = query
        .split('&')
        .filter_map(|pair| match pair.strip_prefix(&format!("{name}=")) {
            Some(_) => value.map(|v| format!("{name}={v}")),
            None => Some(pair.to_owned()),
        })
        .collect::<Vec<_>>();
    format!("{base}?{}", pairs.join("&"))
}

// ------------------------------------------------------------------------------------------------
// Happy paths

story!(
    /// Desktop: the card window opens over the page; one registered card, stored encrypted.
    happy_path_in_the_overlay_window,
    Visit::default(),
    |c| {
        c.open_registration().await?;
        c.see("결제 카드 등록").await?;
        c.snapshot_for_docs("registration", "ko-registration").await?;
        c.click_register().await?;
        c.see_card_window_overlay().await?;
        c.snapshot("card-window-overlay").await?;
        c.register_card().await?;
        c.see(SUBSCRIBED).await?;
        c.see_registered_card(TEST_CARD.0, TEST_CARD.1).await?;
        c.see("첫 결제 9,900원이 완료되었어요.").await?;
        c.see("영수증 보기").await?;
        c.snapshot_for_docs("success", "ko-success").await?;
        ensure!(!c.address_has("authKey").await?, "the authKey is still in the address bar");
        ensure!(!c.address_has("customerKey").await?, "the customerKey is still in the address bar");
        // The loader took it out, before it fetched anything (not the component, later).
        let scrubbed = c
            .run("return performance.getEntriesByName('toss-billing-checkout:authkey-scrubbed').length;", vec![])
            .await?;
        ensure_eq!(scrubbed, json!(1), "the loader's scrub mark");
        backend_recorded_one_card(&c, TEST_CARD.0, TEST_CARD.1).await
    }
);

story!(
    /// Keyboard only: Tab to the button, Enter, Tab through the card window, Enter; the result
    /// takes focus so a screen reader announces it.
    happy_path_with_the_keyboard_only,
    Visit::default(),
    |c| {
        c.open_registration().await?;
        c.tab_to(support::REGISTER_BUTTON, 10).await?;
        c.press_enter().await?;
        c.see_card_window_overlay().await?;
        c.tab_to("[data-tsbx-action=register]", 20).await?;
        c.press_enter().await?;
        c.see(SUBSCRIBED).await?;
        ensure_eq!(c.focused_id().await?, "tbc-success-title", "focus after registering");
        backend_recorded_one_card(&c, TEST_CARD.0, TEST_CARD.1).await
    }
);

story!(
    /// `windowTarget: "self"` on desktop: the card window is a page of its own.
    happy_path_in_the_full_page_window,
    Visit::with_page_config(json!({ "windowTarget": "self" })),
    |c| {
        c.open_registration().await?;
        c.click_register().await?;
        c.see_card_window_page().await?;
        c.snapshot("card-window-page").await?;
        c.register_card().await?;
        c.see(SUBSCRIBED).await?;
        c.see_registered_card(TEST_CARD.0, TEST_CARD.1).await?;
        ensure!(!c.address_has("authKey").await?, "the authKey is still in the address bar");
        backend_recorded_one_card(&c, TEST_CARD.0, TEST_CARD.1).await
    }
);

story!(
    /// A phone: the component picks `self` by itself; a card typed by hand; then a cancel in the
    /// full-page window comes back as the cancel copy.
    happy_path_on_a_phone,
    Visit { device: Device::Phone, ..Visit::default() },
    |c| {
        c.open_registration().await?;
        c.snapshot("registration-phone").await?;
        c.click_register().await?;
        c.see_card_window_page().await?;
        c.snapshot("card-window-phone").await?;
        c.type_card_number("5570 4200 1111 9876").await?;
        c.register_card().await?;
        c.see(SUBSCRIBED).await?;
        c.see_registered_card("", "557042******987*").await?;
        c.snapshot("success-phone").await?;
        ensure!(!c.address_has("authKey").await?, "the authKey is still in the address bar");
        let card = c.shop.stored_cards().await?;
        backend_recorded_one_card(&c, &card[0].company, "557042******987*").await?;

        c.open_registration().await?;
        c.click_register().await?;
        c.see_card_window_page().await?;
        c.cancel_card_window().await?;
        c.see("카드 등록을 취소했어요").await?;
        c.see("카드 등록을 취소하셨어요. 언제든 다시 등록할 수 있어요.").await?;
        c.snapshot("cancelled-phone").await?;
        ensure_eq!(c.shop.hand_offs(), 1, "hand-offs");
        Ok(())
    }
);

// ------------------------------------------------------------------------------------------------
// Failures and cancels, in both languages

/// Copy per locale: (fail code, title, body).
struct Copy {
    locale: &'static str,
    registration_title: &'static str,
    cancelled_notice: &'static str,
    fails: [(&'static str, &'static str, &'static str); 3],
    generic_fail: &'static str,
    success: &'static str,
    error_code_label: &'static str,
}

const KO: Copy = Copy {
    locale: "ko",
    registration_title: "결제 카드 등록",
    cancelled_notice: "카드 등록을 취소했어요. 언제든 다시 시도할 수 있어요.",
    fails: [
        ("PAY_PROCESS_CANCELED", "카드 등록을 취소했어요", "카드 등록을 취소하셨어요. 언제든 다시 등록할 수 있어요."),
        ("PAY_PROCESS_ABORTED", "카드 등록에 실패했어요", "카드 등록 중 문제가 생겨 진행하지 못했어요. 잠시 후 다시 시도해 주세요."),
        ("REJECT_CARD_COMPANY", "카드 등록에 실패했어요", "카드사에서 카드 정보를 거절했어요. 카드 번호와 유효기간을 확인하거나 다른 카드로 시도해 주세요."),
    ],
    generic_fail: "카드 등록 중 오류가 발생했어요. 문제가 계속되면 아래 오류 코드와 함께 문의해 주세요.",
    success: "구독이 시작되었어요",
    error_code_label: "오류 코드",
};

const EN: Copy = Copy {
    locale: "en",
    registration_title: "Register a payment card",
    cancelled_notice: "Card registration was cancelled. You can try again any time.",
    fails: [
        ("PAY_PROCESS_CANCELED", "Card registration cancelled", "You cancelled the card registration. You can register any time."),
        ("PAY_PROCESS_ABORTED", "Card registration failed", "Something went wrong during the registration. Please try again shortly."),
        ("REJECT_CARD_COMPANY", "Card registration failed", "The card company declined the card. Check the number and expiry date, or try another card."),
    ],
    generic_fail: "An error occurred during card registration. If it keeps happening, contact us with the error code below.",
    success: "Your subscription has started",
    error_code_label: "Error code",
};

/// Every scripted failure of the card window, a cancel, an unknown code and finally a success,
/// in one language; the ko and en pages are also saved for the docs.
async fn failures_round_trip(c: &mut Customer, copy: &Copy) -> Step {
    let docs = |page: &str| format!("{}-{page}", copy.locale);
    c.open_registration().await?;
    c.see(copy.registration_title).await?;
    if copy.locale == "en" {
        c.snapshot_for_docs("registration", &docs("registration"))
            .await?;
    }

    // 취소 in the overlay: back on the registration page, quietly, and the button works again.
    c.click_register().await?;
    c.see_card_window_overlay().await?;
    c.cancel_card_window().await?;
    c.see(copy.cancelled_notice).await?;
    c.wait_until_register_button_works().await?;
    c.snapshot("cancelled").await?;

    for (code, title, body) in copy.fails {
        c.open_registration().await?;
        c.click_register().await?;
        c.see_card_window_overlay().await?;
        c.choose_test_failure(code).await?;
        c.see(title).await?;
        c.see(body).await?;
        if code == "PAY_PROCESS_CANCELED" {
            c.do_not_see(copy.error_code_label).await?;
        } else {
            c.see(&format!("{}: {code}", copy.error_code_label)).await?;
        }
        ensure!(
            !c.address_has("code").await?,
            "the code is still in the address bar"
        );
        ensure!(
            !c.address_has("message").await?,
            "the message is still in the address bar"
        );
        if code == "REJECT_CARD_COMPANY" {
            c.snapshot_for_docs(&format!("fail-{code}"), &docs("fail"))
                .await?;
        } else {
            c.snapshot(&format!("fail-{code}")).await?;
        }
    }

    // A code the page has no copy for: the generic copy, the code, and Toss's words as plain text.
    c.open(
        "/billing/fail?code=NEW_TOSS_CODE&message=%EC%9E%A0%EC%8B%9C+%ED%9B%84+%EB%8B%A4%EC%8B%9C",
    )
    .await?;
    c.see(copy.generic_fail).await?;
    c.see(&format!("{}: NEW_TOSS_CODE", copy.error_code_label))
        .await?;
    c.see("잠시 후 다시").await?;
    c.snapshot("fail-unknown-code").await?;
    ensure_eq!(c.shop.hand_offs(), 0, "hand-offs after failures");

    c.open_registration().await?;
    c.click_register().await?;
    c.see_card_window_overlay().await?;
    c.register_card().await?;
    c.see(copy.success).await?;
    c.see_registered_card(TEST_CARD.0, TEST_CARD.1).await?;
    if copy.locale == "en" {
        c.snapshot_for_docs("success", &docs("success")).await?;
    }
    backend_recorded_one_card(c, TEST_CARD.0, TEST_CARD.1).await
}

story!(
    /// 한국어: each failure and a cancel get their own copy.
    failures_and_cancel_in_korean,
    Visit::default(),
    |c| { failures_round_trip(&mut c, &KO).await }
);

story!(
    /// English (`"locale": "en"` in the page configuration).
    failures_and_cancel_in_english,
    Visit::with_page_config(json!({ "locale": "en" })),
    |c| { failures_round_trip(&mut c, &EN).await }
);

// ------------------------------------------------------------------------------------------------
// Exactly once

story!(
    /// Reload, back/forward and a second tab on the success page never hand the key off again.
    success_page_reload_back_forward_and_second_tab,
    Visit::default(),
    |c| {
        c.open_registration().await?;
        c.click_register().await?;
        c.see_card_window_overlay().await?;
        c.register_card().await?;
        c.see_registered_card(TEST_CARD.0, TEST_CARD.1).await?;
        let redirect = c.shop.success_redirects().pop().ok_or("no success redirect seen")?;

        c.reload().await?;
        c.see_registered_card(TEST_CARD.0, TEST_CARD.1).await?;
        c.see(SUBSCRIBED).await?; // the outcome is kept with the hand-off, not asked again
        c.snapshot("after-reload").await?;
        ensure_eq!(c.shop.hand_offs(), 1, "hand-offs after a reload");

        c.go_back().await?;
        c.wait_until_register_button_works().await?;
        ensure!(!c.address_has("authKey").await?, "going back shows an authKey");
        c.go_forward().await?;
        c.see_registered_card(TEST_CARD.0, TEST_CARD.1).await?;
        ensure!(!c.address_has("authKey").await?, "going forward shows an authKey");
        ensure_eq!(c.shop.hand_offs(), 1, "hand-offs after back/forward");

        // The very redirect, authKey and all, opened in a second tab of the same browser.
        c.open_new_tab(&c.shop.url(&redirect)).await?;
        c.see("이 주소로는 카드를 등록할 수 없어요").await?;
        c.see("이 창에서 시작한 카드 등록이 없어요").await?;
        c.snapshot("second-tab").await?;
        ensure!(!c.address_has("authKey").await?, "the second tab shows the authKey");
        backend_recorded_one_card(&c, TEST_CARD.0, TEST_CARD.1).await
    }
);

// ------------------------------------------------------------------------------------------------
// Tampered redirects

story!(
    /// A genuine redirect, altered: nothing reaches the backend and nothing is injected; the
    /// untouched redirect still works afterwards, and a replay of its state posts nothing.
    tampered_redirects_reach_nothing,
    Visit::default(),
    |c| {
        c.open_registration().await?;
        c.hold_the_next_redirect().await?;
        c.click_register().await?;
        c.see_card_window_overlay().await?;
        c.register_card().await?;
        let genuine = c.kept_redirect().await?;
        let path = genuine.trim_start_matches(&c.shop.origin).to_owned();
        let auth_key = query_value(&path, "authKey").ok_or("no authKey in the redirect")?;

        let mismatch = "카드 등록 정보가 이 창에서 시작한 등록과 일치하지 않아요";
        let malformed = "주소의 카드 등록 정보가 올바르지 않아요";
        let long_key = "A".repeat(301);
        let tampered: [(&str, String, &str); 8] = [
            ("the fail page's parameters too", format!("{path}&code=PAY_PROCESS_CANCELED&message=cancelled"), malformed),
            ("foreign customerKey", with_parameter(&path, "customerKey", Some("someone-else-0001")), mismatch),
            ("missing state", with_parameter(&path, "state", None), malformed),
            ("state of another registration", with_parameter(&path, "state", Some("0123456789abcdef0123456789abcdef")), mismatch),
            ("oversize authKey", with_parameter(&path, "authKey", Some(&long_key)), malformed),
            ("duplicated authKey", format!("{path}&authKey={auth_key}"), malformed),
            ("script in customerKey", with_parameter(&path, "customerKey", Some("%3Cscript%3Ewindow.__pwned%3D1%3C%2Fscript%3E")), malformed),
            ("missing authKey", with_parameter(&path, "authKey", None), malformed),
        ];
        for (what, url, copy) in &tampered {
            c.open(url).await?;
            c.see("이 주소로는 카드를 등록할 수 없어요").await.map_err(|e| support::Failure(format!("{what}: {}", e.0)))?;
            c.see(copy).await.map_err(|e| support::Failure(format!("{what}: {}", e.0)))?;
            ensure!(!c.address_has("authKey").await?, "{what}: the authKey stays in the address bar");
            ensure_eq!(c.shop.hand_offs(), 0, "{what}: hand-offs");
        }
        c.snapshot("tampered-redirect").await?;

        // Every alteration was refused without touching the pending registration: the genuine
        // redirect still registers the card, once.
        c.open(&path).await?;
        c.see_registered_card(TEST_CARD.0, TEST_CARD.1).await?;
        backend_recorded_one_card(&c, TEST_CARD.0, TEST_CARD.1).await?;

        // Its state again, with a fresh authKey minted for the same customer: shown, not posted.
        c.open_registration().await?;
        let fresh = c
            .run("return TossPayments.__sandbox.mintAuthKey(arguments[0]);", vec![json!(query_value(&path, "customerKey"))])
            .await?;
        c.open(&with_parameter(&path, "authKey", fresh.as_str())).await?;
        c.see_registered_card(TEST_CARD.0, TEST_CARD.1).await?;
        ensure_eq!(c.shop.hand_offs(), 1, "hand-offs after replaying the state");

        // Script in the fail page's message: shown as text, never run or parsed as markup.
        let script = "%3Cimg+src%3Dx+onerror%3D%22window.__pwned%3D2%22%3E%3Cscript%3Ewindow.__pwned%3D3%3C%2Fscript%3E";
        c.open(&format!("/billing/fail?code=SOME_NEW_CODE&message={script}")).await?;
        c.see("<img src=x onerror=\"window.__pwned=2\"><script>window.__pwned=3</script>").await?;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let injected = c
            .run("return [typeof window.__pwned, document.querySelectorAll('.tbc img, .tbc script').length];", vec![])
            .await?;
        ensure_eq!(injected, json!(["undefined", 0]), "script from the message ran or became markup");
        ensure!(!c.address_has("message").await?, "the message stays in the address bar");
        c.snapshot("fail-with-script-message").await?;
        // With a known code our own copy replaces Toss's words entirely.
        c.open(&format!("/billing/fail?code=REJECT_CARD_COMPANY&message={script}")).await?;
        c.see(KO.fails[2].2).await?;
        c.do_not_see("onerror").await?;
        Ok(())
    }
);

// ------------------------------------------------------------------------------------------------
// Embedding

story!(
    /// A plain storefront page (examples/embed.html) with only the stable loader script: the
    /// checkout mounts from the page's own script when the customer asks, with its stylesheet,
    /// and opens the card window; the success page then completes the registration.
    a_plain_storefront_page_mounts_the_checkout_from_its_own_script,
    Visit::default(),
    |c| {
        c.open("/examples/embed.html").await?;
        c.click("Subscribe").await?;
        c.see("Register a payment card").await?;
        let styled = c
            .run("return getComputedStyle(document.querySelector('.tbc')).borderRadius;", vec![])
            .await?;
        ensure!(styled != json!("0px"), "the loader added the checkout's stylesheet");
        c.click_register().await?;
        c.see_card_window_overlay().await?;
        c.register_card().await?;
        c.see_registered_card(TEST_CARD.0, TEST_CARD.1).await?;
        backend_recorded_one_card(&c, TEST_CARD.0, TEST_CARD.1).await
    }
);

/// The wasm bundles this document downloaded (resource timing): `checkout`, `return`.
async fn bundles_downloaded(c: &Customer) -> Step<Vec<String>> {
    let names = c
        .run(
            "return performance.getEntriesByType('resource').map((e) => new URL(e.name).pathname)\
               .filter((p) => p.endsWith('_bg.wasm'));",
            vec![],
        )
        .await?;
    let mut bundles: Vec<String> = names
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p.as_str())
        .map(|p| {
            if p.contains("toss-billing-return-") {
                "return"
            } else if p.contains("toss-billing-portal-") {
                "portal"
            } else {
                "checkout"
            }
            .to_owned()
        })
        .collect();
    bundles.dedup();
    Ok(bundles)
}

story!(
    /// Each page downloads one bundle, chosen by the page's own success and fail paths: the
    /// registration page the registration bundle, Toss's redirect targets the return bundle; the
    /// default paths are then ordinary pages of the shop.
    each_page_downloads_only_its_own_bundle_on_configured_paths,
    Visit::with_page_config(json!({ "successPath": "/done?plan=pro", "failPath": "/oops" })),
    |c| {
        c.open_registration().await?;
        ensure_eq!(bundles_downloaded(&c).await?, vec!["checkout"], "the registration page's bundles");
        c.click_register().await?;
        c.see_card_window_overlay().await?;
        c.register_card().await?;
        c.see_registered_card(TEST_CARD.0, TEST_CARD.1).await?;
        ensure!(c.address().await?.contains("/done?plan=pro"), "Toss came back to the configured successPath");
        ensure_eq!(bundles_downloaded(&c).await?, vec!["return"], "the success page's bundles");
        backend_recorded_one_card(&c, TEST_CARD.0, TEST_CARD.1).await?;

        c.open("/oops?code=PAY_PROCESS_CANCELED&message=cancelled").await?;
        c.see("카드 등록을 취소했어요").await?;
        ensure_eq!(bundles_downloaded(&c).await?, vec!["return"], "the fail page's bundles");

        c.open("/billing/success").await?;
        c.wait_until_register_button_works().await?;
        ensure_eq!(bundles_downloaded(&c).await?, vec!["checkout"], "a default path is an ordinary page now");
        Ok(())
    }
);

// ------------------------------------------------------------------------------------------------
// Faults

story!(
    /// The SDK script cannot be fetched: the page says so and offers a retry that works once the
    /// script is reachable again.
    sdk_script_unreachable_then_reachable,
    Visit::default(),
    |c| {
        c.shop.front.inject("GET", "/sandbox/tosspayments-sandbox.js", Fault::Status(503), None);
        c.open("/").await?;
        c.see("결제 모듈을 불러오지 못했어요. 네트워크 연결을 확인한 뒤 다시 시도해 주세요.").await?;
        c.snapshot("sdk-unreachable").await?;
        c.shop.front.heal();
        c.click("다시 시도하기").await?;
        c.wait_until_register_button_works().await?;
        c.click_register().await?;
        c.see_card_window_overlay().await?;
        c.register_card().await?;
        c.see_registered_card(TEST_CARD.0, TEST_CARD.1).await?;
        backend_recorded_one_card(&c, TEST_CARD.0, TEST_CARD.1).await
    }
);

story!(
    /// The SDK is slow: the button says it is loading and is busy, then works.
    slow_sdk_shows_the_loading_button,
    Visit::default(),
    |c| {
        c.shop.front.inject("GET", "/sandbox/tosspayments-sandbox.js", Fault::Delay(Duration::from_secs(5)), None);
        c.open("/").await?;
        c.see("결제 모듈을 불러오는 중…").await?;
        let busy = c
            .run("const b = document.querySelector('.tbc-register > button'); return [b.disabled, b.getAttribute('aria-busy')];", vec![])
            .await?;
        ensure_eq!(busy, json!([true, "true"]), "the loading button (disabled, aria-busy)");
        c.snapshot("sdk-loading").await?;
        c.wait_until_register_button_works().await?;
        c.see("카드 등록하기").await
    }
);

story!(
    /// The backend answers 5xx: the page retries by itself (same key), then shows the card; after
    /// three 5xx it offers "check again", which works once the backend is back.
    backend_5xx_then_ok,
    Visit::default(),
    |c| {
        c.shop.front.inject("POST", "/api/billing/issue", Fault::Status(503), Some(1));
        c.open_registration().await?;
        c.click_register().await?;
        c.see_card_window_overlay().await?;
        c.register_card().await?;
        c.see_registered_card(TEST_CARD.0, TEST_CARD.1).await?;
        let posts = c.shop.front.seen_at("POST", "/api/billing/issue");
        ensure_eq!(
            posts.iter().map(|s| s.outcome.clone()).collect::<Vec<_>>(),
            vec![Outcome::Injected(503), Outcome::Forwarded(200)],
            "the hand-off attempts"
        );
        backend_recorded_one_card(&c, TEST_CARD.0, TEST_CARD.1).await?;

        // Three 5xx in a row: the page stops and keeps the registration for a manual retry.
        c.shop.front.inject("POST", "/api/billing/issue", Fault::Status(503), Some(3));
        c.open_registration().await?;
        c.click_register().await?;
        c.see_card_window_overlay().await?;
        c.register_card().await?;
        c.see("카드 등록을 확인하지 못했어요").await?;
        c.see("카드 등록 결과를 확인하지 못했어요").await?;
        c.snapshot("backend-5xx-unconfirmed").await?;
        ensure!(!c.address_has("authKey").await?, "the authKey is in the address bar");
        ensure_eq!(c.shop.hand_offs(), 1, "hand-offs that reached the backend");
        c.click("다시 확인하기").await?;
        c.see_registered_card(TEST_CARD.0, TEST_CARD.1).await?;
        ensure_eq!(c.shop.hand_offs(), 2, "hand-offs: one per registration");
        ensure_eq!(c.shop.stored_cards().await?.len(), 2, "cards stored");
        Ok(())
    }
);

story!(
    /// The merchant's backend refuses the hand-off with a code our copy does not know: the page
    /// shows the merchant's own words (as text, never markup) and the code, and nothing else is sent.
    a_merchant_refusal_shows_the_merchants_words,
    Visit::default(),
    |c| {
        c.shop.front.inject(
            "POST",
            "/api/billing/issue",
            Fault::Body(403, r#"{"code":"MEMBERSHIP_REQUIRED","message":"<b>회원</b>만 구독할 수 있어요. 먼저 로그인해 주세요."}"#),
            Some(1),
        );
        c.open_registration().await?;
        c.click_register().await?;
        c.see_card_window_overlay().await?;
        c.register_card().await?;
        c.see("카드를 등록하지 못했어요").await?;
        c.see("<b>회원</b>만 구독할 수 있어요. 먼저 로그인해 주세요.").await?;
        c.see("오류 코드: MEMBERSHIP_REQUIRED").await?;
        c.snapshot("merchant-refusal").await?;
        let posts = c.shop.front.seen_at("POST", "/api/billing/issue");
        ensure_eq!(
            posts.iter().map(|s| s.outcome.clone()).collect::<Vec<_>>(),
            vec![Outcome::Injected(403)],
            "a refusal is final: asked once"
        );
        Ok(())
    }
);

story!(
    /// The backend is unreachable (its connections drop): the registration page says so and retries
    /// on request; a hand-off that cannot get through is kept and sent once it is back.
    backend_down,
    Visit::default(),
    |c| {
        c.shop.front.inject("GET", "/api/", Fault::Drop, None);
        c.open("/").await?;
        c.see("고객 정보를 불러오지 못했어요. 잠시 후 다시 시도해 주세요.").await?;
        c.snapshot("customer-unreachable").await?;
        c.shop.front.heal();
        c.click("다시 시도하기").await?;
        c.wait_until_register_button_works().await?;

        c.click_register().await?;
        c.see_card_window_overlay().await?;
        c.shop.front.inject("POST", "/api/", Fault::Drop, None);
        c.register_card().await?;
        c.see("카드 등록 결과를 확인하지 못했어요").await?;
        c.snapshot("backend-down-unconfirmed").await?;
        ensure_eq!(c.shop.hand_offs(), 0, "hand-offs while the backend is down");
        c.shop.front.heal();
        c.click("다시 확인하기").await?;
        c.see_registered_card(TEST_CARD.0, TEST_CARD.1).await?;
        backend_recorded_one_card(&c, TEST_CARD.0, TEST_CARD.1).await
    }
);

story!(
    /// A slow backend: the success page shows that it is confirming (busy), then the card.
    slow_backend_shows_the_busy_state,
    Visit::default(),
    |c| {
        c.shop.front.inject("POST", "/api/billing/issue", Fault::Delay(Duration::from_secs(6)), None);
        c.open_registration().await?;
        c.click_register().await?;
        c.see_card_window_overlay().await?;
        c.register_card().await?;
        c.see("카드 등록을 확인하고 있어요…").await?;
        let busy = c
            .run("const h = document.querySelector('#tbc-success-title'); return h && h.getAttribute('aria-busy');", vec![])
            .await?;
        ensure_eq!(busy, json!("true"), "the confirming title is aria-busy");
        c.snapshot("confirming").await?;
        c.see_registered_card(TEST_CARD.0, TEST_CARD.1).await?;
        backend_recorded_one_card(&c, TEST_CARD.0, TEST_CARD.1).await
    }
);

story!(
    /// Toss misbehaves behind the backend: 5xx that heal on retry, a refusal forced on the
    /// simulator, and the simulator's test cards typed into the card window.
    toss_errors_reach_the_customer_as_our_copy,
    Visit { shop: ShopSetup { toss_timeout: Duration::from_secs(2), ..ShopSetup::default() }, ..Visit::default() },
    |c| {
        // Three Toss 5xx: the backend keeps the exchange pending and tries again by itself; the
        // page's one request gets the card.
        c.shop.toss_rule(json!({"api": "issue", "status": 500, "times": 3}))?;
        c.open_registration().await?;
        c.click_register().await?;
        c.see_card_window_overlay().await?;
        c.register_card().await?;
        c.see_registered_card(TEST_CARD.0, TEST_CARD.1).await?;
        let posts = c.shop.front.seen_at("POST", "/api/billing/issue");
        ensure_eq!(
            posts.iter().map(|s| s.outcome.clone()).collect::<Vec<_>>(),
            vec![Outcome::Forwarded(200)],
            "the hand-off attempts"
        );
        ensure_eq!(c.shop.stored_cards().await?.len(), 1, "cards stored");

        // Toss refuses (forced on the simulator): our copy and the code, nothing stored.
        let cases: [(&str, Option<&str>, &str); 4] = [
            ("REJECT_CARD_COMPANY", None, "카드사에서 등록을 거절했어요. 다른 카드로 등록하거나 카드사에 문의해 주세요."),
            ("INVALID_STOPPED_CARD", Some("4330-1234-1234-4001"), "사용이 정지된 카드예요. 다른 카드로 등록해 주세요."),
            ("INVALID_CARD_NUMBER", Some("4330-1234-1234-4003"), "카드 번호가 올바르지 않아요. 확인한 뒤 다시 등록해 주세요."),
            ("EXCEED_MAX_AUTH_COUNT", Some("4330-1234-1234-4004"), "카드 인증 횟수를 초과했어요. 잠시 후 다시 시도해 주세요."),
        ];
        for (code, card, copy) in cases {
            if card.is_none() {
                c.shop.toss_rule(json!({"api": "issue", "code": code, "times": 1}))?;
            }
            c.open_registration().await?;
            c.click_register().await?;
            c.see_card_window_overlay().await?;
            if let Some(number) = card {
                c.type_card_number(number).await?;
            }
            c.register_card().await?;
            c.see("카드를 등록하지 못했어요").await?;
            c.see(copy).await?;
            c.see(&format!("오류 코드: {code}")).await?;
            c.snapshot(&format!("toss-{code}")).await?;
        }
        ensure_eq!(c.shop.stored_cards().await?.len(), 1, "cards stored after refusals");

        // A 7xxx card registers as a debit (체크) card.
        c.open_registration().await?;
        c.click_register().await?;
        c.see_card_window_overlay().await?;
        c.type_card_number("4330-1234-1234-7001").await?;
        c.register_card().await?;
        c.see_registered_card("현대", "433012******700*").await?;
        c.see("체크").await?;
        ensure_eq!(c.shop.stored_cards().await?.len(), 2, "cards stored");
        Ok(())
    }
);

// ------------------------------------------------------------------------------------------------
// Subscriptions

story!(
    /// The demo end to end: a card registered on the storefront starts the plan's subscription and
    /// its first charge; the operator page shows it; moving the clock to the next charge date
    /// charges the second month, once.
    a_registration_subscribes_and_the_operator_sees_each_month_charged,
    Visit::default(),
    |c| {
        c.open_registration().await?;
        c.click_register().await?;
        c.see_card_window_overlay().await?;
        c.register_card().await?;
        c.see(SUBSCRIBED).await?;
        c.open("/operator").await?;
        c.see("Operator token").await?;
        c.see("demo-operator-token-not-a-secret").await?;
        c.run(
            "document.querySelector('#token').value = arguments[0]; document.querySelector('#token-form').requestSubmit();",
            vec![json!(billing_server::settings::DEMO_OPERATOR_TOKEN)],
        )
        .await?;
        c.see("프리미엄 플랜 · 9,900원").await?;
        c.see("ACTIVE").await?;
        c.click("Open").await?;
        let done_rows = "return [...document.querySelectorAll('#attempts tbody tr')].filter((r) => r.textContent.includes('DONE')).length;";
        c.wait_until("the first charge, DONE", &done_rows.replace("return ", "return 1 <= ")).await?;
        // What the customer's account page says, next to the operator's view of it.
        c.see("What the customer sees").await?;
        let told = c.run("return document.querySelector('#customer-view').textContent;", vec![]).await?;
        let told = told.as_str().unwrap_or_default();
        ensure!(told.contains("Next charge") && told.contains("· 9,900원") && told.contains("Pending changenone"), "the customer's facts: {told}");
        c.snapshot_of_our_own_page("operator-first-charge").await?;
        c.click("Move to the next charge").await?;
        c.wait_until("the second month's charge, DONE", &done_rows.replace("return ", "return 2 <= ")).await?;
        c.see("invoice.paid").await?;
        c.snapshot_of_our_own_page("operator-second-charge").await?;
        let charged = c.shop.sim.calls_to("charge").await?.iter().filter(|call| call.outcome == "processed").count();
        ensure_eq!(charged, 2, "charges at Toss");
        Ok(())
    }
);

// ------------------------------------------------------------------------------------------------
// The customer's side: the success page tells the truth, the account page (/account) does the rest

/// Registers the test card on the registration page and waits for the success page's `title`.
async fn register_the_test_card(c: &Customer, title: &str) -> Step {
    c.open_registration().await?;
    c.click_register().await?;
    c.see_card_window_overlay().await?;
    c.register_card().await?;
    c.see(title).await
}

/// The operator announces premium-monthly at 12,900원, effective 40 days from the test clock's now
/// (past the law's 30-day notice, so the change is told at once and asked about later).
async fn announce_premium_rise_to_12_900_in_40_days(c: &Customer) -> Step {
    let (_, clock) = c.shop.admin("GET", "/api/admin/clock", None).await?;
    let now_ms = clock["nowMs"].as_i64().ok_or("no clock")?;
    let effective = c
        .run(
            "return new Date(arguments[0]).toISOString();",
            vec![json!(now_ms + 40 * 86_400_000)],
        )
        .await?;
    let (status, body) = c
        .shop
        .admin(
            "PATCH",
            "/api/admin/plans/premium-monthly",
            Some(json!({"amount": 12_900, "effectiveAt": effective})),
        )
        .await?;
    ensure_eq!(status, 200, "announcing the rise: {body}");
    Ok(())
}

/// A JSON answer of the customer API, fetched by the page (the visitor's cookie).
async fn customer_api(c: &Customer, path: &str) -> Step<serde_json::Value> {
    c.run(
        "return fetch(arguments[0], {headers: {accept: 'application/json'}}).then((r) => r.json());",
        vec![json!(path)],
    )
    .await
}

/// `n` as the page writes won: digits grouped by three.
fn won(n: i64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(d);
    }
    out
}

/// Opens the account page until it shows `text` (the page loads once: the backend's clock may
/// move meanwhile, so each try is a fresh load).
async fn account_shows(c: &Customer, text: &str) -> Step {
    for _ in 0..20 {
        c.open("/account").await?;
        c.wait_until(
            "the portal",
            "return !!document.querySelector('.tbc-portal');",
        )
        .await?;
        c.wait_until(
            "the portal loaded",
            "return !document.querySelector('.tbc-portal [aria-busy=\"true\"]');",
        )
        .await?;
        if c.see_within(text, Duration::from_millis(1_500))
            .await
            .is_ok()
        {
            return Ok(());
        }
    }
    Err(format!("the account page never showed {text:?}").into())
}

story!(
    /// On the basic plan: the success page says what was paid; the account page shows the plan;
    /// a new card through Toss's window becomes the subscription's card; an upgrade charges the
    /// prorated difference the preview showed, once.
    a_subscriber_changes_card_and_upgrades_from_the_account_page,
    Visit::with_page_config(json!({ "planId": "basic-monthly" })),
    |c| {
        register_the_test_card(&c, SUBSCRIBED).await?;
        c.see("첫 결제 4,900원이 완료되었어요.").await?;
        c.see("베이직 플랜").await?;
        c.snapshot_for_docs("success-subscribed", "ko-success-subscribed").await?;

        // The account page's four GETs are preloaded with the page; the portal uses those answers,
        // so each is asked once.
        const PORTAL_GETS: [&str; 4] = [
            "/api/subscription",
            "/api/subscription/charges",
            "/api/plans",
            "/api/subscription/cancel/preview",
        ];
        let asked = || PORTAL_GETS.map(|path| c.shop.front.seen_at("GET", path).len());
        let before = asked();
        c.open("/account").await?;
        c.see("구독 관리").await?;
        c.see("이용 중").await?;
        c.see("4,900원 매월").await?;
        c.see(TEST_CARD.1).await?;
        c.see("일반해지").await?;
        let after = asked();
        ensure_eq!(
            std::array::from_fn::<usize, 4, _>(|i| after[i] - before[i]),
            [1, 1, 1, 1],
            "each GET once (the preloads used) for {PORTAL_GETS:?}"
        );
        c.snapshot_for_docs("portal", "ko-portal").await?;

        // Change card: Toss's window, another card, and the success page says what it did.
        c.click("카드 변경").await?;
        c.see_card_window_overlay().await?;
        c.type_card_number("5570 4200 1111 9876").await?;
        c.register_card().await?;
        c.see("결제 카드가 바뀌었어요").await?;
        c.see("다음 결제부터 이 카드로 결제돼요.").await?;
        c.open("/account").await?;
        c.see("557042******987*").await?;
        c.do_not_see(TEST_CARD.1).await?;

        // Upgrade: the preview's amount is what the customer confirms and what is charged.
        let preview = customer_api(&c, "/api/subscription/switch?plan=premium-monthly").await?;
        let charge = preview["preview"]["chargeNow"].as_i64().ok_or(format!("no preview: {preview}"))?;
        ensure!(charge > 0 && charge <= 5_000, "an upgrade charges at most the difference for the days left: {preview}");
        c.run(
            "[...document.querySelectorAll('.tbc-list li')].find((li) => li.textContent.startsWith('프리미엄 플랜 ·')).querySelector('button').click();",
            vec![],
        )
        .await?;
        c.see(&format!("지금 결제 {}원", won(charge))).await?;
        c.snapshot("portal-switch-confirm").await?;
        // The card declines the upgrade's charge once: our words, not the server's, and no switch.
        c.shop.toss_rule(json!({"api": "charge", "code": "REJECT_CARD_PAYMENT", "times": 1}))?;
        c.click("확인").await?;
        c.see("카드사에서 결제를 거절해 플랜이 바뀌지 않았어요. 카드를 바꾼 뒤 다시 시도해 주세요.").await?;
        c.do_not_see("the card declined").await?;
        c.see("4,900원 매월").await?;
        ensure_eq!(c.shop.paid_amounts().await?, vec![4_900], "nothing more charged");
        // Asked again, it goes through.
        c.click("확인").await?;
        c.see("처리했어요.").await?;
        c.see("9,900원 매월").await?;
        ensure_eq!(c.shop.paid_amounts().await?, vec![4_900, charge], "charges approved");
        c.snapshot("portal-upgraded").await?;
        Ok(())
    }
);

story!(
    /// The customer's side in English: the success page, the account page with both ways to
    /// cancel, and a price rise asked and declined.
    the_account_page_in_english,
    Visit::with_page_config(json!({ "locale": "en" })),
    |c| {
        register_the_test_card(&c, EN.success).await?;
        c.see("9,900").await?;
        c.snapshot_for_docs("success-subscribed-en", "en-success-subscribed").await?;
        c.open("/account").await?;
        c.see("Your subscription").await?;
        c.see("Active").await?;
        c.see("Cancel at the period's end").await?;
        c.see("No refund").await?;
        c.snapshot_for_docs("portal-en", "en-portal").await?;

        announce_premium_rise_to_12_900_in_40_days(&c).await?;
        c.shop.move_clock_days(33).await?;
        account_shows(&c, "May we charge you on these terms?").await?;
        c.see("New price").await?;
        c.see("How to cancel").await?;
        // The server's own words about cancelling and declining, in English too.
        c.see("You can cancel at any time on your subscription page.").await?;
        c.see("If you do not agree, you keep the current price until").await?;
        c.do_not_see("동의하지 않으면").await?;
        c.snapshot_for_docs("portal-price-rise-en", "en-portal-price-rise").await?;
        c.click("Decline").await?;
        c.see("You declined.").await?;
        ensure_eq!(c.shop.paid_amounts().await?, vec![9_900, 9_900], "charges approved");
        let sub = c.shop.the_subscription().await?;
        ensure_eq!(sub["consents"][0]["textVersion"], json!("portal-2026-12-08-en"), "the answer records the English text it was given");
        Ok(())
    }
);

story!(
    /// A plain page with only `<toss-billing-portal>`: the portal mounts from its attributes, and
    /// a scheduled cancellation and its undo reach the page as bubbling, composed events.
    the_portal_element_mounts_from_attributes_and_fires_its_events,
    Visit::default(),
    |c| {
        register_the_test_card(&c, SUBSCRIBED).await?;
        c.open("/host/portal-element.html").await?;
        c.see("Your subscription").await?;
        c.see("Cancel at the period's end").await?;
        c.snapshot_for_docs("element-portal", "element-portal").await?;
        let bundles = bundles_downloaded(&c).await?;
        ensure_eq!(bundles, vec!["portal".to_owned()], "the element page downloads the portal's bundle only");
        c.run(
            "[...document.querySelectorAll('.tbc-option')][0].querySelector('button').click();",
            vec![],
        )
        .await?;
        c.click("Confirm").await?;
        c.see("Keep my subscription").await?;
        c.see_within("toss-billing-portal:cancel-scheduled bubbles=true composed=true", Duration::from_secs(5)).await?;
        c.click("Keep my subscription").await?;
        c.see_within("toss-billing-portal:cancel-undone bubbles=true composed=true", Duration::from_secs(5)).await?;
        c.see("Cancel at the period's end").await?;
        let sub = c.shop.the_subscription().await?;
        ensure_eq!(sub["subscription"]["cancelAtPeriodEnd"], json!(false), "the cancellation undone");
        Ok(())
    }
);

story!(
    /// A price rise: asked nothing before the 30-day window, then 동의/거부 with the four items;
    /// 거부 ends the subscription on the day before the new price, which is never charged.
    a_price_rise_declined_on_the_account_page_ends_the_subscription,
    Visit::default(),
    |c| {
        register_the_test_card(&c, SUBSCRIBED).await?;
        announce_premium_rise_to_12_900_in_40_days(&c).await?;

        // Announced, not yet answerable: told, not asked.
        c.open("/account").await?;
        c.see("변경 안내").await?;
        c.see("12,900원").await?;
        c.see("이 변경은 동의 기간이 되면 다시 안내해 드려요.").await?;
        c.do_not_see("동의하지 않으면 결제되지 않아요").await?;

        // A month on: renewed at the old price, and now asked.
        c.shop.move_clock_days(33).await?;
        account_shows(&c, "아래 내용으로 결제해도 될까요?").await?;
        c.see("현재 가격").await?;
        c.see("변경 후 가격").await?;
        c.see("결제 수단").await?;
        c.snapshot_for_docs("portal-price-rise", "ko-portal-price-rise").await?;
        c.click("거부").await?;
        c.see("거부하셨어요.").await?;
        c.see("이용 종료일").await?;

        // The new price's date: the subscription has ended; 12,900 was never charged.
        c.shop.move_clock_days(40).await?;
        account_shows(&c, "해지됨").await?;
        ensure_eq!(c.shop.paid_amounts().await?, vec![9_900, 9_900], "charges approved");
        let sub = c.shop.the_subscription().await?;
        ensure_eq!(sub["subscription"]["endedReason"], json!("price_increase_not_accepted"), "why it ended");
        ensure_eq!(sub["consents"].as_array().map(Vec::len), Some(1), "the decline is kept");
        Ok(())
    }
);

story!(
    /// 중도해지 on day ten refunds the unused days, shown before and after; then the customer
    /// subscribes again and withdraws (청약철회) two days later: the whole charge comes back.
    cancelling_now_refunds_the_unused_days_and_withdrawing_refunds_all,
    Visit::default(),
    |c| {
        register_the_test_card(&c, SUBSCRIBED).await?;
        c.shop.move_clock_days(9).await?;
        c.open("/account").await?;
        c.see("구독 해지").await?;
        // Both kinds of cancellation, side by side, each with its amount (§11).
        c.see("일반해지").await?;
        c.see("환불 없음").await?;
        let preview = customer_api(&c, "/api/subscription/cancel/preview").await?;
        let refund = preview["options"]["now"]["refund"].as_i64().ok_or(format!("no 중도해지: {preview}"))?;
        ensure!(refund > 0 && refund < 9_900, "a part refunded: {preview}");
        c.see(&format!("{}원 환불", won(refund))).await?;
        let side_by_side = c
            .run("const o = [...document.querySelectorAll('.tbc-option')].map((e) => e.getBoundingClientRect()); return o.length === 2 && Math.abs(o[0].top - o[1].top) < 2 && Math.abs(o[0].width - o[1].width) < 2;", vec![])
            .await?;
        ensure_eq!(side_by_side, json!(true), "일반해지 and 중도해지 side by side, the same size");
        c.run("document.querySelector('.tbc-options').scrollIntoView({ block: 'center' });", vec![]).await?;
        c.snapshot_for_docs("portal-cancel", "ko-portal-cancel").await?;
        c.click("중도해지").await?;
        c.wait_until("the confirmation", "return document.querySelector('.tbc-confirm');").await?;
        c.click("확인").await?;
        c.see("처리했어요.").await?;
        account_shows(&c, &format!("환불 {}원", won(refund))).await?;
        c.see("해지됨").await?;
        ensure_eq!(c.shop.sim.calls_to("cancel").await?.iter().filter(|call| call.outcome == "processed").count(), 1, "refunds at Toss");

        // Again, then 청약철회 within the withdrawal period: everything back.
        register_the_test_card(&c, SUBSCRIBED).await?;
        c.shop.move_clock_days(2).await?;
        c.open("/account").await?;
        c.see("청약철회").await?;
        c.click("청약철회").await?;
        c.wait_until("the confirmation", "return document.querySelector('.tbc-confirm');").await?;
        c.see("전액 환불").await?;
        c.click("확인").await?;
        c.see("처리했어요.").await?;
        account_shows(&c, "환불 9,900원").await?;
        c.see("해지됨").await?;
        ensure_eq!(c.shop.sim.calls_to("cancel").await?.iter().filter(|call| call.outcome == "processed").count(), 2, "refunds at Toss");

        // Nothing is live any more: the card can go, in one confirmation; Toss deletes it.
        c.click("카드 삭제").await?;
        c.wait_until("the confirmation", "return document.querySelector('.tbc-confirm');").await?;
        c.click("확인").await?;
        c.see("처리했어요.").await?;
        c.see("등록된 카드가 없어요").await?;
        ensure_eq!(customer_api(&c, "/api/customer/card").await?, json!({"card": null}), "no card on file");
        let minted = c.shop.sim.minted_billing_keys().await?.len();
        ensure_eq!(c.shop.sim.calls_to("delete").await?.iter().filter(|call| call.outcome == "processed").count(), minted, "each of the customer's billing keys deleted at Toss");
        Ok(())
    }
);

story!(
    /// The first charge is declined: the success page says so (nothing charged, no "you will be
    /// charged"), and offers the registration again; the next card starts the subscription.
    a_declined_first_charge_is_told_and_another_card_starts_the_subscription,
    Visit::default(),
    |c| {
        c.shop.toss_rule(json!({"api": "charge", "code": "REJECT_CARD_PAYMENT", "times": 1}))?;
        register_the_test_card(&c, "카드는 등록됐지만 첫 결제가 되지 않았어요").await?;
        c.see("구독은 시작되지 않았고, 결제된 금액은 없어요.").await?;
        c.do_not_see("자동 결제돼요").await?;
        c.do_not_see(SUBSCRIBED).await?;
        c.snapshot_for_docs("success-declined", "ko-success-declined").await?;
        c.click("다시 시도하기").await?;
        c.see("결제 카드 등록").await?;
        c.click_register().await?;
        c.see_card_window_overlay().await?;
        c.type_card_number("5570 4200 1111 9876").await?;
        c.register_card().await?;
        c.see(SUBSCRIBED).await?;
        c.see("첫 결제 9,900원이 완료되었어요.").await?;
        ensure_eq!(c.shop.paid_amounts().await?, vec![9_900], "charges approved");
        c.open("/account").await?;
        c.see("이용 중").await?;
        Ok(())
    }
);

story!(
    /// A card registered without a plan: the account page has no subscription to show, yet it
    /// shows the card and removes it in one confirmation; Toss is asked to delete it.
    a_card_registered_without_a_plan_is_removed_from_the_account_page,
    Visit::with_page_config(json!({ "planId": null, "customerKeyUrl": "/api/customer" })),
    |c| {
        register_the_test_card(&c, "카드가 등록되었어요").await?;
        c.open("/account").await?;
        c.see("구독 중인 플랜이 없어요.").await?;
        c.see(TEST_CARD.1).await?;
        c.snapshot_for_docs("portal-card-only", "ko-portal-card-only").await?;
        c.click("카드 삭제").await?;
        c.wait_until("the confirmation", "return document.querySelector('.tbc-confirm');").await?;
        c.click("확인").await?;
        c.see("처리했어요.").await?;
        c.wait_until("the card gone", "return !document.querySelector('.tbc-card-number');").await?;
        ensure_eq!(c.shop.sim.calls_to("delete").await?.iter().filter(|call| call.outcome == "processed").count(), 1, "deleted at Toss");
        c.open("/account").await?;
        c.see("구독 중인 플랜이 없어요.").await?;
        c.do_not_see(TEST_CARD.1).await?;
        c.do_not_see("카드 삭제").await?;
        Ok(())
    }
);

// ------------------------------------------------------------------------------------------------
// The harness

/// Every story, run in every browser.
const STORIES: &[(&str, StoryFn)] = &[
    (
        "happy_path_in_the_overlay_window",
        happy_path_in_the_overlay_window,
    ),
    (
        "happy_path_with_the_keyboard_only",
        happy_path_with_the_keyboard_only,
    ),
    (
        "happy_path_in_the_full_page_window",
        happy_path_in_the_full_page_window,
    ),
    ("happy_path_on_a_phone", happy_path_on_a_phone),
    (
        "failures_and_cancel_in_korean",
        failures_and_cancel_in_korean,
    ),
    (
        "failures_and_cancel_in_english",
        failures_and_cancel_in_english,
    ),
    (
        "success_page_reload_back_forward_and_second_tab",
        success_page_reload_back_forward_and_second_tab,
    ),
    (
        "tampered_redirects_reach_nothing",
        tampered_redirects_reach_nothing,
    ),
    (
        "a_plain_storefront_page_mounts_the_checkout_from_its_own_script",
        a_plain_storefront_page_mounts_the_checkout_from_its_own_script,
    ),
    (
        "each_page_downloads_only_its_own_bundle_on_configured_paths",
        each_page_downloads_only_its_own_bundle_on_configured_paths,
    ),
    (
        "sdk_script_unreachable_then_reachable",
        sdk_script_unreachable_then_reachable,
    ),
    (
        "slow_sdk_shows_the_loading_button",
        slow_sdk_shows_the_loading_button,
    ),
    ("backend_5xx_then_ok", backend_5xx_then_ok),
    ("backend_down", backend_down),
    (
        "a_merchant_refusal_shows_the_merchants_words",
        a_merchant_refusal_shows_the_merchants_words,
    ),
    (
        "slow_backend_shows_the_busy_state",
        slow_backend_shows_the_busy_state,
    ),
    (
        "toss_errors_reach_the_customer_as_our_copy",
        toss_errors_reach_the_customer_as_our_copy,
    ),
    (
        "a_registration_subscribes_and_the_operator_sees_each_month_charged",
        a_registration_subscribes_and_the_operator_sees_each_month_charged,
    ),
    (
        "ssr_storefront_registers_a_card_and_the_success_page_survives_a_reload",
        ssr_storefront_registers_a_card_and_the_success_page_survives_a_reload,
    ),
    ("ssr_storefront_fail_page", ssr_storefront_fail_page),
    (
        "the_dev_loop_serves_every_page_and_the_flow_completes",
        the_dev_loop_serves_every_page_and_the_flow_completes,
    ),
    (
        "a_plain_host_page_hears_the_checkouts_events",
        a_plain_host_page_hears_the_checkouts_events,
    ),
    (
        "the_checkout_element_mounts_from_attributes_and_fires_its_events",
        the_checkout_element_mounts_from_attributes_and_fires_its_events,
    ),
    (
        "a_subscriber_changes_card_and_upgrades_from_the_account_page",
        a_subscriber_changes_card_and_upgrades_from_the_account_page,
    ),
    ("the_account_page_in_english", the_account_page_in_english),
    (
        "the_portal_element_mounts_from_attributes_and_fires_its_events",
        the_portal_element_mounts_from_attributes_and_fires_its_events,
    ),
    (
        "a_price_rise_declined_on_the_account_page_ends_the_subscription",
        a_price_rise_declined_on_the_account_page_ends_the_subscription,
    ),
    (
        "cancelling_now_refunds_the_unused_days_and_withdrawing_refunds_all",
        cancelling_now_refunds_the_unused_days_and_withdrawing_refunds_all,
    ),
    (
        "a_declined_first_charge_is_told_and_another_card_starts_the_subscription",
        a_declined_first_charge_is_told_and_another_card_starts_the_subscription,
    ),
    (
        "a_card_registered_without_a_plan_is_removed_from_the_account_page",
        a_card_registered_without_a_plan_is_removed_from_the_account_page,
    ),
];

fn main() {
    let args = libtest_mimic::Arguments::from_args();
    let skipped: Vec<String> = std::env::var("SKIP_BROWSERS")
        .or_else(|_| std::env::var("E2E_SKIP_BROWSERS"))
        .unwrap_or_default()
        .split(',')
        .map(|b| b.trim().to_ascii_lowercase())
        .filter(|b| !b.is_empty())
        .collect();
    let mut trials = Vec::new();
    for browser in [Browser::Chromium, Browser::Firefox] {
        let skip = skipped.iter().any(|b| b == browser.name());
        let missing = support::browser::Driver::locate(browser).is_none();
        for (name, story) in STORIES {
            let story = *story;
            let trial = libtest_mimic::Trial::test(
                format!("{}::{name}", browser.name()),
                move || {
                    if missing {
                        return Err(format!(
                        "no {} driver here: scripts/bootstrap.sh installs chromium + chromium-driver and \
                         firefox-esr + geckodriver (or set CHROMEDRIVER / GECKODRIVER); \
                         SKIP_BROWSERS={} skips these stories",
                        browser.name(),
                        browser.name()
                    )
                    .into());
                    }
                    let runtime = tokio::runtime::Builder::new_multi_thread()
                        .worker_threads(2)
                        .enable_all()
                        .build()
                        .expect("a runtime");
                    runtime.block_on(story(browser));
                    Ok(())
                },
            );
            trials.push(trial.with_ignored_flag(skip));
        }
    }
    libtest_mimic::run(&args, trials).exit();
}

// ------------------------------------------------------------------------------------------------
// A Leptos SSR + hydrate storefront (examples/ssr)

/// A visit to the SSR example storefront.
fn ssr_visit() -> Visit {
    let mut visit = Visit::default();
    visit.shop.ssr_example = true;
    visit
}

story!(
    /// A Leptos app rendered on the server: the first HTML already holds the busy button and the
    /// plan; once hydrated, a card registers through the sandbox and billing-server, and the
    /// success page still shows it after a reload (nothing posted twice).
    ssr_storefront_registers_a_card_and_the_success_page_survives_a_reload,
    ssr_visit(),
    |c| {
        let html = reqwest::get(c.shop.url("/")).await?.text().await?;
        ensure!(html.contains("결제 모듈을 불러오는 중…") && html.contains(r#"aria-busy="true""#), "the server renders the busy button");
        ensure!(html.contains("9,900원") && html.contains("매월"), "the server renders the plan summary");
        c.open_registration().await?;
        c.see("프리미엄 플랜").await?;
        c.snapshot_for_docs("ssr-registration", "ssr-registration").await?;
        c.click_register().await?;
        c.see_card_window_overlay().await?;
        c.register_card().await?;
        c.see("카드가 등록되었어요").await?;
        c.see_registered_card(TEST_CARD.0, TEST_CARD.1).await?;
        c.snapshot("ssr-success").await?;
        ensure!(!c.address_has("authKey").await?, "the authKey is in the address bar");
        ensure_eq!(c.shop.hand_offs(), 1, "hand-offs that reached the backend");
        c.reload().await?;
        c.see_registered_card(TEST_CARD.0, TEST_CARD.1).await?;
        ensure_eq!(c.shop.hand_offs(), 1, "hand-offs after the reload");
        ensure_eq!(c.shop.stored_cards().await?.len(), 1, "cards stored");

        // The account page: the server renders the portal's first state, hydration loads it.
        let html = reqwest::get(c.shop.url("/account")).await?.text().await?;
        ensure!(html.contains("구독 관리") && html.contains("구독 정보를 불러오는 중…"), "the server renders the portal");
        c.open("/account").await?;
        c.see("구독 중인 플랜이 없어요.").await?;
        c.snapshot_for_docs("ssr-account", "ssr-portal").await?;
        Ok(())
    }
);

story!(
    /// The SSR storefront's fail page: Toss's failure comes back as our copy, rendered after
    /// hydration.
    ssr_storefront_fail_page,
    ssr_visit(),
    |c| {
        c.open_registration().await?;
        c.click_register().await?;
        c.see_card_window_overlay().await?;
        c.choose_test_failure("REJECT_CARD_COMPANY").await?;
        c.see(KO.fails[2].1).await?;
        c.see(KO.fails[2].2).await?;
        c.snapshot("ssr-fail").await?;
        ensure_eq!(c.shop.hand_offs(), 0, "hand-offs");
        Ok(())
    }
);

// ------------------------------------------------------------------------------------------------
// The dev loop (`trunk serve`, scripts/dev.sh)

story!(
    /// `trunk serve` is a working dev loop: the registration page gets its customer through the
    /// proxy, and a card registers; the fail address shows the fail page, not the registration
    /// bundle's error.
    the_dev_loop_serves_every_page_and_the_flow_completes,
    {
        let mut visit = Visit::default();
        visit.shop.dev_loop = true;
        visit
    },
    |c| {
        c.open_registration().await?;
        c.click_register().await?;
        c.see_card_window_overlay().await?;
        c.register_card().await?;
        c.see("카드가 등록되었어요").await?;
        c.see_registered_card(TEST_CARD.0, TEST_CARD.1).await?;
        ensure_eq!(c.shop.hand_offs(), 1, "hand-offs through the dev server's proxy");
        c.open("/billing/fail?code=PAY_PROCESS_ABORTED&message=x").await?;
        c.see(KO.fails[1].1).await?;
        c.do_not_see("상점의 결제 설정에 문제가 있어").await?;
        Ok(())
    }
);

// ------------------------------------------------------------------------------------------------
// Host pages hear the outcome (events), through mount() and through the element

/// The events the host page heard (e2e/fixtures/host/host.js writes each one down).
async fn events_heard(c: &Customer) -> Step<String> {
    Ok(c.run(
        "return document.getElementById('events').innerText;",
        vec![],
    )
    .await?
    .as_str()
    .unwrap_or_default()
    .to_owned())
}

/// Registers a card, then cancels one, then fails one, on a host page (`page` and its -ok/-no
/// copies), checking the event each time.
async fn a_host_page_hears_every_outcome(c: &mut Customer, page: &str, docs: &str) -> Step {
    c.open(page).await?;
    c.wait_until_register_button_works().await?;
    c.snapshot_for_docs("host-registration", docs).await?;
    c.click_register().await?;
    c.see_card_window_overlay().await?;
    c.register_card().await?;
    c.see("Your card is registered").await?;
    c.see("toss-billing-checkout:registered bubbles=true composed=true")
        .await?;
    let heard = events_heard(c).await?;
    ensure!(
        heard.contains(r#""company":"현대""#) && heard.contains(r#""number":"433012******123*""#),
        "the registered event's card: {heard}"
    );
    c.open(page).await?;
    c.click_register().await?;
    c.see_card_window_overlay().await?;
    c.cancel_card_window().await?;
    c.see("toss-billing-checkout:cancelled bubbles=true composed=true")
        .await?;
    c.open(page).await?;
    c.click_register().await?;
    c.see_card_window_overlay().await?;
    c.choose_test_failure("REJECT_CARD_COMPANY").await?;
    c.see(
        r#"toss-billing-checkout:failed bubbles=true composed=true {"code":"REJECT_CARD_COMPANY"}"#,
    )
    .await?;
    ensure_eq!(c.shop.hand_offs(), 1, "hand-offs");
    Ok(())
}

story!(
    /// A plain HTML page that mounts the checkout from its own script hears registered, cancelled
    /// and failed as DOM events on its element (bubbling to document, composed).
    a_plain_host_page_hears_the_checkouts_events,
    Visit::default(),
    |c| { a_host_page_hears_every_outcome(&mut c, "/host/mount.html", "mount-registration").await }
);

story!(
    /// The same with `<toss-billing-checkout>` configured by attributes: a template-only storefront.
    the_checkout_element_mounts_from_attributes_and_fires_its_events,
    Visit::default(),
    |c| {
        a_host_page_hears_every_outcome(&mut c, "/host/element.html", "element-registration").await?;
        // The host's own script arrives after the bundle has started (the bundle is cached, the
        // script is slow): the fail page still reports its code to it, at DOMContentLoaded.
        c.shop.front.inject("GET", "/host/host.js", Fault::Delay(Duration::from_millis(1500)), Some(1));
        c.open("/host/element-no.html?code=REJECT_CARD_COMPANY&message=x").await?;
        c.see(
            r#"toss-billing-checkout:failed bubbles=true composed=true {"code":"REJECT_CARD_COMPANY"}"#,
        )
        .await?;
        // Removing the element unmounts the checkout cleanly.
        c.open("/host/element.html").await?;
        c.wait_until_register_button_works().await?;
        c.run("document.querySelector('toss-billing-checkout').remove();", vec![]).await?;
        c.wait_until("the checkout to be gone", "return !document.querySelector('.tbc');").await?;
        Ok(())
    }
);

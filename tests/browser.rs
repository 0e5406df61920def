//! Browser tests in headless Chromium: the SDK loader and bindings against the sandbox SDK, and the
//! three pages as a customer uses them, with a real HTTP server (tests/fixture_server.py) playing
//! the scripts and the merchant backend. `scripts/test.sh` starts that server.
#![cfg(target_arch = "wasm32")]

use std::cell::Cell;

use serde_json::{json, Value};
use toss_billing_checkout::checkout::keys::CustomerKey;
use toss_billing_checkout::checkout::request::{
    CardBillingParams, CardBillingRequest, CardOwnerType, EasyPay, Flow,
};
use toss_billing_checkout::checkout::urls::WindowTarget;
use toss_billing_checkout::sdk::{self, ScriptSource, SdkError, TossPayments};
use toss_billing_checkout::{
    all_pages, config_from_js, mount, registration_page, return_pages, CheckoutHandle, Pages,
};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

// The pages run here on the allocator the shipped bundles install (src/heap.rs), not std's.
toss_billing_checkout::install_bundle_heap!();

const FIXTURE: &str = match option_env!("FIXTURE_ORIGIN") {
    Some(origin) => origin,
    None => "http://127.0.0.1:8791",
};
const CLIENT_KEY: &str = "test_ck_D5GePWvyJnrK0W0k6q8gLzN97Eoq";

#[wasm_bindgen(module = "/tests/browser_fixtures.js")]
extern "C" {
    #[wasm_bindgen(js_name = resetSandbox)]
    fn reset_sandbox();
    #[wasm_bindgen(js_name = setNextOutcome)]
    fn set_next_outcome(outcome: JsValue);
    #[wasm_bindgen(js_name = sandboxCalls)]
    fn sandbox_calls() -> JsValue;
    #[wasm_bindgen(js_name = sandboxNavigations)]
    fn sandbox_navigations() -> Vec<String>;
    #[wasm_bindgen(js_name = sandboxAcceptsCustomerKey)]
    fn sandbox_accepts_customer_key(key: &str) -> bool;
    #[wasm_bindgen(js_name = mintAuthKey)]
    fn mint_auth_key(customer_key: &str) -> String;
    #[wasm_bindgen(js_name = removeTossGlobal)]
    fn remove_toss_global();
    #[wasm_bindgen(js_name = scriptTagsWithSrc)]
    fn script_tags_with_src(fragment: &str) -> u32;
    #[wasm_bindgen(js_name = scriptNonce)]
    fn script_nonce(fragment: &str) -> Option<String>;
    #[wasm_bindgen(js_name = thrownBy)]
    fn thrown_by(client_key: &str, customer_key: JsValue) -> JsValue;
    #[wasm_bindgen(js_name = sandboxIsOpen)]
    fn sandbox_is_open() -> bool;
    #[wasm_bindgen(js_name = refuseSessionStorageWrites)]
    fn refuse_session_storage_writes(refuse: bool);
    #[wasm_bindgen(js_name = clickAll)]
    fn click_all(selector: &str, times: u32);
    #[wasm_bindgen(js_name = recordEvents)]
    fn record_events(target: &web_sys::Element) -> JsValue;
    #[wasm_bindgen(js_name = recordedEvents)]
    fn recorded_events(recorder: &JsValue) -> String;
    #[wasm_bindgen(js_name = importLoader)]
    fn import_loader(origin: &str) -> js_sys::Promise;
    #[wasm_bindgen(js_name = forgetCheckoutGlobal)]
    fn forget_checkout_global();
    #[wasm_bindgen(js_name = hasCheckoutGlobal)]
    fn has_checkout_global() -> bool;
    #[wasm_bindgen(js_name = checkoutElement)]
    fn checkout_element(markup: &str) -> web_sys::HtmlElement;
    #[wasm_bindgen(js_name = countPostsStarted)]
    fn count_posts_started();
    #[wasm_bindgen(js_name = postsStartedSoFar)]
    fn posts_started_so_far() -> u32;
}

// ---------------------------------------------------------------------------------------------
// Helpers that read like the customer's story.

thread_local!(static NEXT_ID: Cell<u32> = const { Cell::new(0) });

/// A fresh id, so each test has its own backend log at the fixture server.
fn test_id(name: &str) -> String {
    let n = NEXT_ID.with(|c| {
        c.set(c.get() + 1);
        c.get()
    });
    format!("{name}-{n}-{}", (js_sys::Math::random() * 1e9) as u64)
}

fn sandbox_url() -> String {
    format!("{FIXTURE}/sandbox/tosspayments-sandbox.js")
}

async fn sleep(ms: u32) {
    toss_billing_checkout::backend::sleep(ms).await;
}

fn window() -> web_sys::Window {
    web_sys::window().unwrap()
}

fn document() -> web_sys::Document {
    window().document().unwrap()
}

/// Makes the test page's address look like `path_and_query`, as if the browser had arrived there.
fn arrive_at(path_and_query: &str) {
    window()
        .history()
        .unwrap()
        .replace_state_with_url(&JsValue::NULL, "", Some(path_and_query))
        .unwrap();
}

fn current_query() -> String {
    window().location().search().unwrap()
}

fn session_item(key: &str) -> Option<String> {
    window()
        .session_storage()
        .unwrap()
        .unwrap()
        .get_item(key)
        .unwrap()
}

fn forget_tab_state() {
    window()
        .session_storage()
        .unwrap()
        .unwrap()
        .clear()
        .unwrap();
}

async fn sandbox_loaded() {
    sdk::load_sdk(&ScriptSource {
        url: sandbox_url(),
        timeout_ms: 10_000,
        nonce: None,
    })
    .await
    .expect("sandbox loads");
    reset_sandbox();
}

fn base_config(id: &str) -> Value {
    json!({
        "clientKey": CLIENT_KEY,
        "customerKey": "customer-0001",
        "backendUrl": format!("{FIXTURE}/backend/{id}/ok"),
        "sdkUrl": sandbox_url(),
        "credentials": "omit",
    })
}

/// A mounted checkout in a fresh element; removed when dropped.
struct Page {
    root: web_sys::HtmlElement,
    handle: CheckoutHandle,
}

impl Page {
    fn text(&self) -> String {
        self.root.text_content().unwrap_or_default()
    }

    fn find(&self, selector: &str) -> Option<web_sys::HtmlElement> {
        self.root
            .query_selector(selector)
            .unwrap()
            .map(|e| e.unchecked_into())
    }

    fn button(&self) -> web_sys::HtmlButtonElement {
        self.find("button.tbc-button")
            .expect("a button")
            .unchecked_into()
    }

    fn see(&self, text: &str) {
        assert!(
            self.text().contains(text),
            "expected to see {text:?}; the page shows {:?}",
            self.text()
        );
    }

    fn dont_see(&self, text: &str) {
        assert!(
            !self.text().contains(text),
            "expected NOT to see {text:?}; the page shows {:?}",
            self.text()
        );
    }

    /// Waits until the register button is ready to be clicked.
    async fn until_ready(&self) {
        for _ in 0..300 {
            if self.find("button.tbc-button[data-state=ready]").is_some() {
                return;
            }
            sleep(20).await;
        }
        panic!(
            "the button never became ready; the page shows {:?}",
            self.text()
        );
    }

    async fn until_sees(&self, text: &str) {
        self.until_sees_within(text, 6_000).await;
    }

    /// Waits at most `ms` for `text`; returns how long it took.
    async fn until_sees_within(&self, text: &str, ms: u32) -> f64 {
        let start = js_sys::Date::now();
        while js_sys::Date::now() - start < f64::from(ms) {
            if self.text().contains(text) {
                return js_sys::Date::now() - start;
            }
            sleep(20).await;
        }
        self.see(text);
        js_sys::Date::now() - start
    }

    /// The success page's heading.
    fn heading(&self) -> String {
        self.find("h2")
            .and_then(|h| h.text_content())
            .unwrap_or_default()
    }

    /// Clicks 다시 확인하기 (Check again).
    fn click_check_again(&self) {
        let button = self
            .find(".tbc-alert button")
            .expect("a 다시 확인하기 button");
        assert_eq!(button.text_content().as_deref(), Some("다시 확인하기"));
        button.click();
    }
}

impl Drop for Page {
    fn drop(&mut self) {
        self.handle.unmount();
        self.root.remove();
    }
}

/// Opens the checkout at `path` with `config`, as a storefront page would.
async fn open(path: &str, config: &Value) -> Page {
    open_bundle(path, config, all_pages).await
}

/// Opens the checkout at `path` with only the pages of one bundle (`registration_page`,
/// `return_pages`), as the shipped bundles do.
async fn open_bundle(path: &str, config: &Value, pages: Pages) -> Page {
    let page = mounted(path, config, pages);
    leptos::task::tick().await;
    page
}

/// Mounts the checkout at `path` and returns at once, with no await: what a test sees then is
/// what the mount's own task did.
fn mounted(path: &str, config: &Value, pages: Pages) -> Page {
    arrive_at(path);
    let root: web_sys::HtmlElement = document().create_element("div").unwrap().unchecked_into();
    document().body().unwrap().append_child(&root).unwrap();
    let config = js_sys::JSON::parse(&config.to_string()).unwrap();
    let handle = mount(root.clone(), config_from_js(config), pages);
    Page { root, handle }
}

async fn backend_log(id: &str) -> Vec<Value> {
    let response = gloo_net::http::Request::get(&format!("{FIXTURE}/log/{id}"))
        .send()
        .await
        .expect("fixture server up");
    response.json().await.unwrap()
}

async fn posts_received(id: &str) -> usize {
    backend_log(id)
        .await
        .iter()
        .filter(|r| r["method"] == "POST")
        .count()
}

/// Registers on the register page with the sandbox scripted to succeed; returns the success URL
/// Toss would redirect to.
async fn register_card(config: &Value) -> String {
    let page = open("/", config).await;
    page.until_ready().await;
    set_next_outcome(js_sys::JSON::parse(r#"{"type":"success"}"#).unwrap());
    page.button().click();
    for _ in 0..200 {
        if let Some(url) = sandbox_navigations().pop() {
            return url;
        }
        sleep(20).await;
    }
    panic!(
        "the sandbox never redirected; the page shows {:?}",
        page.text()
    );
}

/// The backend is healthy again: from now on it registers the card whatever its plan.
async fn heal_backend(id: &str) {
    gloo_net::http::Request::get(&format!("{FIXTURE}/heal/{id}"))
        .send()
        .await
        .expect("fixture server up");
}

fn auth_key_of(redirect: &str) -> String {
    web_sys::Url::new(redirect)
        .unwrap()
        .search_params()
        .get("authKey")
        .unwrap()
}

/// Every hand-off POST carried the same body and Idempotency-Key.
async fn all_posts_alike(id: &str) {
    let posts: Vec<Value> = backend_log(id)
        .await
        .into_iter()
        .filter(|r| r["method"] == "POST")
        .collect();
    assert!(!posts.is_empty());
    for post in &posts {
        assert_eq!(post["body"], posts[0]["body"]);
        assert_eq!(
            post["headers"]["idempotency-key"],
            posts[0]["headers"]["idempotency-key"]
        );
    }
}

fn path_and_query(url: &str) -> String {
    let url = web_sys::Url::new(url).unwrap();
    format!("{}{}", url.pathname(), url.search())
}

// ---------------------------------------------------------------------------------------------
// The script loader.

#[wasm_bindgen_test]
async fn loader_reuses_an_existing_global_and_adds_no_second_tag() {
    sandbox_loaded().await;
    let before = script_tags_with_src("/sandbox/tosspayments-sandbox.js");
    sdk::load_sdk(&ScriptSource {
        url: sandbox_url(),
        timeout_ms: 5_000,
        nonce: None,
    })
    .await
    .unwrap();
    assert!(sdk::is_loaded());
    assert_eq!(
        script_tags_with_src("/sandbox/tosspayments-sandbox.js"),
        before
    );
    assert_eq!(sdk::anonymous_marker().as_deref(), Some("@@ANONYMOUS"));
}

#[wasm_bindgen_test]
async fn concurrent_callers_share_one_load_and_one_tag() {
    remove_toss_global();
    let id = test_id("concurrent");
    let url = format!("{}?{id}", sandbox_url());
    let source = ScriptSource {
        url: url.clone(),
        timeout_ms: 10_000,
        nonce: Some("bm9uY2U=".into()),
    };
    let (a, b, c) = futures::join!(
        sdk::load_sdk(&source),
        sdk::load_sdk(&source),
        sdk::load_sdk(&source)
    );
    assert_eq!((a, b, c), (Ok(()), Ok(()), Ok(())));
    assert_eq!(
        script_tags_with_src(&id),
        1,
        "one <script> for three callers"
    );
    assert_eq!(
        script_nonce(&id).as_deref(),
        Some("bm9uY2U="),
        "the CSP nonce reaches the tag"
    );
}

#[wasm_bindgen_test]
async fn a_404_is_a_load_failure_and_a_retry_succeeds_without_duplicate_tags() {
    remove_toss_global();
    let id = test_id("flaky");
    let url = format!("{FIXTURE}/script/flaky/{id}.js");
    let source = ScriptSource {
        url: url.clone(),
        timeout_ms: 10_000,
        nonce: None,
    };
    assert_eq!(
        sdk::load_sdk(&source).await,
        Err(SdkError::ScriptLoadFailed { url: url.clone() })
    );
    assert_eq!(script_tags_with_src(&id), 0, "the failed tag is removed");
    assert_eq!(sdk::load_sdk(&source).await, Ok(()));
    assert_eq!(script_tags_with_src(&id), 1);
}

/// Puts a `<script>` like the ones the boot script starts early (scripts/boot.js), in `state`,
/// then loads the SDK from the same URL. Returns that tag, the load's result, and how many tags
/// for the URL the page has afterwards.
async fn load_after_an_early_tag(
    label: &str,
    state: &str,
) -> (web_sys::HtmlScriptElement, Result<(), SdkError>, u32) {
    remove_toss_global();
    let id = test_id(label);
    let url = format!("{}?{id}", sandbox_url());
    let early: web_sys::HtmlScriptElement = document()
        .create_element("script")
        .unwrap()
        .unchecked_into();
    early.set_src(&url);
    early.set_async(true);
    early.set_attribute("data-toss-billing-sdk", state).unwrap();
    document().head().unwrap().append_child(&early).unwrap();
    let loaded = sdk::load_sdk(&ScriptSource {
        url,
        timeout_ms: 10_000,
        nonce: None,
    })
    .await;
    (early, loaded, script_tags_with_src(&id))
}

#[wasm_bindgen_test]
async fn a_tag_the_boot_script_started_is_waited_on_not_duplicated() {
    let (early, loaded, tags) = load_after_an_early_tag("early", "loading").await;
    assert_eq!(loaded, Ok(()));
    assert!(early.is_connected(), "the early tag is the one used");
    assert_eq!(tags, 1, "no second tag");
}

#[wasm_bindgen_test]
async fn a_tag_the_boot_script_started_that_failed_is_replaced() {
    let (early, loaded, tags) = load_after_an_early_tag("early-failed", "failed").await;
    assert_eq!(loaded, Ok(()));
    assert!(!early.is_connected(), "the failed tag is gone");
    assert_eq!(tags, 1, "one fresh tag");
}

#[wasm_bindgen_test]
async fn a_script_without_the_global_is_reported_as_such() {
    remove_toss_global();
    let url = format!("{FIXTURE}/script/empty.js?{}", test_id("empty"));
    let result = sdk::load_sdk(&ScriptSource {
        url: url.clone(),
        timeout_ms: 10_000,
        nonce: None,
    })
    .await;
    assert_eq!(result, Err(SdkError::NamespaceMissing { url }));
}

#[wasm_bindgen_test]
async fn a_script_that_never_arrives_times_out() {
    remove_toss_global();
    let id = test_id("slow");
    let url = format!("{FIXTURE}/script/slow.js?{id}");
    let result = sdk::load_sdk(&ScriptSource {
        url,
        timeout_ms: 300,
        nonce: None,
    })
    .await;
    assert_eq!(result, Err(SdkError::LoadTimedOut { timeout_ms: 300 }));
    assert_eq!(
        script_tags_with_src(&id),
        0,
        "the timed-out tag is removed so a retry adds a fresh one"
    );
}

// ---------------------------------------------------------------------------------------------
// The bindings, against the sandbox SDK.

fn customer() -> CustomerKey {
    CustomerKey::parse("customer-0001").unwrap()
}

fn request(params: CardBillingParams) -> CardBillingRequest {
    CardBillingRequest::new(params).unwrap()
}

fn minimal_params() -> CardBillingParams {
    CardBillingParams {
        success_url: "https://shop.example/billing/success?state=abc".into(),
        fail_url: "https://shop.example/billing/fail".into(),
        ..CardBillingParams::default()
    }
}

fn payment() -> sdk::Payment {
    let client_key = toss_billing_checkout::checkout::keys::ClientKey::parse(CLIENT_KEY).unwrap();
    TossPayments::new(&client_key)
        .unwrap()
        .payment(&customer())
        .unwrap()
}

fn last_call_keys() -> Vec<String> {
    let calls: Value = serde_wasm_bindgen::from_value(sandbox_calls()).unwrap();
    let last = calls
        .as_array()
        .unwrap()
        .last()
        .expect("a recorded call")
        .clone();
    serde_json::from_value(last["keys"].clone()).unwrap()
}

/// serde-wasm-bindgen's JSON of `value`: the reference the hand-written writers must equal.
fn serde_json_text<T: serde::Serialize>(value: &T) -> String {
    let js = value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .unwrap();
    js_sys::JSON::stringify(&js).unwrap().into()
}

#[wasm_bindgen_test]
fn the_hand_written_writers_write_what_serde_writes() {
    use toss_billing_checkout::checkout::handoff::{
        CardSummary, DeclineClass, ErrorBody, HandoffRecord, HandoffStatus, SubscriptionOutcome,
    };
    use toss_billing_checkout::checkout::redirect::{AuthKey, PendingRegistration};
    use toss_billing_checkout::js_data;

    for request in [
        request(minimal_params()),
        request(CardBillingParams {
            customer_name: Some("김토스 \"quoted\"".into()),
            customer_email: Some("customer@example.com".into()),
            window_target: Some(WindowTarget::SelfWindow),
            card_types: vec![CardOwnerType::Corporate, CardOwnerType::Personal],
            flow: Flow::Direct {
                easy_pay: Some(EasyPay::Naverpay),
                card_company: Some("HYUNDAI".into()),
            },
            ..minimal_params()
        }),
    ] {
        let ours: String = js_sys::JSON::stringify(&js_data::wire_request(&request.wire()))
            .unwrap()
            .into();
        assert_eq!(ours, serde_json_text(&request.wire()));
    }

    for checkout_session in [None, Some("cs1.payload.tag".to_owned())] {
        let pending = PendingRegistration {
            customer_key: customer(),
            state: "s-1".into(),
            checkout_session,
        };
        let written = js_data::pending_registration_json(&pending).unwrap();
        assert_eq!(written, serde_json_text(&pending));
        let read = js_data::Fields::parse(&written).and_then(|f| js_data::pending_registration(&f));
        assert_eq!(read.as_ref(), Some(&pending), "read back as written");
    }

    let auth_key = AuthKey::parse("bln_0123456789abcdef").unwrap();
    let error = ErrorBody {
        code: "TOSS_TIMEOUT".into(),
        message: "느림\n".into(),
        retry_after_ms: None,
    };
    let pending = ErrorBody {
        code: "HANDOFF_PENDING".into(),
        message: String::new(),
        retry_after_ms: Some(1_000),
    };
    for (auth_key, status) in [
        (Some(auth_key.clone()), HandoffStatus::Sending),
        (
            None,
            HandoffStatus::Registered {
                card: CardSummary {
                    company: Some("현대".into()),
                    number: Some("433012******123*".into()),
                    card_type: Some("신용".into()),
                    owner_type: None,
                },
                subscription: None,
            },
        ),
        (
            None,
            HandoffStatus::Registered {
                card: CardSummary {
                    owner_type: Some("법인".into()),
                    ..CardSummary::default()
                },
                subscription: Some(SubscriptionOutcome::Active {
                    plan_name: "프리미엄 월간".into(),
                    amount: 9_900,
                    paid_at: "2026-12-07T10:00:00+09:00".into(),
                    receipt_url: Some("https://sim.example/receipts/p1".into()),
                    next_charge_date: "2027-01-07".into(),
                }),
            },
        ),
        (
            None,
            HandoffStatus::Registered {
                card: CardSummary::default(),
                subscription: None,
            },
        ),
        (
            None,
            HandoffStatus::Registered {
                card: CardSummary::default(),
                subscription: Some(SubscriptionOutcome::Trialing {
                    plan_name: "Premium".into(),
                    amount: 9_900,
                    first_charge_date: "2026-12-21".into(),
                }),
            },
        ),
        (
            None,
            HandoffStatus::Registered {
                card: CardSummary::default(),
                subscription: Some(SubscriptionOutcome::Incomplete {
                    plan_name: "Premium".into(),
                    amount: 9_900,
                    code: "NOT_ENOUGH_BALANCE".into(),
                    decline: DeclineClass::Soft,
                    retry_until: "2026-12-08T10:00:00+09:00".into(),
                }),
            },
        ),
        (
            None,
            HandoffStatus::Registered {
                card: CardSummary::default(),
                subscription: Some(SubscriptionOutcome::CardChanged {
                    plan_name: "Premium".into(),
                    subscription_status: "PAST_DUE".into(),
                }),
            },
        ),
        (
            None,
            HandoffStatus::Registered {
                card: CardSummary::default(),
                subscription: Some(SubscriptionOutcome::NotStarted {
                    code: "TRIAL_ALREADY_USED".into(),
                }),
            },
        ),
        (
            None,
            HandoffStatus::Refused {
                error: error.clone(),
            },
        ),
        (
            Some(auth_key.clone()),
            HandoffStatus::Unconfirmed {
                error,
                still_confirming: false,
            },
        ),
        (
            Some(auth_key.clone()),
            HandoffStatus::Unconfirmed {
                error: pending,
                still_confirming: true,
            },
        ),
    ] {
        let record = HandoffRecord {
            state: "s-1".into(),
            customer_key: customer(),
            auth_key,
            idempotency_key: "ak-00".into(),
            checkout_session: Some("cs1.payload.tag".into()),
            status,
        };
        let written = js_data::handoff_record_json(&record).unwrap();
        assert_eq!(written, serde_json_text(&record));
        let read = js_data::Fields::parse(&written).and_then(|f| js_data::handoff_record(&f));
        assert_eq!(read.as_ref(), Some(&record), "read back as written");
    }

    for checkout_session in [None, Some("cs1.payload.tag")] {
        assert_eq!(
            js_data::issue_request_json(&auth_key, &customer(), checkout_session).unwrap(),
            serde_json_text(&toss_billing_contract::IssueRequest {
                auth_key: auth_key.expose().to_owned(),
                customer_key: customer().as_str().to_owned(),
                checkout_session: checkout_session.map(str::to_owned),
            }),
            "the body the backend's own type reads"
        );
    }
}

#[wasm_bindgen_test]
async fn only_documented_keys_cross_to_js_and_absent_optionals_are_omitted() {
    sandbox_loaded().await;
    let payment = payment();
    set_next_outcome(js_sys::JSON::parse(r#"{"type":"cancel"}"#).unwrap());
    let result = payment
        .request_billing_auth(&request(minimal_params()))
        .await;
    assert!(
        matches!(result, Err(SdkError::UserCancel { .. })),
        "{result:?}"
    );
    assert_eq!(last_call_keys(), ["method", "successUrl", "failUrl"]);

    set_next_outcome(js_sys::JSON::parse(r#"{"type":"cancel"}"#).unwrap());
    let full = request(CardBillingParams {
        customer_name: Some("김토스".into()),
        customer_email: Some("customer@example.com".into()),
        window_target: Some(WindowTarget::Iframe),
        card_types: vec![CardOwnerType::Corporate, CardOwnerType::Personal],
        flow: Flow::Direct {
            easy_pay: Some(EasyPay::Tosspay),
            card_company: None,
        },
        ..minimal_params()
    });
    let result = payment.request_billing_auth(&full).await;
    assert!(
        matches!(result, Err(SdkError::UserCancel { .. })),
        "the sandbox accepted every field: {result:?}"
    );
    assert_eq!(
        last_call_keys(),
        [
            "method",
            "successUrl",
            "failUrl",
            "customerName",
            "customerEmail",
            "windowTarget",
            "selectableCardTypes",
            "flowMode",
            "easyPay"
        ]
    );
}

#[wasm_bindgen_test]
async fn every_documented_rejection_arrives_as_its_variant() {
    sandbox_loaded().await;
    let payment = payment();
    let codes = [
        "USER_CANCEL",
        "PAYMENT_REQUEST_ABORTED",
        "NOT_SUPPORTED_METHOD",
        "INCORRECT_SUCCESS_URL_FORMAT",
        "INCORRECT_FAIL_URL_FORMAT",
        "INVALID_METHOD_TRANSACTION",
        "INVALID_PARAMETERS",
        "INVALID_CLIENT_KEY",
        "INVALID_CUSTOMER_KEY",
        "INSECURE_KEY_USAGE",
        "NOT_SUPPORTED_WIDGET_KEY",
        "UNKNOWN",
        "SOMETHING_NEW",
    ];
    for code in codes {
        set_next_outcome(
            js_sys::JSON::parse(&format!(
                r#"{{"type":"reject","code":"{code}","message":"m"}}"#
            ))
            .unwrap(),
        );
        let error = payment
            .request_billing_auth(&request(minimal_params()))
            .await
            .unwrap_err();
        assert_eq!(error.code(), Some(code), "{error:?}");
        assert_eq!(error, SdkError::from_parts(Some(code), None, Some("m")));
    }
}

#[wasm_bindgen_test]
async fn synchronous_throws_are_caught_and_classified() {
    sandbox_loaded().await;
    let cases = [
        (
            "test_sk_zXLkKEypNArWmo50nX3lmeaxYG5R",
            JsValue::UNDEFINED,
            "INSECURE_KEY_USAGE",
        ),
        ("nonsense", JsValue::UNDEFINED, "INVALID_CLIENT_KEY"),
        (
            "test_gck_docs0000000000000000",
            JsValue::from_str("customer-0001"),
            "NOT_SUPPORTED_WIDGET_KEY",
        ),
        (CLIENT_KEY, JsValue::from_str("a"), "INVALID_CUSTOMER_KEY"),
    ];
    for (client_key, customer_key, code) in cases {
        let thrown = thrown_by(client_key, customer_key);
        assert_eq!(sdk::sdk_error_from_js(&thrown).code(), Some(code));
    }
    assert_eq!(
        sdk::sdk_error_from_js(&JsValue::from_str("boom")),
        SdkError::Unexpected {
            description: "boom".into()
        },
        "a rejection that is not an object"
    );
}

#[wasm_bindgen_test]
async fn a_second_request_while_one_is_open_is_refused_and_destroy_is_always_safe() {
    sandbox_loaded().await;
    let payment = payment();
    payment.destroy(); // nothing open: the sandbox throws, we swallow it
    set_next_outcome(js_sys::JSON::parse(r#"{"type":"pending"}"#).unwrap());
    let first = payment.clone();
    let open =
        wasm_bindgen_futures::JsFuture::from(wasm_bindgen_futures::future_to_promise(async move {
            let result = first.request_billing_auth(&request(minimal_params())).await;
            Ok(JsValue::from_str(&format!("{result:?}")))
        }));
    sleep(50).await;
    let second = payment
        .request_billing_auth(&request(minimal_params()))
        .await;
    assert!(
        matches!(second, Err(SdkError::InvalidMethodTransaction { .. })),
        "{second:?}"
    );
    payment.destroy();
    let first = open.await.unwrap().as_string().unwrap();
    assert!(first.contains("PaymentRequestAborted"), "{first}");
}

#[wasm_bindgen_test]
async fn our_customer_key_rule_is_the_sandbox_rule() {
    sandbox_loaded().await;
    // xorshift: deterministic, no dependency; an alphabet of allowed and forbidden characters.
    let alphabet: Vec<char> = "aZ09-_=.@ /+%#한é\u{0}!?:~".chars().collect();
    let mut seed: u32 = 0x9e37_79b9;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        seed
    };
    for _ in 0..3_000 {
        let len = (next() % 56) as usize;
        let key: String = (0..len)
            .map(|_| alphabet[(next() as usize) % alphabet.len()])
            .collect();
        let ours = toss_billing_checkout::checkout::keys::check_customer_key_shape(&key).is_ok();
        assert_eq!(
            ours,
            sandbox_accepts_customer_key(&key),
            "disagreement on {key:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The registration page.

#[wasm_bindgen_test]
async fn the_button_is_disabled_and_says_why_until_the_sdk_is_ready() {
    forget_tab_state();
    remove_toss_global();
    let id = test_id("ready");
    let page = open("/", &base_config(&id)).await;
    let button = page.button();
    assert!(button.disabled(), "not clickable before the SDK is ready");
    assert_eq!(button.get_attribute("aria-busy").as_deref(), Some("true"));
    page.see("결제 모듈을 불러오는 중");
    page.until_ready().await;
    assert!(!page.button().disabled());
    assert_eq!(
        page.button().get_attribute("aria-busy").as_deref(),
        Some("false")
    );
}

#[wasm_bindgen_test]
async fn with_the_sdk_loaded_and_a_fixed_customer_key_the_first_render_is_the_working_button() {
    forget_tab_state();
    sandbox_loaded().await;
    let page = mounted("/", &base_config(&test_id("at-hand")), all_pages);
    // No await since mounting: nothing to wait for, so no busy state was rendered to undo.
    let button = page.button();
    assert!(!button.disabled(), "ready in the mount's own task");
    assert_eq!(button.get_attribute("aria-busy").as_deref(), Some("false"));
    assert_eq!(button.get_attribute("data-state").as_deref(), Some("ready"));
    page.see("카드 등록하기");
}

#[wasm_bindgen_test]
async fn a_burst_of_clicks_opens_exactly_one_card_window() {
    forget_tab_state();
    sandbox_loaded().await;
    let page = open("/", &base_config(&test_id("burst"))).await;
    page.until_ready().await;
    set_next_outcome(js_sys::JSON::parse(r#"{"type":"pending"}"#).unwrap());
    click_all("button.tbc-button", 5);
    sleep(100).await;
    let calls: Value = serde_wasm_bindgen::from_value(sandbox_calls()).unwrap();
    assert_eq!(
        calls.as_array().unwrap().len(),
        1,
        "five clicks, one requestBillingAuth"
    );
    assert!(page.button().disabled());
    let success_url = calls[0]["params"]["successUrl"]
        .as_str()
        .unwrap()
        .to_owned();
    let pending: Value =
        serde_json::from_str(&session_item("tossBilling.pending").expect("pending stored"))
            .unwrap();
    assert_eq!(pending["customerKey"], "customer-0001");
    assert!(
        success_url.contains(&format!("state={}", pending["state"].as_str().unwrap())),
        "{success_url}"
    );
    assert!(success_url.contains("/billing/success?"), "{success_url}");
}

#[wasm_bindgen_test]
async fn the_card_window_opens_in_the_clicks_own_task_before_the_page_re_renders() {
    forget_tab_state();
    sandbox_loaded().await;
    let page = open("/", &base_config(&test_id("same-task"))).await;
    page.until_ready().await;
    set_next_outcome(js_sys::JSON::parse(r#"{"type":"pending"}"#).unwrap());
    page.button().click();
    // No await in between: the SDK has its call when click() returns, while the button still
    // shows the state the buyer clicked (the busy state follows a microtask later).
    let calls: Value = serde_wasm_bindgen::from_value(sandbox_calls()).unwrap();
    assert_eq!(
        calls.as_array().unwrap().len(),
        1,
        "requestBillingAuth ran in the click's task"
    );
    assert!(
        !page.button().disabled(),
        "the re-render comes after the SDK call"
    );
    sleep(20).await;
    assert!(page.button().disabled(), "then the button is busy");
    assert_eq!(
        page.button().get_attribute("data-state").as_deref(),
        Some("opening")
    );
}

#[wasm_bindgen_test]
async fn cancelling_the_card_window_is_quiet_and_the_button_works_again() {
    forget_tab_state();
    sandbox_loaded().await;
    let page = open("/", &base_config(&test_id("cancel"))).await;
    page.until_ready().await;
    set_next_outcome(js_sys::JSON::parse(r#"{"type":"cancel"}"#).unwrap());
    page.button().click();
    page.until_sees("카드 등록을 취소했어요").await;
    assert!(
        page.find("[role=alert]").is_none(),
        "a cancel is not an error"
    );
    assert!(!page.button().disabled());
    assert_eq!(session_item("tossBilling.pending"), None);
}

#[wasm_bindgen_test]
async fn leaving_the_page_while_the_card_window_is_open_closes_it_safely() {
    forget_tab_state();
    sandbox_loaded().await;
    let config = base_config(&test_id("unmount"));
    let page = open("/", &config).await;
    page.until_ready().await;
    set_next_outcome(js_sys::JSON::parse(r#"{"type":"pending"}"#).unwrap());
    page.button().click();
    sleep(50).await;
    drop(page); // destroy() rejects the open request with PAYMENT_REQUEST_ABORTED
    sleep(100).await;
    assert!(
        !sandbox_is_open(),
        "unmounting destroyed the payment and closed its window"
    );
    // Still alive (a panic would have killed the module): the next checkout works.
    let page = open("/", &config).await;
    page.until_ready().await;
}

#[wasm_bindgen_test]
async fn a_checkout_closed_mid_window_does_not_erase_the_next_ones_registration() {
    // Regression: the abort of the first checkout's window arrived after the second checkout had
    // stored its registration, and erased it, so the success page refused the real redirect.
    forget_tab_state();
    sandbox_loaded().await;
    let config = base_config(&test_id("overlap"));
    let first = open("/", &config).await;
    first.until_ready().await;
    set_next_outcome(js_sys::JSON::parse(r#"{"type":"pending"}"#).unwrap());
    first.button().click();
    sleep(20).await;
    drop(first);
    let redirect = register_card(&config).await;
    sleep(50).await;
    assert!(
        session_item("tossBilling.pending").is_some(),
        "the second registration is still remembered"
    );
    let page = open(&path_and_query(&redirect), &config).await;
    page.until_sees("카드가 등록되었어요").await;
}

#[wasm_bindgen_test]
async fn a_browser_that_cannot_keep_the_registration_opens_no_window() {
    forget_tab_state();
    sandbox_loaded().await;
    let page = open("/", &base_config(&test_id("no-storage"))).await;
    page.until_ready().await;
    refuse_session_storage_writes(true);
    page.button().click();
    sleep(50).await;
    refuse_session_storage_writes(false);
    page.until_sees("카드 등록 정보를 잠시 보관할 수 없어")
        .await;
    let calls: Value = serde_wasm_bindgen::from_value(sandbox_calls()).unwrap();
    assert_eq!(
        calls.as_array().unwrap().len(),
        0,
        "no card window without a way to finish the registration"
    );
    page.find(".tbc-alert button")
        .expect("a way to try again")
        .click();
    page.until_ready().await;
}

#[wasm_bindgen_test]
async fn a_shop_without_a_billing_contract_is_told_so() {
    forget_tab_state();
    sandbox_loaded().await;
    let mut config = base_config(&test_id("nobilling"));
    config["clientKey"] = json!("test_ck_NoBilling0000000000000");
    let page = open("/", &config).await;
    page.until_ready().await;
    page.button().click();
    page.until_sees("카드 자동결제 계약이 없어").await;
    assert!(page.button().disabled(), "retrying cannot help");
}

#[wasm_bindgen_test]
async fn an_unreachable_sdk_offers_a_retry_that_works() {
    forget_tab_state();
    remove_toss_global();
    let id = test_id("sdk-retry");
    let mut config = base_config(&id);
    config["sdkUrl"] = json!(format!("{FIXTURE}/script/flaky/{id}.js"));
    let page = open("/", &config).await;
    page.until_sees("결제 모듈을 불러오지 못했어요").await;
    page.find(".tbc-alert button")
        .expect("a retry button")
        .click();
    page.until_ready().await;
    assert!(!page.button().disabled());
}

#[wasm_bindgen_test]
async fn the_customer_key_can_come_from_the_backend() {
    forget_tab_state();
    sandbox_loaded().await;
    let id = test_id("customer");
    let mut config = base_config(&id);
    config.as_object_mut().unwrap().remove("customerKey");
    config["customerKeyUrl"] = json!(format!("{FIXTURE}/backend/{id}/customer"));
    let page = open("/", &config).await;
    page.until_ready().await;
    set_next_outcome(js_sys::JSON::parse(r#"{"type":"pending"}"#).unwrap());
    page.button().click();
    sleep(50).await;
    let calls: Value = serde_wasm_bindgen::from_value(sandbox_calls()).unwrap();
    assert_eq!(
        calls[0]["customerKey"].as_str().unwrap(),
        format!("fixture-customer-{}", &id[..20.min(id.len())])
    );

    config["customerKeyUrl"] = json!(format!("{FIXTURE}/backend/{id}/down-customer"));
    let page = open("/", &config).await;
    page.until_sees("고객 정보를 불러오지 못했어요").await;
}

#[wasm_bindgen_test]
async fn a_secret_key_in_the_configuration_is_refused_without_being_shown() {
    forget_tab_state();
    remove_toss_global();
    let secret = "test_sk_zXLkKEypNArWmo50nX3lmeaxYG5R";
    for (field, value) in [("clientKey", secret), ("customerKey", secret)] {
        let mut config = base_config(&test_id("secret"));
        config["sdkUrl"] = json!(format!("{FIXTURE}/script/missing.js"));
        config[field] = json!(value);
        let page = open("/", &config).await;
        page.see(&format!("`{field}`"));
        page.see("secret key");
        page.dont_see(secret);
        assert!(page.find("button.tbc-button").is_none(), "nothing to click");
        assert_eq!(
            script_tags_with_src("/script/missing.js"),
            0,
            "no script was loaded"
        );
    }
    let mut config = base_config(&test_id("widget"));
    config["clientKey"] = json!("test_gck_docs0000000000000000");
    let page = open("/", &config).await;
    page.see("`clientKey`");
    page.see("payment-widget");
}

#[wasm_bindgen_test]
async fn configuration_mistakes_are_named_and_nothing_loads() {
    forget_tab_state();
    let cases = [
        (
            json!({"clientKey": CLIENT_KEY, "customerKey": "customer-0001", "clientkey": "typo"}),
            "unknown field `clientkey`",
        ),
        (
            json!({"clientKey": CLIENT_KEY, "customerKey": "customer-0001", "sdkTimeoutMs": "10"}),
            "`sdkTimeoutMs` must be a whole number",
        ),
        (
            json!({"clientKey": CLIENT_KEY, "customerKey": "customer-0001", "windowTarget": "popup"}),
            "`windowTarget` must be",
        ),
        (
            json!({"clientKey": CLIENT_KEY, "customerKey": 42}),
            "`customerKey` must be a string",
        ),
        (
            json!({"clientKey": CLIENT_KEY, "customerKey": "customer-0001", "backendHeaders": {"X": 1}}),
            "`backendHeaders.X` must be a string",
        ),
        (
            json!({"clientKey": CLIENT_KEY, "customerKey": "customer-0001", "selectableCardTypes": ["GOLD"]}),
            "selectableCardTypes",
        ),
        (
            json!({"clientKey": CLIENT_KEY}),
            "`customerKey` is required",
        ),
        (json!(["not", "an", "object"]), "must be a JSON object"),
    ];
    for (config, message) in cases {
        let page = open("/", &config).await;
        page.see(message);
        assert!(
            page.find("button.tbc-button").is_none(),
            "nothing to click for {config}"
        );
    }
}

#[wasm_bindgen_test]
async fn the_page_speaks_english_when_configured() {
    forget_tab_state();
    sandbox_loaded().await;
    let mut config = base_config(&test_id("en"));
    config["locale"] = json!("en");
    let page = open("/", &config).await;
    page.until_sees("Register card").await;
    page.see("Register a payment card");
}

// ---------------------------------------------------------------------------------------------
// The success page.

#[wasm_bindgen_test]
async fn the_hand_off_leaves_in_the_mounts_own_task() {
    forget_tab_state();
    sandbox_loaded().await;
    let config = base_config(&test_id("same-task-post"));
    let redirect = register_card(&config).await;
    count_posts_started();
    let page = mounted(&path_and_query(&redirect), &config, all_pages);
    // No await since mounting: the POST is already on its way, not a microtask later.
    assert_eq!(
        posts_started_so_far(),
        1,
        "the hand-off started in the mount's task"
    );
    page.until_sees("카드가 등록되었어요").await;
    assert_eq!(posts_started_so_far(), 1, "and only once");
}

#[wasm_bindgen_test]
async fn a_registered_card_is_handed_off_once_and_the_key_leaves_the_address_bar() {
    forget_tab_state();
    sandbox_loaded().await;
    let id = test_id("happy");
    let mut config = base_config(&id);
    config["callbackQuery"] = json!({"plan": "pro"});
    let redirect = register_card(&config).await;
    assert!(redirect.contains("plan=pro"), "{redirect}");
    let page = open(&path_and_query(&redirect), &config).await;
    assert_eq!(
        current_query(),
        "?plan=pro",
        "authKey, customerKey and state leave the address bar at once"
    );
    page.until_sees("카드가 등록되었어요").await;
    page.see("현대");
    page.see("433012******123*");
    let focused = document().active_element().map(|e| e.id());
    assert_eq!(
        focused.as_deref(),
        Some("tbc-success-title"),
        "the result takes focus"
    );

    let log = backend_log(&id).await;
    assert_eq!(log.len(), 1, "exactly one hand-off");
    let auth_key = web_sys::Url::new(&redirect)
        .unwrap()
        .search_params()
        .get("authKey")
        .unwrap();
    assert_eq!(
        log[0]["body"],
        json!({"authKey": auth_key, "customerKey": "customer-0001"})
    );
    let expected_key = toss_billing_checkout::checkout::handoff::idempotency_key(
        &toss_billing_checkout::checkout::redirect::AuthKey::parse(&auth_key).unwrap(),
    );
    assert_eq!(log[0]["headers"]["idempotency-key"], json!(expected_key));
    assert_eq!(log[0]["headers"]["content-type"], json!("application/json"));
    let stored = session_item("tossBilling.handoff").unwrap();
    assert!(
        !stored.contains(&auth_key),
        "the authKey is forgotten once the backend confirmed"
    );

    // A reload, and the same URL again (back/forward, a replayed link): shown, never posted again.
    drop(page);
    let page = open("/billing/success?plan=pro", &config).await;
    page.until_sees("카드가 등록되었어요").await;
    drop(page);
    let page = open(&path_and_query(&redirect), &config).await;
    page.until_sees("카드가 등록되었어요").await;
    sleep(100).await;
    assert_eq!(posts_received(&id).await, 1, "nothing is posted twice");
}

#[wasm_bindgen_test]
async fn each_bundle_shows_its_own_pages_and_refuses_the_others_plainly() {
    forget_tab_state();
    sandbox_loaded().await;
    let id = test_id("bundles");
    let config = base_config(&id);
    let redirect = register_card(&config).await;

    // The registration bundle on the success address: a plain integration error; the key is not
    // read, not scrubbed by the wrong code, and nothing is posted.
    let wrong = open_bundle(&path_and_query(&redirect), &config, registration_page).await;
    wrong.see("this address is the success or fail page");
    wrong.dont_see("카드가 등록되었어요");
    assert!(
        current_query().contains("authKey="),
        "the wrong bundle reads nothing"
    );
    drop(wrong);
    assert_eq!(
        posts_received(&id).await,
        0,
        "the wrong bundle posts nothing"
    );

    // The return bundle on the same address does the hand-off, once.
    let success = open_bundle(&path_and_query(&redirect), &config, return_pages).await;
    success.until_sees("카드가 등록되었어요").await;
    assert!(
        !current_query().contains("authKey="),
        "the key leaves the address bar"
    );
    drop(success);
    assert_eq!(posts_received(&id).await, 1, "exactly one hand-off");

    // The return bundle on the registration address: the same plain error, no SDK window.
    let wrong = open_bundle("/", &config, return_pages).await;
    wrong.see("this address is the registration page");
    assert!(
        wrong.find("button.tbc-button").is_none(),
        "no register button"
    );
    drop(wrong);

    // And the registration bundle on its own address: the button.
    let register = open_bundle("/", &config, registration_page).await;
    register.until_ready().await;
}

#[wasm_bindgen_test]
async fn configured_headers_reach_the_backend_on_every_call() {
    forget_tab_state();
    sandbox_loaded().await;
    let id = test_id("headers");
    let mut config = base_config(&id);
    config.as_object_mut().unwrap().remove("customerKey");
    config["customerKeyUrl"] = json!(format!("{FIXTURE}/backend/{id}/customer"));
    config["backendHeaders"] = json!({"X-CSRF-Token": "t0k3n"});
    let redirect = register_card(&config).await;
    let page = open(&path_and_query(&redirect), &config).await;
    page.until_sees("카드가 등록되었어요").await;
    let log = backend_log(&id).await;
    assert_eq!(log.len(), 2, "the customerKey fetch and the hand-off");
    for request in &log {
        assert_eq!(
            request["headers"]["x-csrf-token"],
            json!("t0k3n"),
            "{request}"
        );
        assert_eq!(request["headers"]["accept"], json!("application/json"));
    }
}

#[wasm_bindgen_test]
async fn tampered_redirects_never_reach_the_backend() {
    sandbox_loaded().await;
    let id = test_id("tampered");
    let config = base_config(&id);
    let long_key = "a".repeat(301);
    let cases: Vec<(String, &str)> = vec![
        (
            "customerKey=customer-0001&state=STATE".into(),
            "주소의 카드 등록 정보가 올바르지 않아요",
        ),
        (
            "customerKey=customer-0001&authKey=a&authKey=b&state=STATE".into(),
            "주소의 카드 등록 정보가 올바르지 않아요",
        ),
        (
            format!("customerKey=customer-0001&authKey={long_key}&state=STATE"),
            "주소의 카드 등록 정보가 올바르지 않아요",
        ),
        (
            "customerKey=someone-else&authKey=AUTH&state=STATE".into(),
            "일치하지 않아요",
        ),
        (
            "customerKey=customer-0001&authKey=AUTH".into(),
            "주소의 카드 등록 정보가 올바르지 않아요",
        ),
        (
            "customerKey=customer-0001&authKey=AUTH&state=forged".into(),
            "일치하지 않아요",
        ),
        (
            "customerKey=%3Cscript%3E&authKey=AUTH&state=STATE".into(),
            "주소의 카드 등록 정보가 올바르지 않아요",
        ),
    ];
    for (query, message) in cases {
        forget_tab_state();
        let redirect = register_card(&config).await;
        let state = web_sys::Url::new(&redirect)
            .unwrap()
            .search_params()
            .get("state")
            .unwrap();
        let page = open(
            &format!("/billing/success?{}", query.replace("STATE", &state)),
            &config,
        )
        .await;
        page.until_sees(message).await;
        page.see("이 주소로는 카드를 등록할 수 없어요");
        assert_eq!(
            current_query(),
            "",
            "the address is scrubbed even when refused"
        );
    }
    // And a link opened in a tab that never started a registration.
    forget_tab_state();
    let page = open(
        "/billing/success?customerKey=customer-0001&authKey=AUTH&state=abc",
        &config,
    )
    .await;
    page.until_sees("이 창에서 시작한 카드 등록이 없어요").await;
    sleep(100).await;
    assert_eq!(posts_received(&id).await, 0, "nothing reached the backend");
}

#[wasm_bindgen_test]
async fn a_flaky_backend_is_retried_and_then_succeeds() {
    forget_tab_state();
    sandbox_loaded().await;
    let id = test_id("flaky-backend");
    let mut config = base_config(&id);
    config["backendUrl"] = json!(format!("{FIXTURE}/backend/{id}/down2"));
    let redirect = register_card(&config).await;
    let page = open(&path_and_query(&redirect), &config).await;
    page.until_sees("카드가 등록되었어요").await;
    let log = backend_log(&id).await;
    assert_eq!(log.len(), 3, "two 503s, then success");
    assert!(log
        .iter()
        .all(|r| r["headers"]["idempotency-key"] == log[0]["headers"]["idempotency-key"]));
}

#[wasm_bindgen_test]
async fn a_refusal_is_final_and_explained_in_our_words() {
    forget_tab_state();
    sandbox_loaded().await;
    let id = test_id("refuse");
    let mut config = base_config(&id);
    config["backendUrl"] = json!(format!("{FIXTURE}/backend/{id}/refuse"));
    let redirect = register_card(&config).await;
    let page = open(&path_and_query(&redirect), &config).await;
    page.until_sees("카드 번호가 올바르지 않아요").await;
    page.see("INVALID_CARD_NUMBER");
    page.dont_see("raw");
    let focused = document().active_element().map(|e| e.class_name());
    assert_eq!(
        focused.as_deref(),
        Some("tbc-alert"),
        "the error takes focus"
    );
    sleep(300).await;
    assert_eq!(posts_received(&id).await, 1, "no retry on 4xx");
    assert!(page
        .find(".tbc-alert")
        .unwrap()
        .text_content()
        .unwrap()
        .contains("다시 시도하기"));
}

#[wasm_bindgen_test]
async fn when_retries_run_out_the_key_is_kept_for_a_manual_retry() {
    forget_tab_state();
    sandbox_loaded().await;
    let id = test_id("down");
    let mut config = base_config(&id);
    config["backendUrl"] = json!(format!("{FIXTURE}/backend/{id}/down3"));
    let redirect = register_card(&config).await;
    let page = open(&path_and_query(&redirect), &config).await;
    page.until_sees("카드 등록 결과를 확인하지 못했어요").await;
    assert_eq!(page.heading(), "카드 등록을 확인하지 못했어요");
    page.dont_see("카드를 등록하지 못했어요");
    assert_eq!(posts_received(&id).await, 3, "bounded: three attempts");
    let auth_key = web_sys::Url::new(&redirect)
        .unwrap()
        .search_params()
        .get("authKey")
        .unwrap();
    assert!(
        session_item("tossBilling.handoff")
            .unwrap()
            .contains(&auth_key),
        "nothing lost"
    );
    page.find(".tbc-alert button")
        .expect("a manual retry")
        .click();
    page.until_sees("카드가 등록되었어요").await;
    assert_eq!(posts_received(&id).await, 4);
}

#[wasm_bindgen_test]
async fn a_slow_backend_times_out_and_a_reload_mid_request_never_posts_by_itself() {
    forget_tab_state();
    sandbox_loaded().await;
    let id = test_id("slow-backend");
    let mut config = base_config(&id);
    config["backendUrl"] = json!(format!("{FIXTURE}/backend/{id}/slow"));
    config["backendTimeoutMs"] = json!(500);
    config["backendMaxAttempts"] = json!(1);
    let redirect = register_card(&config).await;
    let page = open(&path_and_query(&redirect), &config).await;
    page.see("카드 등록을 확인하고 있어요");
    assert_eq!(
        page.find("h2")
            .unwrap()
            .get_attribute("aria-busy")
            .as_deref(),
        Some("true")
    );
    // The customer reloads while the request is still out.
    drop(page);
    let page = open("/billing/success", &config).await;
    page.until_sees("이전 확인이 중간에 끊겼어요").await;
    sleep(800).await;
    assert_eq!(
        posts_received(&id).await,
        1,
        "the reload did not post again"
    );
    page.see("다시 확인하기");
}

/// An answer that is not final (`plan` at the fixture backend): the page keeps the authKey, never
/// says the card failed, and offers 다시 확인하기, which registers the card once the backend is
/// healthy again, with the same body and Idempotency-Key.
async fn an_answer_that_is_not_final_keeps_the_key(plan: &str) {
    forget_tab_state();
    sandbox_loaded().await;
    let id = test_id(plan);
    let mut config = base_config(&id);
    config["backendUrl"] = json!(format!("{FIXTURE}/backend/{id}/{plan}"));
    config["backendMaxAttempts"] = json!(2);
    let redirect = register_card(&config).await;
    let page = open(&path_and_query(&redirect), &config).await;
    page.until_sees("카드 등록 결과를 확인하지 못했어요").await;
    assert_eq!(page.heading(), "카드 등록을 확인하지 못했어요", "{plan}");
    page.dont_see("카드를 등록하지 못했어요");
    page.dont_see("should-never-be-shown");
    page.see("다시 확인하기");
    // Two failed attempts; Chromium itself resends a request that met a 408 on a reused
    // connection, so the backend may see more posts there (with the same key: checked below).
    let posts = posts_received(&id).await;
    assert!(
        posts == 2 || (plan == "status408" && posts > 2),
        "{plan}: two failed attempts, the backend saw {posts} posts"
    );
    assert!(
        session_item("tossBilling.handoff")
            .unwrap()
            .contains(&auth_key_of(&redirect)),
        "{plan}: the authKey is kept in this tab"
    );

    heal_backend(&id).await;
    page.click_check_again();
    page.until_sees("카드가 등록되었어요").await;
    page.see("433012******123*");
    assert_eq!(posts_received(&id).await, posts + 1, "{plan}");
    all_posts_alike(&id).await;
    assert!(
        !session_item("tossBilling.handoff")
            .unwrap()
            .contains(&auth_key_of(&redirect)),
        "{plan}: forgotten once registered"
    );
}

#[wasm_bindgen_test]
async fn a_2xx_the_page_cannot_read_is_unconfirmed_never_failed() {
    an_answer_that_is_not_final_keeps_the_key("unreadable200").await;
    an_answer_that_is_not_final_keeps_the_key("garbage").await;
}

#[wasm_bindgen_test]
async fn a_408_is_unconfirmed_and_check_again_registers() {
    an_answer_that_is_not_final_keeps_the_key("status408").await;
}

#[wasm_bindgen_test]
async fn a_409_is_unconfirmed_and_check_again_registers() {
    an_answer_that_is_not_final_keeps_the_key("status409").await;
}

#[wasm_bindgen_test]
async fn a_429_is_unconfirmed_and_check_again_registers() {
    an_answer_that_is_not_final_keeps_the_key("status429").await;
}

#[wasm_bindgen_test]
async fn a_proxys_html_502_is_unconfirmed_and_check_again_registers() {
    an_answer_that_is_not_final_keeps_the_key("html502").await;
}

#[wasm_bindgen_test]
async fn a_pending_exchange_is_asked_again_until_the_card_is_registered() {
    forget_tab_state();
    sandbox_loaded().await;
    let id = test_id("pending");
    let mut config = base_config(&id);
    config["backendUrl"] = json!(format!("{FIXTURE}/backend/{id}/pending3"));
    // Pending answers are not failed attempts: one failure allowed is plenty.
    config["backendMaxAttempts"] = json!(1);
    let redirect = register_card(&config).await;
    let page = open(&path_and_query(&redirect), &config).await;
    page.until_sees("카드 등록을 마무리하고 있어요").await;
    page.see("카드 등록을 확인하고 있어요");
    page.until_sees("카드가 등록되었어요").await;
    assert_eq!(posts_received(&id).await, 4, "three 202s, then the card");
    all_posts_alike(&id).await;
}

/// Opens the success page on `plan` with a short budget and waits for "still being confirmed";
/// returns the page, the redirect and how long the customer waited.
async fn still_confirming_after(plan: &str, config_patch: Value) -> (Page, String, String, f64) {
    forget_tab_state();
    sandbox_loaded().await;
    let id = test_id(plan);
    let mut config = base_config(&id);
    config["backendUrl"] = json!(format!("{FIXTURE}/backend/{id}/{plan}"));
    config["confirmTimeoutMs"] = json!(5_000);
    for (name, value) in config_patch.as_object().unwrap() {
        config[name] = value.clone();
    }
    let redirect = register_card(&config).await;
    let page = open(&path_and_query(&redirect), &config).await;
    let waited = page.until_sees_within("아직 확인 중이에요", 8_000).await;
    (page, redirect, id, waited)
}

#[wasm_bindgen_test]
async fn a_stalled_body_times_out_and_the_page_says_it_is_still_confirming() {
    let (page, redirect, id, waited) = still_confirming_after(
        "stall",
        json!({"backendTimeoutMs": 1_500, "backendMaxAttempts": 6}),
    )
    .await;
    assert!(
        (4_500.0..5_800.0).contains(&waited),
        "the 5 s budget, not more: {waited} ms"
    );
    page.see("카드 등록을 확인하는 데 시간이 걸리고 있어요");
    page.dont_see("못했어요");
    let posts = posts_received(&id).await;
    assert_eq!(posts, 3, "1.5 s, 1.5 s, then the 0.8 s left");
    assert!(session_item("tossBilling.handoff")
        .unwrap()
        .contains(&auth_key_of(&redirect)));

    heal_backend(&id).await;
    page.click_check_again();
    page.until_sees("카드가 등록되었어요").await;
    assert_eq!(posts_received(&id).await, posts + 1);
    all_posts_alike(&id).await;
}

#[wasm_bindgen_test]
async fn a_backend_that_never_answers_is_still_confirming_when_the_budget_ends() {
    // backendTimeoutMs stays 10 s: the first attempt is cut to the 5 s budget.
    let (page, redirect, id, waited) = still_confirming_after("never", json!({})).await;
    assert!(
        (4_500.0..5_800.0).contains(&waited),
        "the 5 s budget, not the 10 s attempt timeout: {waited} ms"
    );
    assert_eq!(page.heading(), "아직 확인 중이에요");
    page.see("다시 확인하기");
    assert_eq!(posts_received(&id).await, 1);
    assert!(session_item("tossBilling.handoff")
        .unwrap()
        .contains(&auth_key_of(&redirect)));

    // A reload shows the same, and posts nothing by itself.
    drop(page);
    let config = json!({
        "clientKey": CLIENT_KEY,
        "customerKey": "customer-0001",
        "backendUrl": format!("{FIXTURE}/backend/{id}/never"),
        "sdkUrl": sandbox_url(),
        "credentials": "omit",
    });
    let page = open("/billing/success", &config).await;
    page.until_sees("아직 확인 중이에요").await;
    sleep(300).await;
    assert_eq!(posts_received(&id).await, 1, "the reload did not post");

    // Checking again starts a fresh budget, with the same body and key.
    heal_backend(&id).await;
    page.click_check_again();
    page.until_sees("카드가 등록되었어요").await;
    assert_eq!(posts_received(&id).await, 2);
    all_posts_alike(&id).await;
}

#[wasm_bindgen_test]
async fn a_card_without_details_is_registered_and_shows_only_what_it_has() {
    forget_tab_state();
    sandbox_loaded().await;
    let id = test_id("emptycard");
    let mut config = base_config(&id);
    config["backendUrl"] = json!(format!("{FIXTURE}/backend/{id}/emptycard"));
    let redirect = register_card(&config).await;
    let page = open(&path_and_query(&redirect), &config).await;
    page.until_sees("카드가 등록되었어요").await;
    assert!(page.find("dl").is_none(), "no empty rows: {}", page.text());
    page.dont_see("카드사");
    assert!(!session_item("tossBilling.handoff")
        .unwrap()
        .contains(&auth_key_of(&redirect)));
    drop(page);
    // A reload shows the same registered card.
    let page = open("/billing/success", &config).await;
    page.until_sees("카드가 등록되었어요").await;
    assert_eq!(posts_received(&id).await, 1);
    drop(page);

    forget_tab_state();
    sandbox_loaded().await;
    let id = test_id("partialcard");
    config["backendUrl"] = json!(format!("{FIXTURE}/backend/{id}/partialcard"));
    let redirect = register_card(&config).await;
    let page = open(&path_and_query(&redirect), &config).await;
    page.until_sees("카드가 등록되었어요").await;
    page.see("433012******123*");
    page.see("카드 종류");
    page.see("법인");
    page.dont_see("카드사");
    let cells = page.root.query_selector_all("dd").unwrap();
    assert_eq!(cells.length(), 2, "{}", page.text());
    for i in 0..cells.length() {
        let text = cells.item(i).unwrap().text_content().unwrap_or_default();
        assert!(!text.trim().is_empty(), "no empty rows");
    }
}

// ---------------------------------------------------------------------------------------------
// The fail page.

#[wasm_bindgen_test]
async fn each_fail_code_gets_our_own_words() {
    let config = base_config(&test_id("fail"));
    let cases = [
        ("PAY_PROCESS_CANCELED", "카드 등록을 취소하셨어요"),
        ("PAY_PROCESS_ABORTED", "카드 등록 중 문제가 생겨"),
        ("REJECT_CARD_COMPANY", "카드사에서 카드 정보를 거절했어요"),
    ];
    for (code, copy) in cases {
        let page = open(
            &format!("/billing/fail?code={code}&message=%EC%B7%A8%EC%86%8C&keep=1"),
            &config,
        )
        .await;
        page.see(copy);
        assert_eq!(
            current_query(),
            "?keep=1",
            "code and message are scrubbed, the rest kept"
        );
        assert!(page.find("a.tbc-link").is_some(), "a way back");
    }
    let mut en = config.clone();
    en["locale"] = json!("en");
    let page = open("/billing/fail?code=REJECT_CARD_COMPANY&message=x", &en).await;
    page.see("The card company declined the card");
}

#[wasm_bindgen_test]
async fn an_unknown_code_shows_the_code_and_the_message_only_as_capped_text() {
    let config = base_config(&test_id("fail-unknown"));
    let hostile = format!(
        "%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E{}",
        "A".repeat(400)
    );
    let page = open(
        &format!("/billing/fail?code=SOMETHING_ODD&message={hostile}"),
        &config,
    )
    .await;
    page.see("SOMETHING_ODD");
    page.see("<img src=x onerror=alert(1)>");
    assert!(
        page.find("img").is_none(),
        "the message is text, never markup"
    );
    let shown = page
        .find(".tbc-provider-message span")
        .unwrap()
        .text_content()
        .unwrap();
    assert_eq!(shown.chars().count(), 200, "capped");
}

// ---------------------------------------------------------------------------------------------
// The plan summary.

#[wasm_bindgen_test]
async fn the_plan_is_summarised_beside_the_button_in_both_languages() {
    forget_tab_state();
    sandbox_loaded().await;
    let mut config = base_config(&test_id("plan"));
    config["plan"] = json!({"name": "프리미엄 플랜", "amount": 9900, "cycle": "monthly"});
    let page = open("/", &config).await;
    let plan = page.find("dl.tbc-plan").expect("a plan summary");
    let text = plan.text_content().unwrap();
    for part in [
        "프리미엄 플랜",
        "9,900원",
        "매월",
        "카드 등록 즉시",
        "언제든 해지할 수 있어요. 해지하면 다음 결제일부터 결제되지 않아요.",
    ] {
        assert!(text.contains(part), "{part:?} in {text:?}");
    }
    assert_eq!(
        plan.query_selector_all("dt").unwrap().length(),
        5,
        "five labelled rows"
    );
    page.until_ready().await;

    config["locale"] = json!("en");
    config["plan"] = json!({"name": "Pro", "amount": 129000, "cycle": {"everyDays": 14},
        "firstChargeDate": "2026-12-01", "cancelNote": "Cancel from your account page."});
    let page = open("/", &config).await;
    let text = page.find("dl.tbc-plan").unwrap().text_content().unwrap();
    for part in [
        "Pro",
        "₩129,000",
        "every 14 days",
        "1 December 2026",
        "Cancel from your account page.",
    ] {
        assert!(text.contains(part), "{part:?} in {text:?}");
    }

    config.as_object_mut().unwrap().remove("plan");
    let page = open("/", &config).await;
    assert!(page.find(".tbc-plan").is_none(), "no plan, no summary");
}

#[wasm_bindgen_test]
fn the_browsers_plan_reader_accepts_and_refuses_what_serde_does() {
    use toss_billing_checkout::RawConfig;
    for plan in [
        r#"{"name": "프리미엄 플랜", "amount": 9900, "cycle": "monthly"}"#,
        r#"{"name": "x", "amount": 1, "cycle": "yearly", "firstChargeDate": "2026-12-01", "cancelNote": "n"}"#,
        r#"{"name": "x", "amount": 4294967295, "cycle": {"everyDays": 14}}"#,
        r#"{"name": "x", "amount": 4294967296, "cycle": "monthly"}"#,
        r#"{"name": "x", "amount": 0, "cycle": "monthly"}"#,
        r#"{"name": "x", "amount": 1, "cycle": {"everyDays": 14, "x": 1}}"#,
        r#"{"name": "x", "amount": 1, "cycle": "weekly"}"#,
        r#"{"name": "x", "amount": 1, "cycle": {"everyDays": -1}}"#,
        r#"{"name": "x", "amount": 1.5, "cycle": "monthly"}"#,
        r#"{"name": "x", "amount": -1, "cycle": "monthly"}"#,
        r#"{"name": "x", "amount": "1", "cycle": "monthly"}"#,
        r#"{"name": 1, "amount": 1, "cycle": "monthly"}"#,
        r#"{"amount": 1, "cycle": "monthly"}"#,
        r#"{"name": "x", "cycle": "monthly"}"#,
        r#"{"name": "x", "amount": 1}"#,
        r#"{"name": "x", "amount": 1, "cycle": "monthly", "price": 1}"#,
        r#"["not", "an", "object"]"#,
        r#""monthly""#,
    ] {
        let text = format!(
            r#"{{"clientKey": "test_ck_abc", "customerKey": "customer-0001", "plan": {plan}}}"#
        );
        // serde natively, then validation; the browser's reader, then the same validation.
        let serde = serde_json::from_str::<RawConfig>(&text)
            .map_err(|e| e.to_string())
            .and_then(|raw| raw.validate().map_err(|e| e.to_string()))
            .map(|config| config.plan);
        let ours = toss_billing_checkout::config_from_js(js_sys::JSON::parse(&text).unwrap())
            .map_err(|e| e.to_string())
            .map(|config| config.plan);
        match (&serde, &ours) {
            (Ok(a), Ok(b)) => assert_eq!(a, b, "{plan}"),
            (Err(_), Err(message)) => assert!(message.contains("plan"), "{plan}: {message}"),
            _ => panic!("{plan}: serde says {serde:?}, the browser's reader {ours:?}"),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// What the host learns: DOM events on the mount element, Leptos callbacks.

/// The events `recorder` (from `recordEvents`) saw on the element, as `(type, detail)`, after
/// checking each bubbled, was composed, targeted the element and reached the document.
fn events_seen(recorder: &JsValue) -> Vec<(String, Value)> {
    let recorded: Value = serde_json::from_str(&recorded_events(recorder)).unwrap();
    let seen = recorded["seen"].as_array().unwrap();
    assert_eq!(
        recorded["atDocument"].as_array().unwrap().len(),
        seen.len(),
        "every event bubbles up to the document: {recorded}"
    );
    seen.iter()
        .map(|event| {
            assert_eq!(event["bubbles"], json!(true), "{event}");
            assert_eq!(event["composed"], json!(true), "{event}");
            assert_eq!(event["onTarget"], json!(true), "{event}");
            let name = event["type"].as_str().unwrap();
            let name = name.strip_prefix("toss-billing-checkout:").unwrap();
            (name.to_owned(), event["detail"].clone())
        })
        .collect()
}

/// Opens the checkout like [`open`], listening to its events from the moment `mount()` returns
/// (before any await: what a host page's script does).
async fn open_listening(path: &str, config: &Value) -> (Page, JsValue) {
    arrive_at(path);
    let root: web_sys::HtmlElement = document().create_element("div").unwrap().unchecked_into();
    document().body().unwrap().append_child(&root).unwrap();
    let config = js_sys::JSON::parse(&config.to_string()).unwrap();
    let handle = mount(root.clone(), config_from_js(config), all_pages);
    let recorder = record_events(&root);
    leptos::task::tick().await;
    (Page { root, handle }, recorder)
}

async fn until_events(recorder: &JsValue, count: usize) -> Vec<(String, Value)> {
    for _ in 0..300 {
        if events_seen(recorder).len() >= count {
            break;
        }
        sleep(20).await;
    }
    events_seen(recorder)
}

#[wasm_bindgen_test]
async fn closing_the_card_window_fires_cancelled_on_the_mount_element() {
    forget_tab_state();
    sandbox_loaded().await;
    let page = open("/", &base_config(&test_id("cancel-event"))).await;
    let recorder = record_events(&page.root);
    page.until_ready().await;
    set_next_outcome(js_sys::JSON::parse(r#"{"type":"cancel"}"#).unwrap());
    page.button().click();
    let seen = until_events(&recorder, 1).await;
    assert_eq!(
        seen,
        [("cancelled".to_owned(), json!({"code": "USER_CANCEL"}))]
    );

    // A window the page itself closes (destroy() on unmount) is no cancel by the buyer.
    set_next_outcome(js_sys::JSON::parse(r#"{"type":"pending"}"#).unwrap());
    page.until_ready().await;
    page.button().click();
    sleep(50).await;
    let root = page.root.clone();
    drop(page);
    sleep(100).await;
    assert!(!sandbox_is_open());
    assert_eq!(
        events_seen(&recorder).len(),
        1,
        "nothing more: {:?}",
        events_seen(&recorder)
    );
    assert!(root.query_selector(".tbc").unwrap().is_none(), "unmounted");
}

#[wasm_bindgen_test]
async fn the_success_page_fires_registered_failed_and_unconfirmed() {
    forget_tab_state();
    sandbox_loaded().await;
    let id = test_id("registered-event");
    let mut config = base_config(&id);
    config["continueUrl"] = json!("/account?tab=billing");
    let redirect = register_card(&config).await;
    let (page, recorder) = open_listening(&path_and_query(&redirect), &config).await;
    page.until_sees("카드가 등록되었어요").await;
    let seen = until_events(&recorder, 1).await;
    assert_eq!(
        seen,
        [(
            "registered".to_owned(),
            json!({"company": "현대", "number": "433012******123*", "cardType": "신용", "ownerType": "개인"})
        )]
    );
    let link = page.find("a.tbc-continue").expect("the continue link");
    assert_eq!(
        link.get_attribute("href").as_deref(),
        Some("/account?tab=billing")
    );
    assert_eq!(link.text_content().as_deref(), Some("계속하기"));
    // A reload shows the stored outcome (decided while mounting), and says so again.
    drop(page);
    let (page, recorder) = open_listening("/billing/success", &config).await;
    let seen = until_events(&recorder, 1).await;
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].0, "registered");
    drop(page);

    forget_tab_state();
    sandbox_loaded().await;
    let id = test_id("failed-event");
    let mut config = base_config(&id);
    config["backendUrl"] = json!(format!("{FIXTURE}/backend/{id}/refuse"));
    let redirect = register_card(&config).await;
    let (page, recorder) = open_listening(&path_and_query(&redirect), &config).await;
    page.until_sees("카드 번호가 올바르지 않아요").await;
    let seen = until_events(&recorder, 1).await;
    assert_eq!(
        seen,
        [("failed".to_owned(), json!({"code": "INVALID_CARD_NUMBER"}))],
        "{}",
        page.text()
    );
    assert!(
        page.find("a.tbc-continue").is_none(),
        "no continue link without a card"
    );
    drop(page);

    forget_tab_state();
    sandbox_loaded().await;
    let id = test_id("unconfirmed-event");
    let mut config = base_config(&id);
    config["backendUrl"] = json!(format!("{FIXTURE}/backend/{id}/down9"));
    config["backendMaxAttempts"] = json!(1);
    let redirect = register_card(&config).await;
    let (_page, recorder) = open_listening(&path_and_query(&redirect), &config).await;
    let seen = until_events(&recorder, 1).await;
    assert_eq!(
        seen,
        [(
            "unconfirmed".to_owned(),
            json!({"code": "TOSS_UNAVAILABLE"})
        )]
    );
}

#[wasm_bindgen_test]
async fn the_fail_page_fires_failed_or_cancelled_even_to_listeners_added_after_mount() {
    let config = base_config(&test_id("fail-events"));
    for (query, expected) in [
        (
            "?code=REJECT_CARD_COMPANY&message=x",
            ("failed", "REJECT_CARD_COMPANY"),
        ),
        (
            "?code=PAY_PROCESS_CANCELED",
            ("cancelled", "PAY_PROCESS_CANCELED"),
        ),
        ("?code=SOMETHING_ODD", ("failed", "SOMETHING_ODD")),
        ("", ("failed", "UNREADABLE")),
    ] {
        // The page decides while mounting; the host listens once mount() has returned.
        let (page, recorder) = open_listening(&format!("/billing/fail{query}"), &config).await;
        let seen = until_events(&recorder, 1).await;
        assert_eq!(
            seen,
            [(expected.0.to_owned(), json!({ "code": expected.1 }))],
            "{query}"
        );
        sleep(50).await;
        assert_eq!(events_seen(&recorder).len(), 1, "once: {query}");
        drop(page);
    }
}

#[wasm_bindgen_test]
async fn leptos_apps_get_the_outcomes_as_callbacks() {
    use leptos::prelude::*;
    use std::sync::{Arc, Mutex};
    use toss_billing_checkout::{CardRegistration, CardSummary, Checkout, RegistrationFail};
    forget_tab_state();
    sandbox_loaded().await;
    let id = test_id("callbacks");
    let config = base_config(&id);
    let validated = || config_from_js(js_sys::JSON::parse(&config.to_string()).unwrap()).unwrap();
    let heard = Arc::new(Mutex::new(Vec::<String>::new()));
    let root = || -> web_sys::HtmlElement {
        let root: web_sys::HtmlElement = document().create_element("div").unwrap().unchecked_into();
        document().body().unwrap().append_child(&root).unwrap();
        root
    };
    let until_heard = |count: usize| {
        let heard = heard.clone();
        async move {
            for _ in 0..300 {
                if heard.lock().unwrap().len() >= count {
                    break;
                }
                sleep(20).await;
            }
            heard.lock().unwrap().clone()
        }
    };

    // The registration page: on_cancelled.
    arrive_at("/");
    let (target, config_now, sink) = (root(), validated(), heard.clone());
    let mounted = leptos::mount::mount_to(target.clone(), move || {
        view! {
            <CardRegistration config=config_now on_cancelled=move |code: String| sink.lock().unwrap().push(format!("cancelled {code}")) />
        }
    });
    let button = until_ready_in(&target).await;
    set_next_outcome(js_sys::JSON::parse(r#"{"type":"cancel"}"#).unwrap());
    button.click();
    assert_eq!(until_heard(1).await, ["cancelled USER_CANCEL"]);
    drop(mounted);
    target.remove();

    // The fail page: on_failed.
    arrive_at("/billing/fail?code=REJECT_CARD_COMPANY");
    let (target, config_now, sink) = (root(), validated(), heard.clone());
    let mounted = leptos::mount::mount_to(target.clone(), move || {
        view! {
            <RegistrationFail config=config_now on_failed=move |code: String| sink.lock().unwrap().push(format!("failed {code}")) />
        }
    });
    assert_eq!(until_heard(2).await[1], "failed REJECT_CARD_COMPANY");
    drop(mounted);
    target.remove();

    // <Checkout> on the success address: on_registered, with the card.
    let redirect = register_card(&config).await;
    arrive_at(&path_and_query(&redirect));
    let (target, config_now, sink) = (root(), validated(), heard.clone());
    let mounted = leptos::mount::mount_to(target.clone(), move || {
        view! {
            <Checkout config=config_now on_registered=move |card: CardSummary| sink.lock().unwrap().push(format!("registered {}", card.number.unwrap_or_default())) />
        }
    });
    assert_eq!(until_heard(3).await[2], "registered 433012******123*");
    drop(mounted);
    target.remove();
}

// ---------------------------------------------------------------------------------------------
// <toss-billing-checkout>, the loader's custom element.

/// Defines the element (the loader, as in the repo) and `window.TossBillingCheckout` (this test
/// binary's wasm, with every page).
async fn loader_and_api() {
    wasm_bindgen_futures::JsFuture::from(import_loader(FIXTURE))
        .await
        .expect("the loader imports");
    if !has_checkout_global() {
        toss_billing_checkout::expose_js_api(all_pages);
    }
}

/// Waits until the register button inside `root` is ready; returns it.
async fn until_ready_in(root: &web_sys::Element) -> web_sys::HtmlElement {
    let ready = "button.tbc-button[data-state=ready]";
    for _ in 0..300 {
        if let Some(button) = root.query_selector(ready).unwrap() {
            return button.unchecked_into();
        }
        sleep(20).await;
    }
    panic!(
        "the button never became ready; it shows {:?}",
        root.text_content()
    );
}

async fn until_inside(element: &web_sys::HtmlElement, text: &str) {
    for _ in 0..300 {
        if element.text_content().unwrap_or_default().contains(text) {
            return;
        }
        sleep(20).await;
    }
    panic!(
        "expected {text:?}; the element shows {:?}",
        element.text_content()
    );
}

/// A storefront's own script: `TossBillingCheckout.mount(element, config)` gets `{ unmount() }`,
/// which removes the checkout; a second call does nothing. Not an element: a clear error.
#[wasm_bindgen_test]
async fn a_page_script_mounts_through_the_global_and_unmounts_with_what_it_got() {
    forget_tab_state();
    sandbox_loaded().await;
    loader_and_api().await;
    arrive_at("/shop");
    let get = |object: &JsValue, name: &str| js_sys::Reflect::get(object, &name.into()).unwrap();
    let api = get(&web_sys::window().unwrap(), "TossBillingCheckout");
    let mount: js_sys::Function = get(&api, "mount").unchecked_into();
    let config = js_sys::JSON::parse(&base_config(&test_id("global")).to_string()).unwrap();
    let thrown = mount
        .call2(&api, &"#checkout".into(), &config)
        .expect_err("a selector is no element");
    assert_eq!(
        get(&thrown, "message").as_string().as_deref(),
        Some("TossBillingCheckout.mount: the first argument must be an HTML element")
    );
    let root: web_sys::HtmlElement = document().create_element("div").unwrap().unchecked_into();
    document().body().unwrap().append_child(&root).unwrap();
    let mounted = mount.call2(&api, &root, &config).expect("mounted");
    until_ready_in(&root).await;
    let unmount: js_sys::Function = get(&mounted, "unmount").unchecked_into();
    unmount.call0(&mounted).expect("unmounts");
    assert!(root.query_selector(".tbc").unwrap().is_none(), "unmounted");
    unmount
        .call0(&mounted)
        .expect("a second unmount does nothing");
    root.remove();
}

#[wasm_bindgen_test]
async fn the_element_mounts_from_its_attributes_fires_its_events_and_unmounts_when_removed() {
    forget_tab_state();
    sandbox_loaded().await;
    loader_and_api().await;
    arrive_at("/shop");
    let element = checkout_element(&format!(
        r#"<toss-billing-checkout id="checkout" class="shop-checkout" data-shop="1" aria-label="checkout"
            client-key="{CLIENT_KEY}" customer-key="customer-0001" sdk-url="{}" credentials="omit"
            sdk-timeout-ms="9000" locale="en"
            plan='{{"name": "Pro", "amount": 9900, "cycle": "yearly"}}'></toss-billing-checkout>"#,
        sandbox_url()
    ));
    let recorder = record_events(&element);
    document().body().unwrap().append_child(&element).unwrap();
    until_inside(&element, "Register card").await;
    let text = element.text_content().unwrap();
    assert!(text.contains("₩9,900") && text.contains("yearly"), "{text}");
    let button = until_ready_in(&element).await;
    set_next_outcome(js_sys::JSON::parse(r#"{"type":"cancel"}"#).unwrap());
    button.click();
    let seen = until_events(&recorder, 1).await;
    assert_eq!(
        seen,
        [("cancelled".to_owned(), json!({"code": "USER_CANCEL"}))]
    );

    // Removed while its card window is open: unmounted, the window closed, nothing thrown.
    let button = until_ready_in(&element).await;
    set_next_outcome(js_sys::JSON::parse(r#"{"type":"pending"}"#).unwrap());
    button.click();
    sleep(50).await;
    assert!(sandbox_is_open());
    element.remove();
    sleep(100).await;
    assert!(!sandbox_is_open(), "the SDK payment was destroyed");
    assert!(
        element.query_selector(".tbc").unwrap().is_none(),
        "unmounted"
    );
    assert_eq!(
        events_seen(&recorder).len(),
        1,
        "no event for the page's own close"
    );

    // Back in the document: mounted afresh, and it works.
    document().body().unwrap().append_child(&element).unwrap();
    until_inside(&element, "Register card").await;
    assert_eq!(
        element.query_selector_all(".tbc").unwrap().length(),
        1,
        "one checkout, not two"
    );
    element.remove();
}

#[wasm_bindgen_test]
async fn the_element_follows_a_configuration_changed_after_it_is_in_the_page() {
    forget_tab_state();
    sandbox_loaded().await;
    loader_and_api().await;
    arrive_at("/shop");
    let element = checkout_element(&format!(
        r#"<toss-billing-checkout client-key="{CLIENT_KEY}" customer-key="customer-0001" sdk-url="{}" locale="en">
            <script type="application/json">{{"plan": {{"name": "Pro", "amount": 9900, "cycle": "monthly"}}}}</script>
        </toss-billing-checkout>"#,
        sandbox_url()
    ));
    document().body().unwrap().append_child(&element).unwrap();
    until_inside(&element, "Register card").await;
    let button = until_ready_in(&element).await;

    // The page's own attributes (class, data-*) are not configuration: the checkout stays.
    element.set_attribute("class", "wide").unwrap();
    element.set_attribute("data-step", "2").unwrap();
    sleep(100).await;
    assert!(
        until_ready_in(&element).await.is_same_node(Some(&button)),
        "not mounted again"
    );

    // A framework sets an attribute later: the checkout starts again with it.
    element.set_attribute("locale", "ko").unwrap();
    until_inside(&element, "카드 등록하기").await;
    assert_eq!(
        element.query_selector_all(".tbc").unwrap().length(),
        1,
        "one checkout, not two"
    );
    let button = until_ready_in(&element).await;

    // The JSON child's text changes: the new plan.
    let block = element.query_selector("script").unwrap().unwrap();
    block.set_text_content(Some(
        r#"{"plan": {"name": "Team", "amount": 29900, "cycle": "monthly"}}"#,
    ));
    until_inside(&element, "29,900원").await;
    assert!(!until_ready_in(&element).await.is_same_node(Some(&button)));

    // A bad value set later is named, as one given at first is.
    element.set_attribute("sdk-timeout-ms", "soon").unwrap();
    until_inside(&element, "`sdkTimeoutMs` must be a whole number").await;
    assert!(element.query_selector("button").unwrap().is_none());
    element.remove();
}

#[wasm_bindgen_test]
async fn the_element_reads_a_json_child_and_waits_for_the_bundle() {
    forget_tab_state();
    sandbox_loaded().await;
    loader_and_api().await;
    arrive_at("/billing/fail");
    forget_checkout_global();
    let element = checkout_element(&format!(
        r#"<toss-billing-checkout fail-path="/billing/fail" locale="ko">
            <script type="application/json">{{"clientKey": "{CLIENT_KEY}", "customerKey": "customer-0001",
              "locale": "en", "sdkUrl": "{}"}}</script>
        </toss-billing-checkout>"#,
        sandbox_url()
    ));
    let recorder = record_events(&element);
    document().body().unwrap().append_child(&element).unwrap();
    sleep(100).await;
    assert!(
        element.query_selector(".tbc").unwrap().is_none(),
        "nothing before TossBillingCheckout exists"
    );
    // The bundle starts: it offers TossBillingCheckout and fires toss-billing-checkout:ready.
    toss_billing_checkout::expose_js_api(all_pages);
    // The fail page (its address), in Korean: the attribute wins over the JSON child.
    until_inside(&element, "카드 등록 중 오류가 발생했어요").await;
    let seen = until_events(&recorder, 1).await;
    assert_eq!(seen, [("failed".to_owned(), json!({"code": "UNREADABLE"}))]);
    element.remove();
}

#[wasm_bindgen_test]
async fn the_element_reports_bad_attributes_by_field() {
    forget_tab_state();
    loader_and_api().await;
    arrive_at("/");
    for (attributes, message) in [
        (
            format!(r#"client-key="{CLIENT_KEY}" customer-key="customer-0001" client-kye="x""#),
            "unknown field `clientKye`",
        ),
        (
            format!(
                r#"client-key="{CLIENT_KEY}" customer-key="customer-0001" sdk-timeout-ms="soon""#
            ),
            "`sdkTimeoutMs` must be a whole number",
        ),
        (
            format!(r#"client-key="{CLIENT_KEY}" customer-key="customer-0001" plan="premium""#),
            "`plan` must be an object",
        ),
        (
            r#"customer-key="customer-0001""#.to_owned(),
            "`clientKey` is required",
        ),
    ] {
        let element = checkout_element(&format!(
            "<toss-billing-checkout {attributes}></toss-billing-checkout>"
        ));
        document().body().unwrap().append_child(&element).unwrap();
        until_inside(&element, message).await;
        assert!(
            element.query_selector("button").unwrap().is_none(),
            "{attributes}"
        );
        element.remove();
    }
    let element = checkout_element(
        r#"<toss-billing-checkout><script type="application/json">{ not json</script></toss-billing-checkout>"#,
    );
    document().body().unwrap().append_child(&element).unwrap();
    until_inside(&element, "must be a JSON object").await;
    element.remove();
}

#[wasm_bindgen_test]
async fn a_live_key_on_a_plain_http_page_is_refused_before_anything_loads() {
    forget_tab_state();
    remove_toss_global();
    let mut config = base_config(&test_id("live-http"));
    config["clientKey"] = json!("live_ck_D5GePWvyJnrK0W0k6q8gLzN97Eoq");
    config["backendUrl"] = json!("/api/billing/issue");
    config.as_object_mut().unwrap().remove("sdkUrl");
    // The test page is served over http.
    assert_eq!(window().location().protocol().unwrap(), "http:");
    let page = open("/", &config).await;
    page.until_sees("`clientKey`").await;
    page.see("https");
    page.see("상점의 결제 설정에 문제가 있어");
    page.dont_see("D5GePWvyJnrK0W0k6q8gLzN97Eoq");
    assert!(page.button().disabled(), "nothing to click");
    assert!(
        page.find(".tbc-alert button").is_none(),
        "no retry: it cannot help"
    );
    assert_eq!(
        script_tags_with_src("js.tosspayments.com"),
        0,
        "no SDK loaded"
    );
    // With an http:// backend the configuration itself is refused, naming the field.
    config["backendUrl"] = json!("http://api.shop.example/issue");
    let page = open("/", &config).await;
    page.see("`backendUrl`");
    assert!(page.find("button.tbc-button").is_none());

    // A Leptos app that renders the page itself (no mount()): refused before the SDK loads too.
    let validated = toss_billing_checkout::RawConfig {
        client_key: Some("live_ck_D5GePWvyJnrK0W0k6q8gLzN97Eoq".into()),
        customer_key: Some("customer-0001".into()),
        ..Default::default()
    }
    .validate()
    .unwrap();
    let target: web_sys::HtmlElement = document().create_element("div").unwrap().unchecked_into();
    document().body().unwrap().append_child(&target).unwrap();
    let mounted = leptos::mount::mount_to(target.clone(), move || {
        use leptos::prelude::*;
        view! { <toss_billing_checkout::CardRegistration config=validated /> }
    });
    until_inside(&target, "`clientKey`").await;
    assert_eq!(
        script_tags_with_src("js.tosspayments.com"),
        0,
        "no SDK loaded"
    );
    drop(mounted);
    target.remove();
}

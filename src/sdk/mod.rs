//! The only module that touches the `TossPayments` global: the script loader, the typed bindings and
//! the conversion of every throw/rejection into [`SdkError`].
//!
//! The global is looked up at call time (never cached), so tests and the sandbox can install it
//! before a component mounts, and a retried load can succeed after a failed one.
//! Vendor reference: <https://docs.tosspayments.com/sdk/v2/js>.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use js_sys::{Object, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

/// The error data lives in the pure layer (`checkout::sdk_error`), so the copy can name it
/// without depending on this module; this module only converts `JsValue`s into it.
pub use crate::checkout::sdk_error::SdkError;

use crate::checkout::keys::{ClientKey, CustomerKey};
use crate::checkout::request::CardBillingRequest;

/// The marker attribute on script tags this loader (or the boot script) created.
const SCRIPT_MARKER: &str = "data-toss-billing-sdk";
/// The marker's value on a tag the boot script started early and that has not settled yet
/// (scripts/boot.js sets `loaded` or `failed` when it does).
const STARTED_EARLY: &str = "loading";

#[wasm_bindgen]
extern "C" {
    /// What `TossPayments(clientKey)` returns.
    /// <https://docs.tosspayments.com/sdk/v2/js#토스페이먼츠-초기화>
    type JsTossPayments;

    #[wasm_bindgen(catch, js_name = TossPayments)]
    fn js_toss_payments(client_key: &str) -> Result<JsTossPayments, JsValue>;

    /// <https://docs.tosspayments.com/sdk/v2/js#tosspaymentspayment>
    #[wasm_bindgen(method, catch, js_name = payment)]
    fn js_payment(this: &JsTossPayments, options: &JsValue) -> Result<JsPayment, JsValue>;

    /// What `tossPayments.payment({customerKey})` returns.
    #[derive(Clone)]
    type JsPayment;

    /// <https://docs.tosspayments.com/sdk/v2/js#paymentrequestbillingauth>
    #[wasm_bindgen(method, catch, js_name = requestBillingAuth)]
    fn js_request_billing_auth(this: &JsPayment, params: &JsValue) -> Result<JsValue, JsValue>;

    #[wasm_bindgen(method, catch, js_name = destroy)]
    fn js_destroy(this: &JsPayment) -> Result<JsValue, JsValue>;
}

fn global_toss_payments() -> Option<JsValue> {
    let global = js_sys::global();
    let value = Reflect::get(&global, &JsValue::from_str("TossPayments")).ok()?;
    value.is_function().then_some(value)
}

/// Whether `window.TossPayments` is defined right now.
pub fn is_loaded() -> bool {
    global_toss_payments().is_some()
}

/// `TossPayments.ANONYMOUS`, if the SDK defines it (we refuse it for billing; this is for checks).
pub fn anonymous_marker() -> Option<String> {
    Reflect::get(&global_toss_payments()?, &JsValue::from_str("ANONYMOUS"))
        .ok()?
        .as_string()
}

/// Turns anything thrown or rejected by the SDK into plain data at once.
pub fn sdk_error_from_js(value: &JsValue) -> SdkError {
    if value.is_object() {
        let text = |key: &str| {
            Reflect::get(value, &JsValue::from_str(key))
                .ok()
                .and_then(|v| v.as_string())
        };
        return SdkError::from_parts(
            text("code").as_deref(),
            text("name").as_deref(),
            text("message").as_deref(),
        );
    }
    let description = value
        .as_string()
        // The browser formats numbers: Rust's float formatting costs ~10 KB of wasm.
        .or_else(|| {
            value
                .as_f64()
                .and_then(|n| js_sys::Number::from(n).to_string_with_radix(10).ok())
                .map(String::from)
        })
        .unwrap_or_else(|| if value.is_null() { "null" } else { "undefined" }.to_owned());
    SdkError::Unexpected { description }
}

/// Where and how to load the SDK script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptSource {
    /// The script URL (the real SDK by default; the sandbox in the demo and tests).
    pub url: String,
    /// Give up after this long.
    pub timeout_ms: u32,
    /// CSP nonce for the `<script>` tag.
    pub nonce: Option<String>,
}

thread_local! {
    /// One in-flight load per script URL, shared by every caller until it settles.
    static LOADS: RefCell<Vec<(String, Promise)>> = const { RefCell::new(Vec::new()) };
}

/// Loads the SDK script once: reuses an existing global, shares one in-flight load among all callers,
/// never adds a second tag for the same URL, times out, and can be retried after a failure. The
/// load starts when this is called (the tag is added at once), not when the result is awaited: a
/// page can fetch something else meanwhile.
pub fn load_sdk(source: &ScriptSource) -> impl std::future::Future<Output = Result<(), SdkError>> {
    let promise = (!is_loaded()).then(|| {
        LOADS.with(|loads| {
            let mut loads = loads.borrow_mut();
            if let Some((_, promise)) = loads.iter().find(|(url, _)| *url == source.url) {
                return promise.clone();
            }
            let promise = start_load(source);
            loads.push((source.url.clone(), promise.clone()));
            promise
        })
    });
    let (url, timeout_ms) = (source.url.clone(), source.timeout_ms);
    async move {
        let Some(promise) = promise else {
            return Ok(());
        };
        let outcome = JsFuture::from(promise.clone()).await;
        // Forget the settled load, so that a later call after a failure starts afresh.
        LOADS.with(|loads| loads.borrow_mut().retain(|(_, p)| !Object::is(p, &promise)));
        match outcome {
            Ok(_) if is_loaded() => Ok(()),
            Ok(_) => Err(SdkError::NamespaceMissing { url }),
            Err(reason) if reason.as_string().as_deref() == Some("timeout") => {
                Err(SdkError::LoadTimedOut { timeout_ms })
            }
            Err(_) => Err(SdkError::ScriptLoadFailed { url }),
        }
    }
}

fn find_script(document: &web_sys::Document, url: &str) -> Option<web_sys::HtmlScriptElement> {
    let scripts = document.get_elements_by_tag_name("script");
    let absolute = web_sys::Url::new_with_base(url, &document.url().ok()?)
        .ok()?
        .href();
    (0..scripts.length())
        .filter_map(|i| {
            scripts
                .item(i)?
                .dyn_into::<web_sys::HtmlScriptElement>()
                .ok()
        })
        .find(|script| script.src() == absolute)
}

/// A tag the boot script started while the wasm was loading, and that is still on its way, is
/// listened to. Any other tag of ours that is not in flight (in-flight loads are found in `LOADS`
/// first) is stale: it finished without leaving the global, so it is removed and replaced rather
/// than waited on. A tag the page wrote itself may still be loading: that one is listened to.
fn reusable_script(document: &web_sys::Document, url: &str) -> Option<web_sys::HtmlScriptElement> {
    let script = find_script(document, url)?;
    match script.get_attribute(SCRIPT_MARKER).as_deref() {
        None | Some(STARTED_EARLY) => Some(script),
        Some(_) => {
            script.remove();
            None
        }
    }
}

fn add_script(
    document: &web_sys::Document,
    source: &ScriptSource,
) -> Option<web_sys::HtmlScriptElement> {
    let script: web_sys::HtmlScriptElement =
        document.create_element("script").ok()?.unchecked_into();
    script.set_src(&source.url);
    script.set_async(true);
    script.set_attribute(SCRIPT_MARKER, "").ok()?;
    if let Some(nonce) = &source.nonce {
        script.set_attribute("nonce", nonce).ok()?;
    }
    let parent: web_sys::Node = match document.head() {
        Some(head) => head.into(),
        None => document.body()?.into(),
    };
    parent.append_child(&script).ok()?;
    Some(script)
}

/// A promise that settles once, with the first of the script's `load`, its `error`, or the
/// timeout. A failed or timed-out tag is removed, so a retry adds a fresh one and never a duplicate.
fn start_load(source: &ScriptSource) -> Promise {
    let source = source.clone();
    Promise::new(&mut |resolve, reject| {
        let window = web_sys::window().expect("a browser window");
        let script = window.document().and_then(|document| {
            reusable_script(&document, &source.url).or_else(|| add_script(&document, &source))
        });
        let Some(script) = script else {
            let _ = reject.call1(&JsValue::NULL, &JsValue::from_str("error"));
            return;
        };
        let settled = Rc::new(Cell::new(false));
        let timer = Rc::new(Cell::new(0));
        let settle = Rc::new({
            let (script, window, timer) = (script.clone(), window.clone(), timer.clone());
            move |failure: Option<&'static str>| {
                if settled.replace(true) {
                    return;
                }
                window.clear_timeout_with_handle(timer.get());
                if let Some(reason) = failure {
                    script.remove();
                    let _ = reject.call1(&JsValue::NULL, &JsValue::from_str(reason));
                } else {
                    let _ = resolve.call0(&JsValue::NULL);
                }
            }
        });
        let on = |failure: Option<&'static str>| {
            let settle = settle.clone();
            Closure::<dyn Fn()>::new(move || settle(failure))
        };
        let (on_load, on_error, on_timeout) = (on(None), on(Some("error")), on(Some("timeout")));
        let _ = script.add_event_listener_with_callback("load", on_load.as_ref().unchecked_ref());
        let _ = script.add_event_listener_with_callback("error", on_error.as_ref().unchecked_ref());
        if let Ok(handle) = window.set_timeout_with_callback_and_timeout_and_arguments_0(
            on_timeout.as_ref().unchecked_ref(),
            source.timeout_ms as i32,
        ) {
            timer.set(handle);
        }
        // A few bytes per load attempt, for the life of the page.
        on_load.forget();
        on_error.forget();
        on_timeout.forget();
    })
}

/// `TossPayments(clientKey)`.
pub struct TossPayments(JsTossPayments);

impl TossPayments {
    /// Initialises the SDK with a client key; catches what the SDK throws.
    pub fn new(client_key: &ClientKey) -> Result<Self, SdkError> {
        if !is_loaded() {
            return Err(SdkError::NamespaceMissing {
                url: "window.TossPayments".to_owned(),
            });
        }
        js_toss_payments(client_key.as_str())
            .map(Self)
            .map_err(|e| sdk_error_from_js(&e))
    }

    /// `tossPayments.payment({customerKey})`; catches what the SDK throws.
    pub fn payment(&self, customer_key: &CustomerKey) -> Result<Payment, SdkError> {
        let options = Object::new();
        let _ = Reflect::set(
            &options,
            &JsValue::from_str("customerKey"),
            &JsValue::from_str(customer_key.as_str()),
        );
        self.0
            .js_payment(&options)
            .map(Payment)
            .map_err(|e| sdk_error_from_js(&e))
    }
}

/// A payment object for one customer.
#[derive(Clone)]
pub struct Payment(JsPayment);

impl Payment {
    /// `payment.requestBillingAuth({method: "CARD", …})`, called now, when this function is
    /// called (not when the future is first polled): a click handler opens the card window in the
    /// click's own task, before anything re-renders. The future is the outcome. On success the
    /// SDK navigates away, so `Ok` only means "the window took over"; what matters is the `Err`.
    pub fn request_billing_auth(
        &self,
        request: &CardBillingRequest,
    ) -> impl std::future::Future<Output = Result<(), SdkError>> {
        let params = crate::js_data::wire_request(&request.wire());
        let returned = self.0.js_request_billing_auth(&params);
        async move {
            let returned = returned.map_err(|e| sdk_error_from_js(&e))?;
            JsFuture::from(Promise::resolve(&returned))
                .await
                .map(drop)
                .map_err(|e| sdk_error_from_js(&e))
        }
    }

    /// `payment.destroy()`, always safe: it may throw (or reject) when nothing is open, and that
    /// is swallowed here.
    pub fn destroy(&self) {
        if let Ok(returned) = self.0.js_destroy() {
            if let Some(promise) = returned.dyn_ref::<Promise>() {
                let ignore = Closure::once(|_: JsValue| {});
                let _ = promise.catch(&ignore);
                ignore.forget();
            }
        }
    }
}

//! What the host page learns: the checkout's outcomes, as Leptos callbacks for a Leptos app, and as
//! DOM events on the mount element for any other page (`mount`, `[data-toss-billing-checkout]`,
//! `<toss-billing-checkout>`).
//!
//! | event | detail | when |
//! |---|---|---|
//! | `toss-billing-checkout:registered` | the masked card `{company?, number?, cardType?, ownerType?}` | the success page shows the registered card |
//! | `toss-billing-checkout:failed` | `{code}` | a final refusal on the success page; a fail redirect's code on the fail page (`UNREADABLE` when it had none) |
//! | `toss-billing-checkout:cancelled` | `{code}` | the buyer closed Toss's card window: `USER_CANCEL` (registration page), `PAY_PROCESS_CANCELED` (fail page) |
//! | `toss-billing-checkout:unconfirmed` | `{code}` | the success page could not confirm the card yet, or is still confirming it (the last error's code; `INTERRUPTED`, `STORAGE_UNAVAILABLE`) |
//!
//! Every event bubbles and is composed (it crosses shadow roots). An outcome is reported a
//! microtask after the page reaches it, so a host that adds its listeners right after `mount()`
//! returns still hears an outcome decided while mounting (a reloaded success page, the fail page).

use leptos::prelude::*;
use send_wrapper::SendWrapper;
use wasm_bindgen::JsValue;

use crate::checkout::handoff::CardSummary;
use crate::js_data;

/// The prefix of every DOM event the checkout fires.
pub const EVENT_PREFIX: &str = "toss-billing-checkout:";

/// The four outcome callbacks, each optional: what the pages report to their host. A
/// [`crate::Pages`] set receives them; the components take them as props of the same names.
#[derive(Debug, Clone, Copy, Default)]
pub struct Callbacks {
    /// The card is registered: its masked summary.
    pub on_registered: Option<Callback<CardSummary>>,
    /// A final no: the backend's refusal code, or the fail redirect's code.
    pub on_failed: Option<Callback<String>>,
    /// The buyer closed the card window: `USER_CANCEL` or `PAY_PROCESS_CANCELED`.
    pub on_cancelled: Option<Callback<String>>,
    /// No final answer yet: the code of the last error.
    pub on_unconfirmed: Option<Callback<String>>,
}

impl Callbacks {
    /// Callbacks that fire the DOM events above on `target` (what `mount` gives its pages). Make
    /// them inside the mount's reactive owner: they are freed with it, and an outcome that
    /// arrives after the unmount is dropped.
    pub fn dispatching_on(target: &web_sys::HtmlElement) -> Self {
        let target = SendWrapper::new(target.clone());
        let code = |name| event(&target, name, |code: &String| js_data::code_js(code));
        Callbacks {
            on_registered: Some(event(&target, "registered", js_data::card_summary_js)),
            on_failed: Some(code("failed")),
            on_cancelled: Some(code("cancelled")),
            on_unconfirmed: Some(code("unconfirmed")),
        }
    }
}

/// A callback that dispatches `toss-billing-checkout:{name}` on `target` with `detail(value)`.
fn event<T: 'static>(
    target: &SendWrapper<web_sys::HtmlElement>,
    name: &'static str,
    detail: fn(&T) -> JsValue,
) -> Callback<T> {
    let target = target.clone();
    Callback::new(move |value: T| {
        let init = web_sys::CustomEventInit::new();
        init.set_bubbles(true);
        init.set_composed(true);
        init.set_detail(&detail(&value));
        let name = [EVENT_PREFIX, name].concat();
        if let Ok(event) = web_sys::CustomEvent::new_with_event_init_dict(&name, &init) {
            let _ = target.dispatch_event(&event);
        }
    })
}

/// Reports `value` to `callback`, if there is one, a microtask from now; nothing if the page
/// has been unmounted by then.
pub(crate) fn report<T: 'static>(callback: Option<Callback<T>>, value: T) {
    if let Some(callback) = callback {
        queue_microtask(move || {
            let _ = callback.try_run(value);
        });
    }
}

//! What the host page learns: the checkout's outcomes, as Leptos callbacks (the components'
//! `on_*` props) and as DOM events, dispatched on the element the checkout is rendered into: the
//! mount element for `mount`, `[data-toss-billing-checkout]` and `<toss-billing-checkout>`.
//!
//! | event | detail | when |
//! |---|---|---|
//! | `toss-billing-checkout:registered` | the masked card `{company?, number?, cardType?, ownerType?}` | the success page shows the registered card (also a stored one, after a reload) |
//! | `toss-billing-checkout:failed` | `{code}` | a final refusal on the success page; the fail redirect's code on the fail page (`UNREADABLE` when it has none) |
//! | `toss-billing-checkout:cancelled` | `{code}` | the buyer closed Toss's card window: `USER_CANCEL` (registration page), `PAY_PROCESS_CANCELED` (fail page) |
//! | `toss-billing-checkout:unconfirmed` | `{code}` | the success page has no final answer yet: could not confirm, or still confirming (the last error's code, or `INTERRUPTED`, `STORAGE_UNAVAILABLE`) |
//!
//! Every event bubbles and is composed (it crosses shadow roots). An outcome the page reaches
//! while it mounts (the fail page, a reloaded success page) is reported a microtask later, so a
//! host that adds its listeners right after `mount()` returns still hears it; before the page's
//! own scripts have all run, at `DOMContentLoaded`, so the listeners of every script of the page
//! hear it, whichever script ran first. Nothing is reported once the page is unmounted.

use leptos::prelude::*;
use wasm_bindgen::{JsCast, JsValue};

use crate::checkout::handoff::{CardSummary, SubscriptionOutcome};
use crate::js_data;

/// `toss-billing-checkout:registered`.
pub const REGISTERED: &str = "toss-billing-checkout:registered";
/// `toss-billing-checkout:failed`.
pub const FAILED: &str = "toss-billing-checkout:failed";
/// `toss-billing-checkout:cancelled`.
pub const CANCELLED: &str = "toss-billing-checkout:cancelled";
/// `toss-billing-checkout:unconfirmed`.
pub const UNCONFIRMED: &str = "toss-billing-checkout:unconfirmed";

/// The four outcome callbacks, each optional: what a [`crate::Pages`] set hands its pages (the
/// components take them as props of the same names).
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

/// A page's root element: the events go to its parent, the element it is rendered into.
pub(crate) type Root = NodeRef<leptos::html::Section>;

/// Reports an outcome with a code now: to `callback`, and as the DOM event `name` on the parent
/// of `root` (the page's root element, if it is still there).
pub(crate) fn code_now(
    root: Option<web_sys::Element>,
    callback: Option<Callback<String>>,
    name: &str,
    code: &str,
) {
    dispatch(root, name, js_data::code_js(code));
    if let Some(callback) = callback {
        let _ = callback.try_run(code.to_owned());
    }
}

/// [`code_now`], [`later`].
pub(crate) fn code_later(
    root: Root,
    callback: Option<Callback<String>>,
    name: &'static str,
    code: String,
) {
    later(move || code_now(element(root), callback, name, &code));
}

/// Reports the registered card, [`later`].
pub(crate) fn registered_later(
    root: Root,
    callback: Option<Callback<CardSummary>>,
    card: CardSummary,
    subscription: Option<SubscriptionOutcome>,
) {
    later(move || {
        let detail = js_data::card_summary_js(&card);
        // `detail.subscription`: what the registration did to the subscription, when known.
        if let Some(outcome) = &subscription {
            let _ = js_sys::Reflect::set(
                &detail,
                &"subscription".into(),
                &js_data::subscription_outcome_js(outcome),
            );
        }
        dispatch(element(root), REGISTERED, detail);
        if let Some(callback) = callback {
            let _ = callback.try_run(card);
        }
    });
}

/// Runs `report` once the page's scripts have had their turn: a microtask from now, or, while
/// the document's scripts are still running, at `DOMContentLoaded`. (A microtask alone was not
/// enough: the bundle can start while a host's later module script is still being fetched, and
/// then mounts a fail page and reports its code before that script has added its listeners.)
fn later(report: impl FnOnce() + 'static) {
    let Some(window) = web_sys::window() else {
        return queue_microtask(report);
    };
    match window.document() {
        Some(document) if !page_scripts_have_run(&window) => {
            let report = wasm_bindgen::closure::Closure::once_into_js(report);
            let _ = document
                .add_event_listener_with_callback("DOMContentLoaded", report.unchecked_ref());
        }
        _ => queue_microtask(report),
    }
}

/// Whether `DOMContentLoaded` has fired: every script of the document has run. (`readyState`
/// cannot tell: it is already "interactive" while the deferred and module scripts run.)
fn page_scripts_have_run(window: &web_sys::Window) -> bool {
    let Some(performance) = window.performance() else {
        return true;
    };
    let navigation = performance.get_entries_by_type("navigation").get(0);
    js_sys::Reflect::get(
        &navigation,
        &JsValue::from_str("domContentLoadedEventStart"),
    )
    .ok()
    .and_then(|start| start.as_f64())
    .is_none_or(|start| start > 0.0)
}

/// The page's root element, unless the page is gone.
fn element(root: Root) -> Option<web_sys::Element> {
    root.try_get_untracked().flatten().map(Into::into)
}

/// Dispatches `name` on the element the page is rendered into (`root`'s parent): bubbling,
/// composed.
fn dispatch(root: Option<web_sys::Element>, name: &str, detail: JsValue) {
    let Some(target) = root.and_then(|root| root.parent_element()) else {
        return;
    };
    let init = web_sys::CustomEventInit::new();
    init.set_bubbles(true);
    init.set_composed(true);
    init.set_detail(&detail);
    if let Ok(event) = web_sys::CustomEvent::new_with_event_init_dict(name, &init) {
        let _ = target.dispatch_event(&event);
    }
}

//! A card-registration checkout for the TossPayments JS SDK v2 card auto-payment (자동결제, billing)
//! flow, as Leptos components, and as a JS-callable mount and an HTML element for storefronts
//! not written in Rust.
//!
//! # Features: the Leptos rendering mode
//!
//! The crate enables no Leptos mode itself: the app that links it picks one, and the crate
//! forwards it to `leptos`.
//!
//! | feature | for | what the pages do |
//! |---|---|---|
//! | `csr` | client-side rendering: the two shipped bundles, the browser tests, a Leptos CSR app | render in the browser and use it at once |
//! | `hydrate` | the browser half of a Leptos SSR app | hydrate the server's HTML; the browser work (SDK, address, storage) runs in an effect after hydration |
//! | `ssr` | the server half of a Leptos SSR app (native) | render their first state to HTML; no browser API is called |
//!
//! # Three ways to embed it
//!
//! 1. **A Leptos app (CSR)**: `toss-billing-checkout = { …, features = ["csr"] }`, then render
//!    [`Checkout`] (the page for the address) or [`CardRegistration`], [`RegistrationSuccess`],
//!    [`RegistrationFail`] on your own routes, with a [`Config`] from [`RawConfig::validate`] and
//!    the `on_registered` / `on_failed` / `on_cancelled` / `on_unconfirmed` callbacks.
//! 2. **A Leptos SSR app**: the `ssr` feature for the server build, `hydrate` for the browser
//!    build; the same components. Each page's first render is the same on both sides (the
//!    registration page's busy button and plan, the success page's "confirming" state, the fail
//!    page's neutral heading), so hydration finds what the server sent. Give [`Checkout`] the
//!    request's `path` on the server, or use the page components on your routes.
//! 3. **Any page**: the built bundles and their loader (`toss-billing-checkout-loader.js`), then
//!    `<toss-billing-checkout client-key="…" …>`, a `[data-toss-billing-checkout]` element with
//!    the page's JSON configuration block, or `TossBillingCheckout.mount(element, config)` from a
//!    script. The outcomes arrive as DOM events on that element ([`events`]).
//!
//! ```no_run
//! use leptos::prelude::*;
//! use toss_billing_checkout::{CardSummary, Checkout, PlanCycle, PlanSummary, RawConfig};
//!
//! let config = RawConfig {
//!     client_key: Some("test_ck_D5GePWvyJnrK0W0k6q8gLzN97Eoq".into()),
//!     customer_key_url: Some("/api/customer".into()),
//!     plan: Some(PlanSummary {
//!         name: "프리미엄 플랜".into(),
//!         amount: 9_900,
//!         cycle: PlanCycle::Monthly,
//!         first_charge_date: None,
//!         cancel_note: None,
//!     }),
//!     continue_url: Some("/account".into()),
//!     ..RawConfig::default()
//! }
//! .validate()
//! .expect("a valid configuration");
//! leptos::mount::mount_to_body(move || {
//!     view! {
//!         <Checkout
//!             config
//!             on_registered=|card: CardSummary| leptos::logging::log!("registered {:?}", card.number)
//!             on_cancelled=|code: String| leptos::logging::log!("closed the window: {code}")
//!         />
//!     }
//! });
//! ```
//!
//! # Layout
//!
//! - [`checkout`]: pure rules (keys, URLs, redirects, hand-off decisions, configuration, the plan
//!   summary's words, SDK error classification, copy); no web-sys, nothing from above it.
//! - [`sdk`]: the only code that touches the `TossPayments` global.
//! - [`backend`]: the hand-off to the merchant's backend. [`storage`]: this tab's memory.
//! - [`pages`]: the registration, success and fail pages; [`components`]: small shared views;
//!   [`events`]: what the host learns.
//! - [`heap`]: the small allocator the shipped bundles install (the library installs none).

#![deny(missing_docs)]

pub mod backend;
pub mod browser;
pub mod checkout;
pub mod components;
pub mod events;
pub mod heap;
pub mod js_data;
pub mod pages;
pub mod portal;
pub mod sdk;
pub mod storage;

use std::any::Any;

use leptos::prelude::*;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

pub use checkout::config::{Config, ConfigError, Page, RawConfig};
pub use checkout::handoff::CardSummary;
pub use checkout::plan::{PlanCycle, PlanSummary};
pub use events::Callbacks;
pub use pages::{
    all_pages, registration_page, return_pages, CardRegistration, Checkout, ConfigErrorView,
    RegistrationFail, RegistrationSuccess,
};
pub use portal::SubscriptionPortal;

/// The id of the JSON data block a page puts its configuration in:
/// `<script type="application/json" id="toss-billing-config">{…}</script>` (data, not code, so
/// it needs no CSP exception).
pub const CONFIG_ELEMENT_ID: &str = "toss-billing-config";

/// Reads and validates a configuration object handed over from JS.
pub fn config_from_js(value: JsValue) -> Result<Config, ConfigError> {
    js_data::raw_config(value)
        .map_err(ConfigError::Unreadable)?
        .validate()
}

/// Reads and validates the configuration in the page's JSON data block.
pub fn config_from_page() -> Result<Config, ConfigError> {
    let text = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.get_element_by_id(CONFIG_ELEMENT_ID))
        .and_then(|e| e.text_content())
        .ok_or_else(|| {
            ConfigError::Unreadable(["no element with id `", CONFIG_ELEMENT_ID, "`"].concat())
        })?;
    let value = js_sys::JSON::parse(&text)
        .map_err(|_| ConfigError::Unreadable("it is not valid JSON".to_owned()))?;
    config_from_js(value)
}

/// A mounted checkout; dropping it (or calling `unmount`) removes it and destroys the SDK payment.
/// A Rust value only (a page's script gets `{ unmount() }` from [`mount_from_js`]): as a
/// wasm-bindgen class its JS wrapper and exports would ship in every bundle unused.
pub struct CheckoutHandle {
    mounted: Option<Box<dyn Any>>,
}

impl CheckoutHandle {
    /// Removes the checkout from the page.
    pub fn unmount(&mut self) {
        self.mounted = None;
    }
}

/// Which pages a build contains: a function from the configuration, the page the address asks
/// for and the host's callbacks, to its view, or [`ConfigError::NotInBundle`]. Each shipped
/// bundle passes its own set (`src/main.rs`, `src/bin/return.rs`), so the linker drops the other
/// pages' code: the registration page never downloads the success and fail pages.
pub type Pages = fn(Config, Page, Callbacks) -> Result<AnyView, ConfigError>;

/// Mounts the page for the current address, from `pages`, into `target`; its outcomes are DOM
/// events on `target` ([`events`]). A bad configuration renders one clear error naming the
/// field; nothing is loaded or sent then.
pub fn mount(
    target: web_sys::HtmlElement,
    config: Result<Config, ConfigError>,
    pages: Pages,
) -> CheckoutHandle {
    // The page holds the checkout's first state, prerendered at build time (src/bin/prerender.rs):
    // replace it in this same task, so the browser never paints the slot empty.
    if target.has_attribute("data-toss-billing-prerendered") {
        target.set_inner_html("");
        let _ = target.remove_attribute("data-toss-billing-prerendered");
    }
    let mounted = leptos::mount::mount_to(target, move || {
        let page = config.and_then(|config| {
            let page = config.page_for(&browser::address().path);
            pages(config, page, Callbacks::default())
        });
        page.unwrap_or_else(|error| view! { <ConfigErrorView error /> }.into_any())
    });
    CheckoutHandle {
        mounted: Some(Box::new(mounted)),
    }
}

thread_local! {
    /// Checkouts mounted by a page's script: they stay until that script calls `unmount()`,
    /// whatever becomes of the object `mount()` returned. (Were the checkout owned by that
    /// object, the garbage collector would free it when the page drops it: a page that ignored
    /// the return value of `mount()` would lose its checkout at the next collection, mid-purchase.)
    static MOUNTED_FROM_JS: std::cell::RefCell<Vec<Option<CheckoutHandle>>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// `mount(element, config)` for storefront scripts: checks the arguments, then [`mount`]s and
/// keeps the checkout until the page unmounts it. Returns what a page's script gets: a plain
/// object, `{ unmount() }`, which removes the checkout (and destroys the SDK payment); calling it
/// again does nothing. The checkout stays mounted until then, even if the page keeps no
/// reference to the object. (A plain object, not a wasm-bindgen class: the class's JS wrapper,
/// its finalizer and its `free()` shipped in every bundle for one method.)
pub fn mount_from_js(target: JsValue, config: JsValue, pages: Pages) -> Result<JsValue, JsError> {
    let target = target.dyn_into::<web_sys::HtmlElement>().map_err(|_| {
        JsError::new("TossBillingCheckout.mount: the first argument must be an HTML element")
    })?;
    let handle = mount(target, config_from_js(config), pages);
    Ok(keep_mounted(handle))
}

/// Keeps a checkout (or portal) mounted from a page's script until that script calls `unmount()`
/// on the plain object returned.
fn keep_mounted(handle: CheckoutHandle) -> JsValue {
    let slot = MOUNTED_FROM_JS.with(|all| {
        let mut all = all.borrow_mut();
        all.push(Some(handle));
        all.len() - 1
    });
    // The function holds only the slot: when the page drops the object and the collector frees
    // the function, the checkout stays.
    let unmount = Closure::<dyn Fn()>::new(move || {
        let handle =
            MOUNTED_FROM_JS.with(|all| all.borrow_mut().get_mut(slot).and_then(Option::take));
        drop(handle); // outside the borrow: unmounting runs the checkout's cleanup
    });
    let object = js_sys::Object::new();
    let _ = js_sys::Reflect::set(
        &object,
        &JsValue::from_str("unmount"),
        &unmount.into_js_value(),
    );
    object.into()
}

/// Installs `window.TossBillingCheckout = { mount(element, config) }` for storefront scripts (the
/// returned handle has `unmount()`), then fires `toss-billing-checkout:ready` on `window`, so a page
/// script can wait for it without polling.
pub fn expose_js_api(pages: Pages) {
    let Some(window) = web_sys::window() else {
        return;
    };
    let api = js_sys::Object::new();
    let mount = Closure::<dyn Fn(JsValue, JsValue) -> Result<JsValue, JsValue>>::new(
        move |target, config| mount_from_js(target, config, pages).map_err(JsValue::from),
    );
    let _ = js_sys::Reflect::set(&api, &JsValue::from_str("mount"), mount.as_ref());
    mount.forget(); // lives as long as the page
    let _ = js_sys::Reflect::set(&window, &JsValue::from_str("TossBillingCheckout"), &api);
    if let Ok(ready) = web_sys::Event::new("toss-billing-checkout:ready") {
        let _ = window.dispatch_event(&ready);
    }
}

/// Mounts into every element marked `data-toss-billing-checkout`, with the page's JSON
/// configuration. What the demo and a plain-HTML storefront use: no script of their own needed.
pub fn mount_marked_elements(pages: Pages) -> Vec<CheckoutHandle> {
    let Some(document) = web_sys::window().and_then(|w| w.document()) else {
        return vec![];
    };
    let Ok(targets) = document.query_selector_all("[data-toss-billing-checkout]") else {
        return vec![];
    };
    (0..targets.length())
        .filter_map(|i| targets.item(i)?.dyn_into::<web_sys::HtmlElement>().ok())
        .map(|target| mount(target, config_from_page(), pages))
        .collect()
}

/// What a bundle's `main` does: mount the marked elements (for the page's lifetime) and offer
/// `window.TossBillingCheckout`.
pub fn start(pages: Pages) {
    std::mem::forget(mount_marked_elements(pages));
    expose_js_api(pages);
}

/// Reads and validates a portal's configuration object handed over from JS
/// ([`RawConfig::validate_for_portal`]: no customerKey needed).
pub fn portal_config_from_js(value: JsValue) -> Result<Config, ConfigError> {
    js_data::raw_config(value)
        .map_err(ConfigError::Unreadable)?
        .validate_for_portal()
}

/// Mounts the subscription portal into `target`; its actions are DOM events on `target`
/// (`toss-billing-portal:…`). A bad configuration renders one clear error naming the field.
pub fn mount_portal(
    target: web_sys::HtmlElement,
    config: Result<Config, ConfigError>,
) -> CheckoutHandle {
    let mounted = leptos::mount::mount_to(target, move || match config {
        Ok(config) => view! { <SubscriptionPortal config /> }.into_any(),
        Err(error) => view! { <ConfigErrorView error /> }.into_any(),
    });
    CheckoutHandle {
        mounted: Some(Box::new(mounted)),
    }
}

/// What the portal bundle's `main` does: mounts every `[data-toss-billing-portal]` element with
/// the page's JSON configuration block, and offers `window.TossBillingPortal.mount(element,
/// config)` (the handle has `unmount()`), then fires `toss-billing-portal:ready` on `window`.
pub fn start_portal() {
    let Some(window) = web_sys::window() else {
        return;
    };
    if let Some(document) = window.document() {
        if let Ok(targets) = document.query_selector_all("[data-toss-billing-portal]") {
            let config = || {
                let text = document
                    .get_element_by_id(CONFIG_ELEMENT_ID)
                    .and_then(|e| e.text_content())
                    .unwrap_or_else(|| "{}".to_owned());
                js_sys::JSON::parse(&text)
                    .map_err(|_| ConfigError::Unreadable("it is not valid JSON".to_owned()))
                    .and_then(portal_config_from_js)
            };
            for i in 0..targets.length() {
                if let Some(target) = targets.item(i).and_then(|t| t.dyn_into().ok()) {
                    std::mem::forget(mount_portal(target, config()));
                }
            }
        }
    }
    let api = js_sys::Object::new();
    let mount = Closure::<dyn Fn(JsValue, JsValue) -> Result<JsValue, JsValue>>::new(
        move |target: JsValue, config| {
            let target = target.dyn_into::<web_sys::HtmlElement>().map_err(|_| {
                JsValue::from(JsError::new(
                    "TossBillingPortal.mount: the first argument must be an HTML element",
                ))
            })?;
            Ok(keep_mounted(mount_portal(
                target,
                portal_config_from_js(config),
            )))
        },
    );
    let _ = js_sys::Reflect::set(&api, &JsValue::from_str("mount"), mount.as_ref());
    mount.forget(); // lives as long as the page
    let _ = js_sys::Reflect::set(&window, &JsValue::from_str("TossBillingPortal"), &api);
    if let Ok(ready) = web_sys::Event::new("toss-billing-portal:ready") {
        let _ = window.dispatch_event(&ready);
    }
}

//! Small browser facts the pages need, kept out of the views: the address, history scrubbing,
//! randomness, the mobile guess.

use crate::checkout::config::{Config, ConfigError};
use crate::checkout::urls::hex;

/// Whether this build runs in a browser: wasm, not the server half of an SSR app (`ssr`). On a
/// native target every web-sys call panics, so nothing here may be called then.
#[inline(always)] // a constant: the pages' other branch is compiled out of a CSR bundle
pub fn is_available() -> bool {
    cfg!(all(target_arch = "wasm32", not(feature = "ssr")))
}

/// Whether a page may use the browser while it renders: in a browser, and not while hydrating
/// (`hydrate`: the first render must be the server's HTML, so the browser work waits for an
/// effect, which runs after hydration).
#[inline(always)] // a constant in a CSR build: the effect branch is compiled out
fn can_use_now() -> bool {
    #[cfg(feature = "hydrate")]
    if Owner::current_shared_context().is_some_and(|context| context.during_hydration()) {
        return false;
    }
    is_available()
}

/// Runs a page's browser work as early as it may: now while rendering in a browser (CSR), in the
/// first effect when hydrating (after the page has matched the server's HTML), never on the
/// server (effects do not run there). The one place that decides when, for every page.
#[inline(always)] // the effect branch is compiled out of a CSR bundle, as with `can_use_now`
pub fn start_when_usable(mut work: impl FnMut() + 'static) {
    if can_use_now() {
        work();
    } else {
        leptos::prelude::Effect::new(move |_| work());
    }
}

#[cfg(feature = "hydrate")]
use leptos::prelude::Owner;

/// Runs `task` in this task up to its first wait, then as a spawned task: what it starts (a
/// fetch, a timer) starts now, not a microtask later behind the page's re-renders and the rest of
/// the mount. (Each later poll hands its futures the task's own waker.)
pub fn spawn_started(task: impl std::future::Future<Output = ()> + 'static) {
    let mut task = Box::pin(task);
    let mut now = std::task::Context::from_waker(std::task::Waker::noop());
    if task.as_mut().poll(&mut now).is_pending() {
        leptos::task::spawn_local(task);
    }
}

/// Refuses a live client key on a page served over plain http (`location.protocol`).
pub fn check_page_protocol(config: &Config) -> Result<(), ConfigError> {
    let protocol = web_sys::window()
        .and_then(|w| w.location().protocol().ok())
        .unwrap_or_default();
    config.check_page_protocol(&protocol)
}

/// `location.pathname`, `location.search`, `location.hash`, `location.origin`.
pub struct Address {
    /// e.g. `/billing/success`.
    pub path: String,
    /// e.g. `?authKey=…` or empty.
    pub query: String,
    /// e.g. `#top` or empty.
    pub hash: String,
    /// e.g. `https://shop.example`.
    pub origin: String,
}

/// The current address (empty strings outside a browser).
pub fn address() -> Address {
    let location = web_sys::window().map(|w| w.location());
    let read = |f: fn(&web_sys::Location) -> Result<String, wasm_bindgen::JsValue>| {
        location
            .as_ref()
            .and_then(|l| f(l).ok())
            .unwrap_or_default()
    };
    Address {
        path: read(web_sys::Location::pathname),
        query: read(web_sys::Location::search),
        hash: read(web_sys::Location::hash),
        origin: read(web_sys::Location::origin),
    }
}

/// Replaces the current history entry's query without navigating, so one-time values leave the
/// address bar (and the back/forward history) at once.
pub fn replace_query(address: &Address, new_query: &str) {
    if address.query == new_query {
        return;
    }
    if let Some(history) = web_sys::window().and_then(|w| w.history().ok()) {
        let url = [&*address.path, new_query, &address.hash].concat();
        let _ = history.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&url));
    }
}

/// 128 random bits as 32 hex characters, from `crypto.getRandomValues`.
pub fn random_token() -> Option<String> {
    let crypto = web_sys::window()?.crypto().ok()?;
    let mut bytes = [0u8; 16];
    crypto.get_random_values_with_u8_array(&mut bytes).ok()?;
    Some(hex(&bytes))
}

/// Whether Toss will treat this browser as mobile (where the iframe window is not available).
pub fn is_mobile() -> bool {
    let user_agent = web_sys::window()
        .and_then(|w| w.navigator().user_agent().ok())
        .unwrap_or_default();
    crate::checkout::urls::is_mobile_user_agent(&user_agent)
}

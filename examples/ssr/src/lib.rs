//! A Leptos storefront rendered on the server and hydrated in the browser — the usual shape of a
//! Leptos app (`ssr` + `hydrate`, axum through `leptos_axum`) — with the checkout's pages on its
//! own routes: `/` the registration page, `/billing/success` and `/billing/fail` the pages Toss
//! redirects back to. billing-server answers `/api` (the server proxies to it).

pub mod app;

/// The browser half: hydrates what the server rendered.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    leptos::mount::hydrate_body(app::App);
}

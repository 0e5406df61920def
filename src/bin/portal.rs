//! The portal bundle (what the subscription portal's page downloads): mounts every
//! `[data-toss-billing-portal]` element and offers `window.TossBillingPortal.mount`. Neither the
//! registration page nor the success and fail pages download it, nor does it carry their pages;
//! the loader picks it for a page with a portal.

// No `fn main`: wasm-bindgen calls this once the module is instantiated.
#![no_main]

// The small size-class allocator instead of std's dlmalloc (src/heap.rs).
toss_billing_checkout::install_bundle_heap!();

#[wasm_bindgen::prelude::wasm_bindgen(start)]
fn start() {
    toss_billing_checkout::start_portal();
}

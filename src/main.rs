//! The registration bundle (what the registration page downloads): mounts every
//! `[data-toss-billing-checkout]` element and offers `window.TossBillingCheckout.mount`, with the
//! registration page only. The success and fail pages are the return bundle (`src/bin/return.rs`);
//! the loader picks one by address.

// No `fn main`: std's runtime start-up (its stdout and thread bookkeeping, ~1 KB of wasm) has
// nothing to do in a page; wasm-bindgen calls this once the module is instantiated.
#![no_main]

// The small size-class allocator instead of std's dlmalloc: ~5 KB less wasm (src/heap.rs).
toss_billing_checkout::install_bundle_heap!();

#[wasm_bindgen::prelude::wasm_bindgen(start)]
fn start() {
    toss_billing_checkout::start(toss_billing_checkout::registration_page);
}

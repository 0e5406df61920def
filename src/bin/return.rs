//! The return bundle (what the success and fail pages download): the pages Toss redirects to, with
//! the hand-off to the backend. The registration bundle is `src/main.rs`; the loader picks one by
//! address.

// No `fn main`: std's runtime start-up (its stdout and thread bookkeeping, ~1 KB of wasm) has
// nothing to do in a page; wasm-bindgen calls this once the module is instantiated.
#![no_main]

// The small size-class allocator instead of std's dlmalloc: ~5 KB less wasm (src/heap.rs).
toss_billing_checkout::install_bundle_heap!();

#[wasm_bindgen::prelude::wasm_bindgen(start)]
fn start() {
    toss_billing_checkout::start(toss_billing_checkout::return_pages);
}

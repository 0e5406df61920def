//! The development bundle (`trunk serve dev.html`, which `scripts/dev.sh` runs): every page in one
//! bundle, because the dev server answers every address with the same document. Never shipped:
//! the release has a bundle per page kind (`src/main.rs`, `src/bin/return.rs`).

// No `fn main`: std's runtime start-up (its stdout and thread bookkeeping, ~1 KB of wasm) has
// nothing to do in a page; wasm-bindgen calls this once the module is instantiated.
#![no_main]

// The shipped bundles' allocator (src/heap.rs), so the dev loop runs the pages as they ship.
toss_billing_checkout::install_bundle_heap!();

#[wasm_bindgen::prelude::wasm_bindgen(start)]
fn start() {
    toss_billing_checkout::start(toss_billing_checkout::all_pages);
}

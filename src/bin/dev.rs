//! The development bundle (`trunk serve dev.html`, which `scripts/dev.sh` runs): every page in one
//! bundle, because the dev server answers every address with the same document. Never shipped:
//! the release has a bundle per page kind (`src/main.rs`, `src/bin/return.rs`).

fn main() {
    toss_billing_checkout::start(toss_billing_checkout::all_pages);
}

//! The return bundle (what the success and fail pages download): the pages Toss redirects to, with
//! the hand-off to the backend. The registration bundle is `src/main.rs`; the loader picks one by
//! address.

fn main() {
    toss_billing_checkout::start(toss_billing_checkout::return_pages);
}

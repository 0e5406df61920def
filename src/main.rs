//! The registration bundle (what the registration page downloads): mounts every
//! `[data-toss-billing-checkout]` element and offers `window.TossBillingCheckout.mount`, with the
//! registration page only. The success and fail pages are the return bundle (`src/bin/return.rs`);
//! the loader picks one by address.

fn main() {
    toss_billing_checkout::start(toss_billing_checkout::registration_page);
}

//! The demo and plain-HTML entry point: mount into every `[data-toss-billing-checkout]` element,
//! and offer `window.TossBillingCheckout.mount` to page scripts.

fn main() {
    // The handles live as long as the page.
    std::mem::forget(toss_billing_checkout::mount_marked_elements());
    toss_billing_checkout::expose_js_api();
}

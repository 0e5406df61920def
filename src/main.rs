//! The demo and plain-HTML entry point: mount into every `[data-toss-billing-checkout]` element.

fn main() {
    // The handles live as long as the page.
    std::mem::forget(toss_billing_checkout::mount_marked_elements());
}

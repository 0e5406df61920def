// Mounts the checkout when the customer asks for it, with a configuration built by the page.
// `window.TossBillingCheckout` appears when the wasm has started; the ready event says when.
const config = JSON.parse(document.getElementById("toss-billing-config").textContent);

function whenCheckoutReady() {
  if (window.TossBillingCheckout) return Promise.resolve(window.TossBillingCheckout);
  return new Promise((resolve) =>
    window.addEventListener("toss-billing-checkout:ready", () => resolve(window.TossBillingCheckout), { once: true }),
  );
}

let handle = null;
const start = async () => {
  const checkout = await whenCheckoutReady();
  if (handle) handle.unmount();
  handle = checkout.mount(document.getElementById("checkout-slot"), config);
  document.getElementById("subscribe").hidden = true;
};

document.getElementById("subscribe").addEventListener("click", start);

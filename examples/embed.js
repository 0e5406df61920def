// Mounts the checkout when the customer asks for it, with a configuration built by the page, and
// shows the checkout's events as they arrive. `window.TossBillingCheckout` appears when the wasm
// has started; the ready event says when.
const config = JSON.parse(document.getElementById("toss-billing-config").textContent);
const slot = document.getElementById("checkout-slot");
const log = document.getElementById("checkout-events");

// Each event bubbles from the mount element; its detail is plain data ({code}, or the card).
for (const name of ["registered", "failed", "cancelled", "unconfirmed"]) {
  slot.addEventListener(`toss-billing-checkout:${name}`, (event) => {
    const line = document.createElement("li");
    line.textContent = `${event.type} ${JSON.stringify(event.detail)}`;
    log.append(line);
    log.hidden = false;
  });
}

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
  handle = checkout.mount(slot, config);
  document.getElementById("subscribe").hidden = true;
};

document.getElementById("subscribe").addEventListener("click", start);

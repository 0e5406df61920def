// JS helpers for tests/browser.rs: drive the sandbox SDK and read the page like a user would.

export function sandbox() {
  return window.TossPayments && window.TossPayments.__sandbox;
}

// Keep the test page: record navigations instead of following them.
export function resetSandbox() {
  const s = sandbox();
  if (!s) return;
  s.reset();
  s.navigations.length = 0;
  s.navigate = (url) => { s.navigations.push(String(url)); };
  s.mobile = false;
}

export function setNextOutcome(outcome) {
  sandbox().setNextOutcome(outcome);
}

export function sandboxCalls() {
  return JSON.parse(JSON.stringify(sandbox().calls));
}

export function sandboxNavigations() {
  return sandbox().navigations.slice();
}

export function sandboxAcceptsCustomerKey(key) {
  return sandbox().isValidCustomerKey(key);
}

export function mintAuthKey(customerKey) {
  return sandbox().mintAuthKey(customerKey);
}

export function removeTossGlobal() {
  try { delete window.TossPayments; } catch (e) { window.TossPayments = undefined; }
}

export function scriptTagsWithSrc(fragment) {
  return Array.from(document.scripts).filter((s) => s.src.includes(fragment)).length;
}

export function scriptNonce(fragment) {
  const tag = Array.from(document.scripts).find((s) => s.src.includes(fragment));
  return tag ? tag.getAttribute("nonce") : null;
}

// What a thrown SDK error looks like, for the error-conversion tests.
export function thrownBy(clientKey, customerKey) {
  try {
    const tp = window.TossPayments(clientKey);
    if (customerKey !== undefined) tp.payment({ customerKey });
    return null;
  } catch (e) {
    return e;
  }
}

export function clickAll(selector, times) {
  const el = document.querySelector(selector);
  for (let i = 0; i < times; i++) el.click();
}

export function overlayOpen() {
  return !!document.querySelector("[data-tsbx-action]");
}

export function sandboxIsOpen() {
  return sandbox().isOpen();
}

// A browser that refuses to keep anything in sessionStorage (some privacy modes, a full quota).
const realSetItem = Storage.prototype.setItem;
export function refuseSessionStorageWrites(refuse) {
  Storage.prototype.setItem = refuse
    ? function () { throw new DOMException("The quota has been exceeded.", "QuotaExceededError"); }
    : realSetItem;
}

// What reached a listener on the mount element and one on the document, for each checkout event.
const EVENTS = ["registered", "failed", "cancelled", "unconfirmed"];
export function recordEvents(target) {
  const seen = [];
  const atDocument = [];
  for (const name of EVENTS) {
    const type = "toss-billing-checkout:" + name;
    target.addEventListener(type, (event) => {
      seen.push({
        type: event.type,
        detail: event.detail,
        bubbles: event.bubbles,
        composed: event.composed,
        onTarget: event.target === target,
      });
    });
    document.addEventListener(type, (event) => {
      if (event.target === target) atDocument.push(event.type);
    });
  }
  return { seen, atDocument };
}

export function recordedEvents(recorder) {
  return JSON.stringify(recorder);
}

// The loader as it is in the repo (no bundles: importing it only defines <toss-billing-checkout>).
export function importLoader(origin) {
  return import(origin + "/loader/boot.js");
}

export function forgetCheckoutGlobal() {
  delete window.TossBillingCheckout;
}

export function hasCheckoutGlobal() {
  return !!window.TossBillingCheckout;
}

// A <toss-billing-checkout> element from markup, not yet in the document.
export function checkoutElement(markup) {
  const template = document.createElement("template");
  template.innerHTML = markup;
  return template.content.firstElementChild;
}

// The POSTs this page's script starts from now on, counted when fetch() is called (not when they
// arrive). The count is synchronous: a test can read it in the same task.
let postsStarted = 0;
export function countPostsStarted() {
  if (!window.__countingFetch) {
    const fetch = window.fetch.bind(window);
    window.fetch = (input, init) => {
      const method = (init && init.method) || (input instanceof Request ? input.method : "GET");
      if (String(method).toUpperCase() === "POST") postsStarted++;
      return fetch(input, init);
    };
    window.__countingFetch = true;
  }
  postsStarted = 0;
}

export function postsStartedSoFar() {
  return postsStarted;
}

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

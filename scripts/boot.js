// Starts the checkout on this page: defines <toss-billing-checkout>, picks the bundle for the
// address, then boots it. The release build (scripts/assemble-dist.py) fills in BUNDLES and ships
// this as boot-<hash>.js (index.html) and inside toss-billing-checkout-loader.js (any storefront
// page); no inline script is needed.
//
// Three bundles, so each page downloads only its own code: "registration" (the register button),
// "return" (the success and fail pages Toss redirects back to) and "portal" (the subscription
// portal, for a page with a [data-toss-billing-portal] or <toss-billing-portal> element). The rule is the component's own
// (toss_billing_contract::page_for, checked against pageFor below by tests/rules.rs): the
// successPath and failPath of the page's configurations — the block #toss-billing-config and every
// <toss-billing-checkout> element (defaults /billing/success and /billing/fail) — compared without
// query and trailing slashes; every other address is the registration page. A page without either
// (one that mounts from its own script) can name the bundle: toss-billing-checkout-loader.js?bundle=return.
const BUNDLES = /* filled in by assemble-dist.py */ {};

// First, before this script fetches anything: the one-time authKey of Toss's success redirect
// leaves the address bar, where every other script on the page (an analytics tag) could read it.
// The redirect's query moves to this tab's sessionStorage, keyed to this path; the success page's
// component takes it from there (src/storage.rs, take_arrival) and checks it exactly as it would
// check the address. Storage blocked: the address keeps it, and the component scrubs it itself.
if (/[?&]authKey=/.test(location.search)) {
  try {
    sessionStorage.setItem("toss-billing-checkout:arrival", location.pathname + "\n" + location.search);
    const rest = new URLSearchParams(location.search);
    for (const name of ["authKey", "customerKey", "state"]) rest.delete(name);
    const query = rest.toString();
    history.replaceState(history.state, "", location.pathname + (query && "?" + query) + location.hash);
    performance.mark("toss-billing-checkout:authkey-scrubbed");
  } catch {}
}

function pageFor(successPath, failPath, pathname) {
  const bare = (path) => String(path).split("?")[0].replace(/\/+$/, "");
  const here = bare(pathname);
  return here === bare(successPath) ? "success" : here === bare(failPath) ? "fail" : "register";
}

function parsed(text, otherwise) {
  try {
    return JSON.parse(text);
  } catch {
    return otherwise;
  }
}

// <toss-billing-checkout client-key="test_ck_…" customer-key-url="/api/customer" …>: every
// attribute but the global ones (id, class, style, lang, title, hidden, slot, aria-*, data-*) is a
// configuration field in kebab-case. The …Ms and …Attempts fields are numbers; a value that is a
// JSON object or list (plan, callback-query, backend-headers, selectable-card-types) is parsed;
// anything else is a string. A <script type="application/json"> child gives the rest; attributes
// win. The component names whatever is wrong (an unknown attribute is an unknown field).
const HOST_ATTRIBUTE = /^(id|class|style|lang|title|hidden|slot|aria-|data-)/;
const CONFIG_BLOCK = 'script[type="application/json"]';
function elementConfig(element) {
  const block = element.querySelector(":scope > " + CONFIG_BLOCK);
  // Unreadable JSON is handed over as text: the component says the configuration is no object.
  const config = block ? parsed(block.textContent, block.textContent) : {};
  for (const { name, value } of element.attributes) {
    if (HOST_ATTRIBUTE.test(name)) continue;
    const field = name.replace(/-([a-z])/g, (_, letter) => letter.toUpperCase());
    config[field] = /(Ms|Attempts)$/.test(field) ? Number(value) : /^[[{]/.test(value) ? parsed(value, value) : value;
  }
  return config;
}

// Whether a mutation of the element changes its configuration: a configuration attribute, or the
// JSON child (added, removed or its text). The checkout's own rendering inside the element, and
// the host attributes (class, data-*, …), do not.
function changesConfig(element, record) {
  if (record.type === "attributes") return record.target === element && !HOST_ATTRIBUTE.test(record.attributeName);
  const block = (node) => node?.nodeType === 1 && node.matches(CONFIG_BLOCK);
  const parent = record.type === "characterData" ? record.target.parentNode : record.target;
  if (block(parent) && parent.parentNode === element) return true;
  return record.target === element && [...record.addedNodes, ...record.removedNodes].some(block);
}

// Mounted with the bundle's TossBillingCheckout.mount (at once, or on toss-billing-checkout:ready),
// unmounted when it leaves the document; the checkout's events fire on the element. A changed
// configuration (a framework setting attributes after the element is in the page, say) mounts the
// checkout again with it, as taking the element out and putting it back would: an open card
// window closes.
customElements.get("toss-billing-checkout") ||
  customElements.define(
    "toss-billing-checkout",
    class extends HTMLElement {
      connectedCallback() {
        const mount = () => {
          if (this.isConnected && !this.handle) this.handle = TossBillingCheckout.mount(this, elementConfig(this));
        };
        if (window.TossBillingCheckout) mount();
        else addEventListener("toss-billing-checkout:ready", mount, { once: true });
        this.watch ??= new MutationObserver((records) => {
          if (this.handle && records.some((record) => changesConfig(this, record))) {
            this.disconnectedCallback();
            this.connectedCallback();
          }
        });
        this.watch.observe(this, { attributes: true, childList: true, characterData: true, subtree: true });
      }
      disconnectedCallback() {
        this.watch?.disconnect();
        this.handle?.unmount();
        this.handle = null;
      }
    },
  );

// <toss-billing-portal …>: the same attributes and JSON child as <toss-billing-checkout> (the
// portal reads subscription-url, plans-url and card-url too), mounted with the portal bundle's
// TossBillingPortal.mount; its events are toss-billing-portal:…
customElements.get("toss-billing-portal") ||
  customElements.define(
    "toss-billing-portal",
    class extends HTMLElement {
      connectedCallback() {
        const mount = () => {
          if (this.isConnected && !this.handle) this.handle = TossBillingPortal.mount(this, elementConfig(this));
        };
        if (window.TossBillingPortal) mount();
        else addEventListener("toss-billing-portal:ready", mount, { once: true });
      }
      disconnectedCallback() {
        this.handle?.unmount();
        this.handle = null;
      }
    },
  );

const block = document.getElementById("toss-billing-config");
const configs = [...document.querySelectorAll("toss-billing-checkout")].map(elementConfig);
// An unreadable block: the component itself names what is wrong with it.
if (block || !configs.length) configs.unshift(parsed(block?.textContent, {}) ?? {});

function bundleForThisAddress() {
  const asked = new URL(import.meta.url).searchParams.get("bundle");
  if (asked && Object.hasOwn(BUNDLES, asked)) return asked;
  // A page with the subscription portal gets the portal's bundle (a portal and a checkout on one
  // page is not a layout this project ships: the checkout's pages win there).
  if (document.querySelector("[data-toss-billing-portal], toss-billing-portal") && !document.querySelector("[data-toss-billing-checkout], toss-billing-checkout"))
    return "portal";
  const page = (config) =>
    pageFor(config?.successPath ?? "/billing/success", config?.failPath ?? "/billing/fail", location.pathname);
  return configs.some((config) => page(config) !== "register") ? "return" : "registration";
}

// The registration page needs the Toss SDK before its button works. When the page preloads the
// configured SDK script (<link rel="preload" as="script">: the page's own choice to fetch it),
// run it now, while the wasm downloads and compiles, instead of after. The component's loader
// (src/sdk/mod.rs) then uses this tag, told by data-toss-billing-sdk how it went, and replaces
// it if it failed. Without the preload nothing is fetched before the configuration is checked.
function startSdkEarly(config) {
  // The default is the component's (TOSS_SDK_URL in src/checkout/config.rs). An sdkUrl that is no
  // URL is the component's to report: here it only means nothing starts early.
  let url;
  try {
    url = new URL(config?.sdkUrl ?? "https://js.tosspayments.com/v2/standard", location.href).href;
  } catch {
    return;
  }
  const preloads = document.querySelectorAll('link[rel="preload"][as="script"]');
  if (window.TossPayments || ![...preloads].some((link) => link.href === url)) return;
  if ([...document.scripts].some((script) => script.src === url)) return;
  const script = Object.assign(document.createElement("script"), { src: url, async: true });
  const state = (value) => script.setAttribute("data-toss-billing-sdk", value);
  state("loading");
  if (typeof config.sdkNonce === "string") script.nonce = config.sdkNonce;
  script.addEventListener("load", () => state("loaded"));
  script.addEventListener("error", () => state("failed"));
  document.head.append(script);
}

// The wasm, compiled as it downloads, while the glue loads: the glue only instantiates it. A
// server that sends it with another content type than application/wasm gets a warning, and the
// bytes are compiled once they have all arrived (the browser refuses such a response before it
// reads the body, so the body is still there to read).
async function compiled(download) {
  const response = await download;
  if (!response.ok) throw new Error(`failed to fetch Wasm: ${response.status} ${response.statusText} fetching '${response.url}'`);
  try {
    return await WebAssembly.compileStreaming(response);
  } catch (error) {
    if (response.headers.get("Content-Type") === "application/wasm" || response.bodyUsed) throw error;
    console.warn("toss-billing-checkout: serve .wasm as application/wasm; compiling it after the download instead:", error);
    return WebAssembly.compile(await response.arrayBuffer());
  }
}

const which = bundleForThisAddress();
const bundle = BUNDLES[which];
const at = (file) => new URL(file, import.meta.url).href;
// No bundles: the unbuilt source, which the browser tests import for the element alone.
if (bundle) {
  try {
    // Both downloads start now, in parallel, with the integrity checks trunk's preloads had.
    // The wasm is named after its glue: x-<hash>.js, x-<hash>_bg.wasm.
    const module = compiled(fetch(at(bundle.js.replace(/\.js$/, "_bg.wasm")), { integrity: bundle.wasmIntegrity }));
    module.catch(() => {}); // a failure is init's to report, below; not an unhandled rejection meanwhile
    if (which === "registration") startSdkEarly(configs[0]);
    // The glue with its integrity check: the page's own preload of it (the shop's pages have one)
    // or ours. (Not both: every element added to the document costs a frame on a slow phone.)
    const glue = at(bundle.js);
    if (![...document.querySelectorAll('link[rel="modulepreload"]')].some((link) => link.href === glue)) {
      document.head.append(
        Object.assign(document.createElement("link"), { rel: "modulepreload", href: glue, integrity: bundle.jsIntegrity }),
      );
    }
    const { default: init } = await import(glue);
    await init({ module_or_path: module });
  } catch (error) {
    // Without this the buyer would look at an empty box: say so where the checkout should be.
    const english = String(configs[0]?.locale ?? "").startsWith("en");
    for (const slot of document.querySelectorAll("[data-toss-billing-checkout], toss-billing-checkout, [data-toss-billing-portal], toss-billing-portal")) {
      if (slot.querySelector(".tbc")) continue;
      const alert = Object.assign(document.createElement("p"), {
        className: "tbc-alert",
        textContent: english
          ? "The card registration could not be loaded. Please reload the page."
          : "카드 등록 화면을 불러오지 못했어요. 페이지를 새로고침해 주세요.",
      });
      alert.setAttribute("role", "alert");
      const box = Object.assign(document.createElement("div"), { className: "tbc" });
      box.append(alert);
      slot.append(box);
    }
    throw error;
  }
}

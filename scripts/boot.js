// Starts the checkout on this page: picks the bundle for the address, then boots it. The release
// build (scripts/assemble-dist.py) fills in BUNDLES and ships this as boot-<hash>.js (index.html)
// and inside toss-billing-checkout-loader.js (any storefront page); no inline script is needed.
//
// Two bundles, so each page downloads only its own code: "registration" (the register button) and
// "return" (the success and fail pages Toss redirects back to). The rule is the component's own
// (Config::page_for): the successPath and failPath of the page's configuration block
// (#toss-billing-config; defaults /billing/success and /billing/fail), compared without query and
// trailing slashes; every other address is the registration page. A page without the block (one
// that mounts from its own script) can name the bundle: toss-billing-checkout-loader.js?bundle=return.
const BUNDLES = /* filled in by assemble-dist.py */ {};

function configuration() {
  try {
    const config = JSON.parse(document.getElementById("toss-billing-config")?.textContent ?? "");
    return config && typeof config === "object" ? config : {};
  } catch {
    return {}; // the component itself names what is wrong with the block
  }
}

function bundleForThisAddress(config) {
  const asked = new URL(import.meta.url).searchParams.get("bundle");
  if (asked && Object.hasOwn(BUNDLES, asked)) return asked;
  const bare = (path) => String(path).split("?")[0].replace(/\/+$/, "");
  const here = bare(location.pathname);
  const returns = [config.successPath ?? "/billing/success", config.failPath ?? "/billing/fail"];
  return returns.some((path) => bare(path) === here) ? "return" : "registration";
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
    url = new URL(config.sdkUrl ?? "https://js.tosspayments.com/v2/standard", location.href).href;
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

const config = configuration();
const which = bundleForThisAddress(config);
const bundle = BUNDLES[which];
const at = (file) => new URL(file, import.meta.url).href;
try {
  // Both downloads start now, in parallel, with the integrity checks trunk's preloads had.
  const wasm = fetch(at(bundle.wasm), { integrity: bundle.wasmIntegrity });
  if (which === "registration") startSdkEarly(config);
  document.head.append(
    Object.assign(document.createElement("link"), {
      rel: "modulepreload",
      href: at(bundle.js),
      integrity: bundle.jsIntegrity,
    }),
  );
  const { default: init } = await import(at(bundle.js));
  await init({ module_or_path: wasm });
} catch (error) {
  // Without this the buyer would look at an empty box: say so where the checkout should be.
  const english = String(config.locale ?? "").startsWith("en");
  for (const slot of document.querySelectorAll("[data-toss-billing-checkout]")) {
    if (slot.childElementCount) continue;
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

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

const config = configuration();
const bundle = BUNDLES[bundleForThisAddress(config)];
const at = (file) => new URL(file, import.meta.url).href;
try {
  // Both downloads start now, in parallel, with the integrity checks trunk's preloads had.
  const wasm = fetch(at(bundle.wasm), { integrity: bundle.wasmIntegrity });
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

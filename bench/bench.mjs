#!/usr/bin/env node
// Side-by-side page-load benchmark of the checkout against the vanilla and React reference pages.
// Driven by scripts/bench.sh, which builds everything first; usable alone:
//
//   node bench/bench.mjs --page ours=DIST --page react=DIR --page vanilla=DIR --stub sdk-stub.js
//        [--runs 15] [--throttle 4] [--chromium /usr/bin/chromium] [--json out.json] [--trace DIR]
//        [--browser-arg ARG]…
//
// --browser-arg ARG: one more Chromium command-line switch for every run, for experiments that a
// page cannot choose, e.g. --browser-arg=--js-flags=--no-wasm-lazy-compilation (V8 compiling the
// whole wasm while it streams in, instead of each function at its first call).
//
// --trace DIR (with --only trace to skip the timed runs): one traced registration-page load per page
// and throttle, Chromium's trace in DIR/<page>-x<throttle>.json, and a summary of the renderer main
// thread's work (what ran when, from navigation start), to see where a millisecond goes, and how
// many wasm functions V8 compiled at their first call (lazily, on the main thread) and in how long.
//
// Each page set gets its own loopback HTTP server (its own origin), serving every file brotli- or
// gzip-compressed when the browser accepts it (as a real deployment with precompressed assets would),
// the SDK stub at /__stub/js.tosspayments.com/v2/standard, and the hand-off endpoint.
//
// Per run: a fresh browser context (empty profile: no cache, no storage), cache disabled over CDP,
// optional CPU throttling (CDP Emulation.setCPUThrottlingRate) set before the navigation.
//   register page: from navigation start, a script clicks the page's button every 5 ms; the time is
//     the stub's performance.now() timestamp of the first recorded requestBillingAuth call.
//     Every click is classified: no button yet / button disabled (visibly busy) / enabled but did
//     not produce a call before the next tick = a "lost" click (the customer clicked a button that
//     looked ready and nothing happened). "Button first painted": the first animation frame in
//     which the button is laid out (what the customer sees); "first found by a click": the first
//     5 ms tick that found it (at 4x CPU timers wait behind loading work, so this can be later).
//   success page: the time is the Resource Timing startTime of the hand-off POST.
// Runs are interleaved (round-robin over pages, shuffled each round) so machine noise hits all alike.

import { mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import http from "node:http";
import path from "node:path";
import zlib from "node:zlib";
import { chromium } from "playwright-core";

const STUB_PATH = "/__stub/js.tosspayments.com/v2/standard";
const CUSTOMER_KEY = "bench-customer-7f3c2a9e";
const AUTH_KEY = "bench-auth-key-0123456789abcdef";
const STATE = "0123456789abcdef0123456789abcdef";

// ---------------------------------------------------------------------------------------------
// Arguments
// ---------------------------------------------------------------------------------------------
function parseArgs(argv) {
  const args = { pages: [], runs: 15, throttle: 4, latency: 0, mobile: false, chromium: "/usr/bin/chromium", json: null, stub: null, only: null, trace: null, browserArgs: [] };
  for (let i = 0; i < argv.length; i++) {
    const name = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw new Error(`${name} needs a value`);
      return argv[++i];
    };
    switch (name) {
      case "--page": {
        // kind[@label]=dir: kind is ours, react or vanilla; the label names a variant (A/B runs).
        const [spec, dir] = value().split(/=(.*)/s);
        const [kind, label] = spec.split("@");
        if (!["ours", "react", "vanilla", "portal-plain"].includes(kind)) throw new Error(`unknown page kind ${kind}`);
        args.pages.push({ kind, name: label ? `${kind}@${label}` : kind, dir: path.resolve(dir) });
        break;
      }
      case "--runs": args.runs = Number(value()); break;
      case "--throttle": args.throttle = Number(value()); break;
      case "--latency": args.latency = Number(value()); break; // ms added to every request (CDP)
      case "--mobile": args.mobile = true; break; // one more profile: MOBILE below
      case "--chromium": args.chromium = value(); break;
      case "--json": args.json = value(); break;
      case "--stub": args.stub = path.resolve(value()); break;
      case "--only": args.only = value(); break; // "sizes" to skip the browser, "trace" to only trace
      case "--trace": args.trace = path.resolve(value()); break;
      case "--browser-arg": args.browserArgs.push(value()); break;
      case "-h": case "--help":
        console.log(readFileSync(new URL(import.meta.url)).toString().split("\n").slice(1, 8).join("\n"));
        process.exit(0);
      default: throw new Error(`unknown argument ${name}`);
    }
  }
  if (!args.stub) throw new Error("--stub is required");
  if (!args.pages.length) throw new Error("give at least one --page kind=dir");
  if (!(args.runs >= 1)) throw new Error("--runs must be a positive number");
  if (![null, "sizes", "trace"].includes(args.only)) throw new Error("--only is sizes or trace");
  if (args.only === "trace" && !args.trace) throw new Error("--only trace needs --trace DIR");
  return args;
}

// ---------------------------------------------------------------------------------------------
// Profiles: the machine and network each run emulates (CDP)
// ---------------------------------------------------------------------------------------------
// A mid-range phone on a mobile network: 4x slower CPU, 150 ms round trip, 1.6 Mbit/s down,
// 750 kbit/s up (Lighthouse's "slow 4G").
const MOBILE = { key: "mobile", label: "mobile (4x CPU, 150 ms RTT, 1.6 Mbit/s)", cpu: 4, latency: 150, down: 1_600_000 / 8, up: 750_000 / 8 };

function profilesOf(args) {
  const cpu = (n) => ({ key: `${n}x`, label: n > 1 ? `@${n}x CPU` : "unthrottled", cpu: n, latency: args.latency, down: -1, up: -1 });
  const list = args.throttle > 1 ? [cpu(1), cpu(args.throttle)] : [cpu(1)];
  if (args.mobile) list.push(MOBILE);
  return list;
}

// ---------------------------------------------------------------------------------------------
// Paired ratios: ours ÷ theirs within one round, then the median and a 95% bootstrap interval
// ---------------------------------------------------------------------------------------------
// Both pages of a pair are loaded in the same round, seconds apart, so the machine's slow phases
// (this 2-core box drifts ±10% over minutes) hit both: the per-round ratio cancels them, where a
// ratio of two medians does not. The interval is the percentile bootstrap of the median of the
// per-round ratios (a fixed seed: the same runs give the same figures).
function seededRandom(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function bootstrapMedian(xs, resamples = 4000) {
  const random = seededRandom(20261207);
  const medians = [];
  for (let i = 0; i < resamples; i++) {
    const sample = xs.map(() => xs[Math.floor(random() * xs.length)]);
    medians.push(median(sample));
  }
  medians.sort((a, b) => a - b);
  return { median: median(xs), lo: medians[Math.floor(0.025 * resamples)], hi: medians[Math.ceil(0.975 * resamples) - 1], n: xs.length };
}

// The per-round ratios of `a` to `b` (rounds where both measured something).
function perRoundRatios(rounds, a, b) {
  const out = [];
  for (const round of rounds) if (round[a] != null && round[b] != null && round[b] > 0) out.push(round[a] / round[b]);
  return out;
}

const ratioText = (r, goal = null) => {
  if (!r || !r.n) return "n/a";
  const text = `${r.median.toFixed(2)}× [${r.lo.toFixed(2)}–${r.hi.toFixed(2)}] (${r.n} rounds)`;
  return goal === null ? text : `${text}: goal ≤ ${goal}× ${r.hi <= goal ? "met (the interval's upper end is under it)" : "NOT met"}`;
};

// ---------------------------------------------------------------------------------------------
// Sites
// ---------------------------------------------------------------------------------------------
const TYPES = {
  ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
  ".wasm": "application/wasm", ".json": "application/json", ".svg": "image/svg+xml",
  ".ico": "image/x-icon", ".png": "image/png", ".md": "text/markdown; charset=utf-8",
};

function compressed(buffer) {
  return {
    raw: buffer,
    gzip: zlib.gzipSync(buffer, { level: 9 }),
    br: zlib.brotliCompressSync(buffer, {
      params: {
        [zlib.constants.BROTLI_PARAM_QUALITY]: 11,
        [zlib.constants.BROTLI_PARAM_SIZE_HINT]: buffer.length,
      },
    }),
  };
}

function walk(dir, base = dir, out = new Map()) {
  for (const entry of readdirSync(dir)) {
    const full = path.join(dir, entry);
    if (statSync(full).isDirectory()) walk(full, base, out);
    else out.set("/" + path.relative(base, full).split(path.sep).join("/"), readFileSync(full));
  }
  return out;
}

const CONFIG_BLOCK = /(<script type="application\/json" id="toss-billing-config">)([\s\S]*?)(<\/script>)/;

// Our page: the config's sdkUrl pointed at the stub (and any preload of the old sdkUrl with it),
// the customerKey given inline so that no backend is needed for the registration page.
function rewriteOurIndex(html) {
  const match = html.match(CONFIG_BLOCK);
  if (!match) throw new Error("ours: no toss-billing-config JSON block in the built index.html");
  const config = JSON.parse(match[2]);
  const oldSdk = config.sdkUrl;
  config.sdkUrl = STUB_PATH;
  config.customerKey = CUSTOMER_KEY;
  delete config.customerKeyUrl;
  // The demo's checkout session (planId → GET /api/checkout) needs billing-server; the bench
  // measures the page with its customerKey given inline, as before checkout sessions.
  delete config.planId;
  let out = html.replace(CONFIG_BLOCK, (_, open, _body, close) => `${open}${JSON.stringify(config)}${close}`);
  const notes = [];
  if (oldSdk) {
    const escaped = oldSdk.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    const preload = new RegExp(`(<(?:link|script)\\b[^>]*\\b(?:href|src)=")${escaped}(")`, "g");
    const before = out;
    out = out.replace(preload, `$1${STUB_PATH}$2`);
    if (out !== before) notes.push(`the page's own reference to ${oldSdk} (preload or script tag) pointed at the stub`);
  }
  return {
    html: out,
    backendUrl: config.backendUrl || "/api/billing/issue",
    successPath: config.successPath || "/billing/success",
    notes,
  };
}

// The customer API's answers the portal pages read (the same for both portal pages), and the text
// both put on screen once they have them: the next charge, as the portal writes it.
const PORTAL_API = {
  "/api/subscription": {
    customerKey: CUSTOMER_KEY, status: "ACTIVE",
    plan: { id: "premium-monthly", name: "프리미엄 플랜", amount: 9900, cycle: "monthly" },
    amount: 9900, currentPeriodEnd: "2027-01-08T00:00:00+09:00",
    nextCharge: { at: "2027-01-08T00:00:00+09:00", amount: 9900 },
    trialEndsAt: null, cancelAtPeriodEnd: false, endsAt: null,
    card: { company: "현대", number: "433012******123*" }, pendingChange: null,
  },
  "/api/subscription/charges": { charges: [{ orderName: "프리미엄 플랜", amount: 9900, status: "DONE", approvedAt: "2026-12-08T10:00:00+09:00", createdAt: "2026-12-08T10:00:00+09:00", receiptUrl: "https://example.com/receipt", refundedAmount: 0 }] },
  "/api/plans": { plans: [{ id: "basic-monthly", name: "베이직 플랜", amount: 4900, cycle: "monthly" }, { id: "premium-monthly", name: "프리미엄 플랜", amount: 9900, cycle: "monthly" }] },
  "/api/subscription/cancel/preview": { options: { periodEnd: { available: true, refund: 0, endsAt: "2027-01-08T00:00:00+09:00" }, now: { available: true, refund: 6707 }, withdraw: { available: false, refund: 0 } } },
};
const PORTAL_MARKER = "2027년 1월 8일 · 9,900원";

function makeSite(kind, name, dir, stub) {
  const files = walk(dir);
  let indexHtml = files.get("/index.html");
  if (!indexHtml) throw new Error(`${kind}: no index.html in ${dir}`);
  const site = { kind, name, dir, assets: new Map(), routes: new Map(), notes: [], pages: ["register", "success"] };
  if (kind === "portal-plain") {
    // Only an account page: the plain HTML reference for the portal (bench/portal-plain).
    site.pages = ["portal"];
    site.portalUrl = "/";
  } else if (kind === "ours") {
    const rewritten = rewriteOurIndex(indexHtml.toString("utf8"));
    files.set("/index.html", Buffer.from(rewritten.html));
    site.issuePath = rewritten.backendUrl;
    site.successUrl = `${rewritten.successPath}?state=${STATE}&customerKey=${CUSTOMER_KEY}&authKey=${AUTH_KEY}`;
    site.initPending = { customerKey: CUSTOMER_KEY, state: STATE };
    site.issueAnswer = { card: { company: "현대", number: "433012******123*", cardType: "신용", ownerType: "개인" } };
    site.buttonSelector = "section.tbc-register button.tbc-button";
    site.spa = true;
    site.notes.push(...rewritten.notes);
    // The build's second document (the same page preloading the return bundle), served on the
    // success path as billing-server does.
    const returnHtml = files.get("/return.html");
    if (returnHtml) {
      files.set("/return.html", Buffer.from(rewriteOurIndex(returnHtml.toString("utf8")).html));
      site.routes.set(rewritten.successPath.split("?")[0], "/return.html");
    }
    // The account page (the portal's own bundle), served on /account as billing-server does.
    const accountHtml = files.get("/account.html");
    if (accountHtml) {
      files.set("/account.html", Buffer.from(rewriteOurIndex(accountHtml.toString("utf8")).html));
      site.routes.set("/account", "/account.html");
      site.portalUrl = "/account";
      site.pages.push("portal");
    }
  } else {
    site.issuePath = "/issue-billing-key";
    site.successUrl = `/success?customerKey=${CUSTOMER_KEY}&authKey=${AUTH_KEY}`;
    site.initPending = null;
    site.issueAnswer = { billingKey: "bench-billing-key", customerKey: CUSTOMER_KEY };
    site.buttonSelector = "button";
    site.spa = kind !== "vanilla";
    if (kind === "vanilla") {
      site.routes.set("/success", "/success.html");
      site.routes.set("/fail", "/fail.html");
    }
  }
  for (const [p, buffer] of files) site.assets.set(p, { ...compressed(buffer), type: TYPES[path.extname(p)] || "application/octet-stream" });
  site.stub = { ...compressed(readFileSync(stub)), type: TYPES[".js"] };
  return site;
}

function serve(site) {
  site.log = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, "http://x");
    let p = decodeURIComponent(url.pathname);
    if (req.method === "GET" && PORTAL_API[p]) {
      site.log.push({ path: p, method: "GET", api: true });
      const body = Buffer.from(JSON.stringify(PORTAL_API[p]));
      res.writeHead(200, { "content-type": "application/json", "content-length": body.length, "cache-control": "no-store" });
      res.end(body);
      return;
    }
    if (req.method === "POST" && p === site.issuePath) {
      req.resume();
      req.on("end", () => {
        site.log.push({ path: p, method: "POST" });
        const body = Buffer.from(JSON.stringify(site.issueAnswer));
        res.writeHead(200, { "content-type": "application/json", "content-length": body.length, "cache-control": "no-store" });
        res.end(body);
      });
      return;
    }
    let asset;
    let isStub = false;
    if (p === STUB_PATH) { asset = site.stub; isStub = true; }
    else {
      if (site.routes.has(p)) p = site.routes.get(p);
      if (p.endsWith("/")) p += "index.html";
      asset = site.assets.get(p);
      if (!asset && site.spa && !path.extname(p)) { p = "/index.html"; asset = site.assets.get(p); }
    }
    if (!asset || (req.method !== "GET" && req.method !== "HEAD")) {
      site.log.push({ path: p, method: req.method, status: 404 });
      res.writeHead(404, { "content-type": "text/plain" });
      res.end("not found");
      return;
    }
    const accept = String(req.headers["accept-encoding"] || "");
    const encoding = /\bbr\b/.test(accept) ? "br" : /\bgzip\b/.test(accept) ? "gzip" : null;
    const body = encoding ? asset[encoding] : asset.raw;
    site.log.push({ path: p, method: req.method, status: 200, encoding, bytes: body.length, stub: isStub });
    const headers = { "content-type": asset.type, "content-length": body.length, "cache-control": "no-store", vary: "accept-encoding" };
    if (encoding) headers["content-encoding"] = encoding;
    res.writeHead(200, headers);
    res.end(req.method === "HEAD" ? undefined : body);
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => {
    site.origin = `http://127.0.0.1:${server.address().port}`;
    site.server = server;
    resolve(site);
  }));
}

// ---------------------------------------------------------------------------------------------
// In-page instrumentation (an init script: runs in every new document before the page's own code)
// ---------------------------------------------------------------------------------------------
function initScript({ selector, pending, click, marker }) {
  if (window !== window.top) return;
  if (marker) {
    // The account page's facts on screen: the first frame after the marker text is in the page.
    window.__portalShown = null;
    const check = () => {
      if (window.__portalShown !== null || !document.body || !document.body.textContent.includes(marker)) return;
      observer.disconnect();
      requestAnimationFrame(() => { window.__portalShown = performance.now(); });
    };
    const observer = new MutationObserver(check);
    observer.observe(document, { childList: true, subtree: true, characterData: true });
    return;
  }
  if (pending) {
    try { sessionStorage.setItem("tossBilling.pending", JSON.stringify(pending)); } catch (e) { /* measured as a failure */ }
    // When the one-time authKey leaves the address bar (any page's replaceState/pushState that
    // drops it): how long every other script on the page could have read it.
    window.__authKeyGone = null;
    for (const method of ["replaceState", "pushState"]) {
      const original = history[method].bind(history);
      history[method] = (...args) => {
        const result = original(...args);
        if (window.__authKeyGone === null && !/[?&]authKey=/.test(location.search)) window.__authKeyGone = performance.now();
        return result;
      };
    }
  }
  if (!click) return;
  const calls = window.__billingCalls || (window.__billingCalls = []);
  // Layout shift until the first working click (e.g. a prerendered checkout replaced by the wasm's).
  window.__cls = 0;
  try {
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) if (!e.hadRecentInput) window.__cls += e.value;
    }).observe({ type: "layout-shift", buffered: true });
  } catch (e) { /* not measured in this browser */ }
  const log = (window.__bench = { clicks: 0, none: 0, disabled: 0, enabled: 0, lost: 0, firstSeen: null, firstSeenLabel: null, firstSeenDisabled: null, firstEnabled: null, lostAt: [], disabledLabels: {} });
  // When the button is first painted: the first frame (requestAnimationFrame runs just before the
  // browser paints one) in which it is laid out. The 5 ms timer below says when a click could first
  // find it; at 4x CPU the browser runs loading and rendering work before timers, so that time can
  // come hundreds of ms after the button is on screen.
  log.firstPainted = null;
  const frame = () => {
    const button = document.querySelector(selector);
    if (button && button.getClientRects().length > 0) log.firstPainted = performance.now();
    else if (calls.length === 0) requestAnimationFrame(frame);
  };
  requestAnimationFrame(frame);
  let pendingClick = null; // an enabled click whose effect is checked at the next tick
  const timer = setInterval(() => {
    const now = performance.now();
    if (pendingClick !== null && calls.length === 0) {
      log.lost++;
      if (log.lostAt.length < 20) log.lostAt.push(Math.round(pendingClick));
    }
    pendingClick = null;
    if (calls.length > 0) { clearInterval(timer); return; }
    const button = document.querySelector(selector);
    log.clicks++;
    if (!button || button.getClientRects().length === 0) { log.none++; return; }
    const label = (button.textContent || "").trim();
    if (log.firstSeen === null) { log.firstSeen = now; log.firstSeenLabel = label; log.firstSeenDisabled = button.disabled; }
    if (button.disabled) {
      log.disabled++;
      const busy = button.getAttribute("aria-busy");
      const key = `${label} (aria-busy=${busy})`;
      log.disabledLabels[key] = (log.disabledLabels[key] || 0) + 1;
    } else {
      log.enabled++;
      if (log.firstEnabled === null) log.firstEnabled = now;
      pendingClick = now;
    }
    button.click();
  }, 5);
}

// ---------------------------------------------------------------------------------------------
// Runs
// ---------------------------------------------------------------------------------------------
const LAUNCH_ARGS = [
  "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
  "--disable-sync", "--no-first-run", "--disable-quic", "--disable-extensions",
  "--disable-features=Translate,MediaRouter,OptimizationHints",
];

// Polls an expression in the page through CDP until it is true. (Not page.waitForFunction: it
// first injects Playwright's own script into the page, 20 ms of main-thread work at 1x CPU and
// ~100 ms at 4x, at an arbitrary moment of the load being measured.)
async function untilTrue(cdp, expression, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  let problem = "it stayed false";
  for (;;) {
    try {
      const { result, exceptionDetails } = await cdp.send("Runtime.evaluate", { expression, returnByValue: true });
      if (result.value) return result.value;
      if (exceptionDetails) problem = `it threw: ${exceptionDetails.exception?.description ?? exceptionDetails.text}`;
    } catch (error) {
      problem = String(error.message || error); // e.g. the document being replaced: ask again
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${expression} (${problem})`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function oneRun(browser, site, which, profile, tracePath = null) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  try {
    const page = await context.newPage();
    if (tracePath) await browser.startTracing(page, { path: tracePath, categories: TRACE_CATEGORIES });
    const cdp = await context.newCDPSession(page);
    await cdp.send("Network.enable");
    await cdp.send("Network.setCacheDisabled", { cacheDisabled: true });
    if (profile.cpu > 1) await cdp.send("Emulation.setCPUThrottlingRate", { rate: profile.cpu });
    if (profile.latency > 0 || profile.down > 0) {
      // A mobile network: each request pays the round trip; bytes come at the profile's rate.
      await cdp.send("Network.emulateNetworkConditions", { offline: false, latency: profile.latency, downloadThroughput: profile.down, uploadThroughput: profile.up });
    }
    const errors = [];
    page.on("pageerror", (e) => errors.push(String(e.message || e)));
    await page.addInitScript(initScript, {
      selector: site.buttonSelector,
      pending: which === "success" ? site.initPending : null,
      click: which === "register",
      marker: which === "portal" ? PORTAL_MARKER : null,
    });
    site.log = [];
    const url = site.origin + (which === "register" ? "/" : which === "portal" ? site.portalUrl : site.successUrl);
    await page.goto(url, { waitUntil: "commit", timeout: 30_000 });
    if (which === "portal") {
      const t = await untilTrue(cdp, "window.__portalShown");
      return { t, errors, log: site.log };
    }
    if (which === "register") {
      await untilTrue(cdp, "window.__billingCalls?.length > 0");
      const out = await page.evaluate(() => ({
        t: window.__billingCalls[0].t, n: window.__billingCalls.length, params: window.__billingCalls[0].params, bench: { ...window.__bench, cls: window.__cls },
        // Where the time went: when each file was asked for and when it had arrived, and the
        // document's own milestones.
        timeline: [
          ...performance.getEntriesByType("navigation").map((e) => ({ what: "document", start: e.startTime, end: e.responseEnd, dcl: e.domContentLoadedEventEnd })),
          ...performance.getEntriesByType("resource").map((e) => ({ what: new URL(e.name).pathname, start: e.startTime, end: e.responseEnd })),
          ...performance.getEntriesByType("mark").map((e) => ({ what: `mark: ${e.name}`, start: e.startTime, end: e.startTime })),
        ],
      }));
      if (tracePath) await browser.stopTracing();
      return { t: out.t, bench: out.bench, params: out.params, timeline: out.timeline, errors, log: site.log };
    }
    const issue = site.issuePath;
    const t = await untilTrue(cdp, `performance.getEntriesByType("resource").find((e) => new URL(e.name).pathname === ${JSON.stringify(issue)})?.startTime`);
    const scrubbed = await page.evaluate(() => window.__authKeyGone);
    return { t, scrubbed, errors, log: site.log };
  } finally {
    await context.close();
  }
}

const TRACE_CATEGORIES = ["devtools.timeline", "v8.wasm", "disabled-by-default-devtools.timeline", "blink.user_timing", "v8", "loading"];
// The main-thread events worth reading, and the smallest duration shown (ms).
const TRACE_EVENTS = new Set(["ParseHTML", "EvaluateScript", "v8.compileModule", "v8.evaluateModule", "FunctionCall",
  "TimerFire", "FireAnimationFrame", "Layout", "UpdateLayoutTree", "Paint", "PrePaint", "Commit", "RunMicrotasks",
  "v8.compile", "v8.run", "EventDispatch", "v8.wasm.compiledModule", "v8.wasm.instantiate", "HitTest", "MajorGC", "MinorGC"]);
const TRACE_MIN_MS = 1;

/** What the renderer's main thread did, from navigation start: one line per event, nested by time. */
function traceSummary(file) {
  const { traceEvents } = JSON.parse(readFileSync(file, "utf8"));
  const names = new Map(traceEvents.filter((e) => e.ph === "M" && e.name === "thread_name").map((e) => [`${e.pid}:${e.tid}`, e.args.name]));
  const nav = traceEvents.find((e) => e.name === "navigationStart" && e.cat.includes("blink.user_timing"));
  const main = (e) => names.get(`${e.pid}:${e.tid}`) === "CrRendererMain" && (!nav || e.pid === nav.pid);
  const t0 = nav ? nav.ts : Math.min(...traceEvents.filter(main).map((e) => e.ts));
  const events = traceEvents.filter((e) => main(e) && e.ph === "X" && TRACE_EVENTS.has(e.name) && e.dur / 1000 >= TRACE_MIN_MS && e.ts >= t0)
    .sort((a, b) => a.ts - b.ts || b.dur - a.dur);
  const open = [];
  const lines = [];
  for (const e of events) {
    while (open.length && open[open.length - 1] <= e.ts) open.pop();
    const d = e.args && e.args.data;
    const what = d && (d.url || d.functionName || d.type) ? ` ${String(d.url || d.functionName || d.type).replace(/^https?:\/\/[^/]+/, "")}` : "";
    lines.push(`${((e.ts - t0) / 1000).toFixed(1).padStart(7)} ${(e.dur / 1000).toFixed(1).padStart(6)}  ${"  ".repeat(open.length)}${e.name}${what}`);
    open.push(e.ts + e.dur);
  }
  // V8 compiles a wasm function on the main thread at its first call (lazy compilation): a fixed
  // cost per function, whatever its size.
  const lazy = traceEvents.filter((e) => main(e) && e.name === "wasm.CompileLazy" && e.ts >= t0);
  if (lazy.length) {
    const ms = lazy.reduce((sum, e) => sum + e.dur, 0) / 1000;
    const from = (Math.min(...lazy.map((e) => e.ts)) - t0) / 1000;
    const to = (Math.max(...lazy.map((e) => e.ts + e.dur)) - t0) / 1000;
    lines.push(`wasm functions compiled at their first call: ${lazy.length}, ${ms.toFixed(1)} ms in all, between ${from.toFixed(0)} and ${to.toFixed(0)} ms`);
  }
  return lines.join("\n");
}

function shuffle(list) {
  const a = list.slice();
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

const median = (xs) => {
  const s = xs.slice().sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const quantile = (xs, q) => {
  const s = xs.slice().sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.round(q * (s.length - 1))))];
};

// ---------------------------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------------------------
const fmt = (n) => n.toLocaleString("en-US");
function table(header, rows, align) {
  const lines = [`| ${header.join(" | ")} |`, `|${header.map((_, i) => (align[i] === "r" ? "---:" : "---")).join("|")}|`];
  for (const row of rows) lines.push(`| ${row.join(" | ")} |`);
  return lines.join("\n");
}

function sizeReport(sites, filesBySite) {
  const out = [];
  const totals = {};
  for (const site of sites.filter((s) => s.pages.includes("register"))) {
    const files = filesBySite[site.name] || [];
    const rows = [];
    const sum = { raw: 0, gzip: 0, br: 0 };
    for (const p of files) {
      const a = site.assets.get(p);
      rows.push([p.length > 60 ? p.slice(0, 57) + "..." : p, fmt(a.raw.length), fmt(a.gzip.length), fmt(a.br.length)]);
      sum.raw += a.raw.length; sum.gzip += a.gzip.length; sum.br += a.br.length;
    }
    rows.push(["**total**", `**${fmt(sum.raw)}**`, `**${fmt(sum.gzip)}**`, `**${fmt(sum.br)}**`]);
    totals[site.name] = sum;
    out.push(`### ${site.name}: files of the registration page (SDK stub excluded), bytes\n`);
    out.push(table(["file", "raw", "gzip -9", "brotli -q 11"], rows, ["l", "r", "r", "r"]));
    out.push("");
  }
  return { text: out.join("\n"), totals };
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const sites = args.pages.map(({ kind, name, dir }) => makeSite(kind, name, dir, args.stub));
  await Promise.all(sites.map(serve));
  for (const site of sites) for (const note of site.notes) console.log(`note (${site.name}): ${note}`);

  const browserLaunch = () => chromium.launch({ executablePath: args.chromium, headless: true, args: [...LAUNCH_ARGS, ...args.browserArgs] });
  const profiles = profilesOf(args);
  const labelOf = (key) => profiles.find((p) => p.key === key).label;
  const perProfile = () => Object.fromEntries(profiles.map((p) => [p.key, []]));
  const results = {};
  for (const site of sites) results[site.name] = { register: perProfile(), success: perProfile(), portal: perProfile(), clicks: perProfile(), timelines: perProfile(), scrub: perProfile() };
  // rounds[profile][which] = [{ siteName: t, … } per round]: what the paired ratios are made of.
  const rounds = Object.fromEntries(profiles.map((p) => [p.key, { register: [], success: [], portal: [] }]));
  const filesBySite = {};
  const successFilesBySite = {};
  const portalFilesBySite = {};
  const problems = [];

  if (args.trace) {
    mkdirSync(args.trace, { recursive: true });
    const browser = await browserLaunch();
    try {
      for (const profile of profiles) {
        for (const site of sites.filter((s) => s.pages.includes("register"))) {
          // A warm-up load first, untraced: as in the timed runs, the browser's own caches are warm.
          await oneRun(browser, site, "register", profile);
          const file = path.join(args.trace, `${site.name}-${profile.key}.json`);
          const r = await oneRun(browser, site, "register", profile, file);
          console.log(`\n### trace: ${site.name} ${profile.label} (click first works at ${r.t.toFixed(0)} ms; button painted ${r.bench.firstPainted?.toFixed(0)}, enabled ${r.bench.firstEnabled?.toFixed(0)})\n`);
          console.log("```\n  start    dur  main-thread event (ms since navigation start)\n" + traceSummary(file) + "\n```");
        }
      }
    } finally {
      await browser.close();
    }
    if (args.only === "trace") {
      for (const site of sites) site.server.close();
      return;
    }
  }

  if (args.only !== "sizes") {
    // One warm-up round (discarded): first launches pay for disk caches of Chromium itself.
    for (let round = 0; round <= args.runs; round++) {
      const browser = await browserLaunch();
      try {
        for (const profile of profiles) {
          const throttle = profile.key;
          const measured = { register: {}, success: {}, portal: {} };
          for (const site of shuffle(sites)) {
            for (const which of site.pages) {
              let r;
              try {
                r = await oneRun(browser, site, which, profile);
              } catch (e) {
                problems.push(`${site.name} ${which} ${profile.key} round ${round}: ${String(e.message || e).split("\n")[0]}`);
                continue;
              }
              const files = r.log.filter((l) => l.status === 200 && !l.stub).map((l) => l.path);
              if (which === "register" && !filesBySite[site.name]) filesBySite[site.name] = [...new Set(files)];
              if (which === "success" && !successFilesBySite[site.name]) successFilesBySite[site.name] = [...new Set(files)];
              if (which === "portal" && !portalFilesBySite[site.name]) portalFilesBySite[site.name] = [...new Set(files.filter((f) => !PORTAL_API[f]))];
              if (r.errors.length && round === 0) problems.push(`${site.name} ${which}: page errors: ${[...new Set(r.errors)].join("; ")}`);
              if (which === "success" && !r.log.some((l) => l.method === "POST")) problems.push(`${site.name} success: no POST reached the server`);
              if (round === 0) continue;
              results[site.name][which][throttle].push(r.t);
              measured[which][site.name] = r.t;
              if (which === "success") results[site.name].scrub[throttle].push(r.scrubbed);
              if (which === "register") {
                results[site.name].clicks[throttle].push(r.bench);
                results[site.name].timelines[throttle].push({ timeline: r.timeline, bench: r.bench, t: r.t });
              }
            }
          }
          if (round > 0) for (const which of Object.keys(measured)) rounds[throttle][which].push(measured[which]);
        }
      } finally {
        await browser.close();
      }
      process.stderr.write(round === 0 ? "warm-up round done\n" : `round ${round}/${args.runs} done\n`);
    }
  } else {
    // Sizes only: the files a page references are what the browser would fetch; approximate them
    // with every non-map file of the dist folder.
    for (const site of sites) filesBySite[site.name] = [...site.assets.keys()].filter((p) => !p.endsWith(".map"));
  }

  const lines = [];
  const sizes = sizeReport(sites, filesBySite);
  lines.push("## Bytes on the wire\n");
  lines.push(sizes.text);
  const sizeRows = sites.filter((s) => sizes.totals[s.name]).map((s) => [s.name, fmt(sizes.totals[s.name].raw), fmt(sizes.totals[s.name].gzip), `**${fmt(sizes.totals[s.name].br)}**`]);
  lines.push("### Totals (registration page, SDK excluded)\n");
  lines.push(table(["page", "raw", "gzip", "brotli (on the wire)"], sizeRows, ["l", "r", "r", "r"]));
  lines.push("");
  for (const site of sites) {
    const reg = JSON.stringify(filesBySite[site.name] || []);
    const suc = JSON.stringify(successFilesBySite[site.name] || []);
    if (successFilesBySite[site.name] && reg !== suc) {
      const t = (successFilesBySite[site.name] || []).reduce((n, p) => n + site.assets.get(p).br.length, 0);
      lines.push(`${site.name} success page loads ${successFilesBySite[site.name].join(", ")}: ${fmt(t)} bytes brotli.`);
    }
    if (portalFilesBySite[site.name]) {
      const t = portalFilesBySite[site.name].reduce((n, p) => n + site.assets.get(p).br.length, 0);
      const goal = site.kind === "ours" ? ` (goal ≤ 40 KB = 40,960: ${t <= 40_960 ? "met" : "NOT met"})` : "";
      lines.push(`${site.name} account page loads ${portalFilesBySite[site.name].join(", ")}: ${fmt(t)} bytes brotli${goal}.`);
    }
  }

  if (args.only !== "sizes") {
    const ths = profiles.map((p) => p.key);
    const stat = (xs) => xs.length ? `${median(xs).toFixed(0)} (${quantile(xs, 0.25).toFixed(0)}–${quantile(xs, 0.75).toFixed(0)})` : "n/a";
    lines.push(`\n## Times, ms since navigation start: median (p25–p75) of ${args.runs} fresh-profile runs per cell${args.latency ? `, ${args.latency} ms added to every request` : ""}\n`);
    const header = ["page"];
    for (const th of ths) header.push(`click first works (${labelOf(th)})`);
    for (const th of ths) header.push(`success: POST starts (${labelOf(th)})`);
    for (const th of ths) header.push(`account: facts on screen (${labelOf(th)})`);
    const rows = sites.map((s) => [s.name,
      ...ths.map((th) => stat(results[s.name].register[th])),
      ...ths.map((th) => stat(results[s.name].success[th])),
      ...ths.map((th) => stat(results[s.name].portal[th]))]);
    lines.push(table(header, rows, ["l", ...header.slice(1).map(() => "r")]));
    lines.push("\n## Paired ratios: median of the per-round ratios (ours ÷ theirs, measured in the same round) [95% bootstrap interval]\n");
    lines.push("Below 1 = ours is faster. A goal is met when the interval's upper end is under it.\n");
    const pairRows = [];
    for (const s of sites.filter((x) => x.kind === "ours")) {
      for (const th of ths) {
        const ratio = (which, other) => (results[other] ? bootstrapMedian(perRoundRatios(rounds[th][which], s.name, other)) : null);
        pairRows.push([`${s.name} (${labelOf(th)})`,
          ratioText(ratio("register", "react")), ratioText(ratio("success", "react")),
          ratioText(ratio("register", "vanilla")),
          ratioText(ratio("portal", "portal-plain"), 1.3)]);
      }
    }
    lines.push(table(["page, profile", "click first works ÷ react", "success POST starts ÷ react", "click first works ÷ plain HTML", "account facts on screen ÷ plain HTML"], pairRows, ["l", "r", "r", "r", "r"]));
    lines.push(`\n## The authKey in the address bar: ms from navigation start until the page takes it out\n`);
    lines.push("(median (p25–p75) of the success-page runs; \"never\" when the page leaves it there)\n");
    const scrubRows = sites.map((s) => [s.name, ...ths.map((th) => {
      const xs = results[s.name].scrub[th].filter((x) => x !== null && x !== undefined);
      return xs.length === results[s.name].scrub[th].length && xs.length ? stat(xs) : xs.length ? `${stat(xs)}, never in ${results[s.name].scrub[th].length - xs.length} runs` : "never";
    })]);
    lines.push(table(["page", ...ths.map((th) => `authKey visible until (${labelOf(th)})`)], scrubRows, ["l", ...ths.map(() => "r")]));
    lines.push(`\n## Clicks before the first working one (every 5 ms from navigation start), all runs\n`);
    const crow = [];
    for (const s of sites.filter((x) => x.pages.includes("register"))) {
      for (const th of ths) {
        const all = results[s.name].clicks[th];
        const sum = (k) => all.reduce((n, b) => n + (b ? b[k] : 0), 0);
        const seen = all.map((b) => b && b.firstSeen).filter((x) => x !== null && x !== undefined);
        const enabled = all.map((b) => b && b.firstEnabled).filter((x) => x !== null && x !== undefined);
        const painted = all.map((b) => b && b.firstPainted).filter((x) => x !== null && x !== undefined);
        crow.push([`${s.name} ${labelOf(th)}`, fmt(sum("none")), fmt(sum("disabled")), `**${fmt(sum("lost"))}**`,
          painted.length ? median(painted).toFixed(0) : "n/a",
          seen.length ? median(seen).toFixed(0) : "n/a", enabled.length ? median(enabled).toFixed(0) : "n/a"]);
      }
    }
    lines.push(table(["page", "no button yet", "on the disabled (busy) button", "lost: button looked ready, nothing happened", "button first painted (median ms)", "button first found by a click (median ms)", "button first enabled (median ms)"], crow, ["l", "r", "r", "r", "r", "r", "r"]));
    const plain = sites.find((x) => x.name === "vanilla");
    if (plain) {
      const at = (key) => (name, th) => median(results[name].clicks[th].map((b) => b && b[key]).filter((x) => x !== null && x !== undefined));
      const shown = at("firstSeen");
      const painted = at("firstPainted");
      for (const s of sites.filter((x) => x.kind === "ours")) {
        for (const th of ths) {
          const cls = results[s.name].clicks[th].map((b) => (b && b.cls) || 0);
          lines.push(`- ${s.name} ${labelOf(th)}: button first painted ${(painted(s.name, th) / painted("vanilla", th)).toFixed(2)}× the plain HTML page's, first found by a click ${(shown(s.name, th) / shown("vanilla", th)).toFixed(2)}×; layout shift (CLS) median ${median(cls).toFixed(3)}, max ${Math.max(...cls).toFixed(3)}`);
        }
      }
    }
    for (const s of sites) {
      const labels = {};
      for (const th of ths) for (const b of results[s.name].clicks[th]) for (const [k, v] of Object.entries((b && b.disabledLabels) || {})) labels[k] = (labels[k] || 0) + v;
      if (Object.keys(labels).length) lines.push(`- ${s.name}: what a click on the disabled button saw: ${Object.entries(labels).map(([k, v]) => `"${k}" ×${v}`).join(", ")}`);
    }
  }
  if (args.only !== "sizes") {
    const ths = profiles.map((p) => p.key);
    lines.push("\n## Where the time goes on the registration page (medians, ms since navigation start)\n");
    lines.push("When each file was requested and when it had arrived (Resource Timing), then the button's milestones.\n");
    for (const s of sites) {
      for (const th of ths) {
        const runs = results[s.name].timelines[th];
        if (!runs.length) continue;
        const rows = new Map();
        for (const run of runs) {
          for (const e of run.timeline) {
            const name = e.what.replace(/-[0-9a-f]{8,}(?=[._])/g, "-…");
            if (!rows.has(name)) rows.set(name, { start: [], end: [], dcl: [] });
            const row = rows.get(name);
            row.start.push(e.start); row.end.push(e.end);
            if (e.dcl !== undefined) row.dcl.push(e.dcl);
          }
        }
        const ms = (xs) => (xs.length ? median(xs).toFixed(0) : "");
        const out = [...rows].sort((a, b) => median(a[1].start) - median(b[1].start))
          .map(([name, r]) => [name, ms(r.start), ms(r.end)]);
        const doc = rows.get("document");
        if (doc && doc.dcl.length) out.push(["DOMContentLoaded", "", ms(doc.dcl)]);
        const seen = runs.map((r) => r.bench && r.bench.firstSeen).filter((x) => x !== null && x !== undefined);
        const enabled = runs.map((r) => r.bench && r.bench.firstEnabled).filter((x) => x !== null && x !== undefined);
        const painted = runs.map((r) => r.bench && r.bench.firstPainted).filter((x) => x !== null && x !== undefined);
        out.push(["button first painted", "", ms(painted)], ["button first found by a click", "", ms(seen)], ["button first enabled", "", ms(enabled)], ["click first works", "", ms(runs.map((r) => r.t))]);
        lines.push(`### ${s.name} ${labelOf(th)}\n`);
        lines.push(table(["file or milestone", "requested", "arrived / happened"], out, ["l", "r", "r"]));
        lines.push("");
      }
    }
  }
  if (problems.length) {
    lines.push("\n## Problems and page errors (a reference page's own errors are expected: they are its lost clicks)\n");
    for (const p of problems) lines.push(`- ${p}`);
  }
  const text = lines.join("\n");
  console.log(text);
  if (args.json) writeFileSync(args.json, JSON.stringify({ results, rounds, sizes: sizes.totals, files: filesBySite, portalFiles: portalFilesBySite, problems }, null, 2));
  for (const site of sites) site.server.close();
  if (problems.some((p) => !p.includes("page errors"))) process.exitCode = 1;
}

main().catch((e) => {
  console.error(e.stack || String(e));
  process.exit(2);
});

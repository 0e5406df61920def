#!/usr/bin/env bash
# Size and speed of the checkout, side by side with the vanilla and React reference pages
# (not part of the test command). Builds the release frontend, then reports:
#   - every file of the checkout page: raw / gzip / brotli bytes, and the total on the wire
#     (brotli, the Toss SDK excluded), for our page and the two references;
#   - time from navigation start until a click on the button (repeated every 5 ms) first results
#     in a requestBillingAuth call, median over RUNS fresh-profile runs in headless Chromium,
#     unthrottled, at THROTTLE x CPU and on a phone (MOBILE=1: 4x CPU, 150 ms round trip,
#     1.6 Mbit/s); the same for the success page until the hand-off POST starts, and for the
#     account page (the portal) until its facts are on screen, against bench/portal-plain (a plain
#     HTML page doing the same GET);
#   - each of our times against the reference loaded in the same round: the median of those
#     per-round ratios with a 95% bootstrap interval (a goal is met when the upper end is under it);
#   - clicks before ready: on no button / on the disabled, visibly busy button / "lost" (the button
#     looked ready and nothing happened);
#   - where the wasm's bytes go, by crate and by function (twiggy, on a build that keeps names).
#
#   scripts/bench.sh                       # everything, 15 runs per cell (~10 min on 2 cores)
#   RUNS=5 scripts/bench.sh                # quicker, noisier
#   BENCH_SKIP_BUILD=1 scripts/bench.sh    # reuse the last builds in $BENCH_OUT
#
# Settings (environment): RUNS (15), THROTTLE (4), MOBILE (1: the phone profile too; 0 to skip),
# LATENCY (0: ms added to every request of the other profiles), BENCH_OUT (target/bench: builds, copies of the
# reference pages, report.md, results.json), SHARED_BENCH (../shared/bench: the reference pages and
# sdk-stub.js, used where they are; nothing is copied into the repository), CHROMIUM
# (/usr/bin/chromium), CARGO_TARGET_DIR (target).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

RUNS=${RUNS:-15}
THROTTLE=${THROTTLE:-4}
LATENCY=${LATENCY:-0}
MOBILE=${MOBILE:-1}
BENCH_OUT=${BENCH_OUT:-$root/target/bench}
SHARED_BENCH=${SHARED_BENCH:-$root/../shared/bench}
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/target}
mkdir -p "$BENCH_OUT"
BENCH_OUT=$(cd "$BENCH_OUT" && pwd)

step() { printf '\n\033[1m== %s\033[0m\n' "$*" >&2; }

for f in sdk-stub.js vanilla/index.html react/package-lock.json; do
  [[ -f "$SHARED_BENCH/$f" ]] || { echo "bench: $SHARED_BENCH/$f is missing (set SHARED_BENCH)" >&2; exit 1; }
done
SHARED_BENCH=$(cd "$SHARED_BENCH" && pwd)

step "tools"
./scripts/bootstrap.sh >&2
if ! twiggy --version 2>/dev/null | grep -q '0\.8\.0'; then
  echo "installing twiggy 0.8.0 (a few minutes)" >&2
  cargo install twiggy --version 0.8.0 --locked >&2
fi
# The benchmark's own node packages (playwright-core, which drives the Debian Chromium; it never
# downloads a browser), installed exactly as locked.
if [[ ! -d bench/node_modules/playwright-core ]] || [[ bench/package-lock.json -nt bench/node_modules/.package-lock.json ]]; then
  (cd bench && npm ci --no-audit --no-fund >&2)
fi

dist=$BENCH_OUT/dist
names=$BENCH_OUT/names
ref=$BENCH_OUT/ref
if [[ -z "${BENCH_SKIP_BUILD:-}" ]]; then
  step "release build (scripts/build-release.sh, as deployed)"
  rm -rf "$dist"
  ./scripts/build-release.sh "$dist" >&2

  step "a build that keeps function names, for twiggy (profile release-names; never shipped)"
  (
    # The release build's compiler and flags (scripts/build-release.sh), another profile.
    source scripts/release-env.sh
    export CARGO_TARGET_DIR=$CARGO_TARGET_DIR/shipping RUSTUP_TOOLCHAIN=$RELEASE_TOOLCHAIN
    export CARGO_UNSTABLE_BUILD_STD=std,panic_abort RUSTFLAGS=$RELEASE_RUSTFLAGS
    export CARGO_UNSTABLE_BUILD_STD_FEATURES=$RELEASE_BUILD_STD_FEATURES
    cargo build --profile release-names --target wasm32-unknown-unknown --features csr --bin toss-billing-checkout >&2
    rm -rf "$names" && mkdir -p "$names"
    wasm-bindgen --target web --no-typescript --out-dir "$names" \
      "$CARGO_TARGET_DIR/wasm32-unknown-unknown/release-names/toss-billing-checkout.wasm" >&2
  )

  step "reference pages, built from a copy in $ref"
  rm -rf "$ref/vanilla" && mkdir -p "$ref"
  cp -R "$SHARED_BENCH/vanilla" "$ref/vanilla" && chmod -R u+w "$ref/vanilla"
  # Rebuild the React page only when its sources changed (npm ci + vite build take a minute).
  stamp=$(cd "$SHARED_BENCH/react" && find . -path ./node_modules -prune -o -path ./dist -prune -o -type f -print0 |
    sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)
  if [[ ! -f "$ref/react/dist/index.html" ]] || [[ "$(cat "$ref/react/.bench-stamp" 2>/dev/null)" != "$stamp" ]]; then
    rm -rf "$ref/react" && mkdir -p "$ref/react"
    (cd "$SHARED_BENCH/react" && tar --exclude=./node_modules --exclude=./dist -cf - .) | (cd "$ref/react" && tar -xf -)
    chmod -R u+w "$ref/react"
    (cd "$ref/react" && npm ci --no-audit --no-fund >&2 && npx vite build >&2)
    echo "$stamp" > "$ref/react/.bench-stamp"
  fi
fi

report=$BENCH_OUT/report.md
{
  echo "# Checkout size and speed ($(date -u +%Y-%m-%dT%H:%MZ), $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet 2>/dev/null || echo '+changes'))"
  echo
  echo "Command: \`RUNS=$RUNS THROTTLE=$THROTTLE MOBILE=$MOBILE LATENCY=$LATENCY scripts/bench.sh\`; $("$CHROMIUM" --version 2>/dev/null | head -1), $(nproc) cores."
  echo
} > "$report"

mobile_arg=()
[[ "$MOBILE" == 1 ]] && mobile_arg=(--mobile)
step "browser runs: ours, react, vanilla, the plain account page interleaved ($RUNS rounds per profile)"
node bench/bench.mjs \
  --page "ours=$dist" --page "react=$ref/react/dist" --page "vanilla=$ref/vanilla" \
  --page "portal-plain=$root/bench/portal-plain" "${mobile_arg[@]}" \
  --stub "$SHARED_BENCH/sdk-stub.js" --runs "$RUNS" --throttle "$THROTTLE" --latency "$LATENCY" --chromium "$CHROMIUM" \
  --json "$BENCH_OUT/results.json" | tee -a "$report"
status=${PIPESTATUS[0]}

step "where the wasm's bytes go (twiggy)"
wasm=$names/toss-billing-checkout_bg.wasm
{
  echo
  echo "## The wasm by crate and by function"
  echo
  echo "twiggy 0.8 on \`$(basename "$wasm")\` (profile \`release-names\`: the release code with its names"
  echo "kept, before wasm-opt; sizes are raw bytes, the \"function names\" section is not shipped)."
  echo "With LTO, generic code is counted where it was inlined: much of leptos/tachys shows up"
  echo "under toss-billing-checkout's components."
  echo
  twiggy top -n 1000000 --format json "$wasm" | node bench/twiggy-crates.mjs 20
  echo
  echo '```'
  twiggy top -n 25 "$wasm" | cut -c1-160
  echo '```'
} | tee -a "$report"

echo >&2
echo "report: $report" >&2
exit "$status"

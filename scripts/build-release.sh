#!/usr/bin/env bash
# The release frontend, exactly what ships (serve.sh, the e2e tests and the benchmark all use it):
#   scripts/build-release.sh [DIST]        (default: dist/)
# 1. trunk builds three bundles with the pinned compiler of scripts/release-env.sh: return.html →
#    the return bundle (success and fail pages), portal.html → the subscription portal's bundle,
#    index.html → the registration bundle, CSS and files;
# 2. scripts/assemble-dist.py copies the return bundle in and writes the loader that picks a bundle
#    by address, so the page has no inline script (CSP-friendly).
# 3. the registration page's first state is prerendered into index.html (src/bin/prerender.rs).
# `trunk serve` is the dev loop instead (dev.html, scripts/dev.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/release-env.sh
source scripts/release-env.sh

dist=$(realpath -m "${1:-dist}")
# The prerenderer (native, stable, before the release compiler's settings below): the
# registration page's first state as HTML, for index.html's checkout slot.
cargo build -q -p toss-billing-checkout --features prerender --bin toss-billing-prerender
prerender=${CARGO_TARGET_DIR:-$PWD/target}/debug/toss-billing-prerender
# Its own target folder: other flags and another compiler than the tests' builds, which would
# otherwise rebuild each other's dependencies every time.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}/shipping"
export RUSTUP_TOOLCHAIN=$RELEASE_TOOLCHAIN
export CARGO_UNSTABLE_BUILD_STD=std,panic_abort
export CARGO_UNSTABLE_BUILD_STD_FEATURES=$RELEASE_BUILD_STD_FEATURES
export RUSTFLAGS=$RELEASE_RUSTFLAGS

return_dist=$CARGO_TARGET_DIR/return-dist
portal_dist=$CARGO_TARGET_DIR/portal-dist
trunk build --release=true --dist "$return_dist" return.html
trunk build --release=true --dist "$portal_dist" portal.html
trunk build --release=true --dist "$dist" index.html
python3 scripts/assemble-dist.py "$dist" "$return_dist" "$portal_dist" "$prerender"

#!/usr/bin/env bash
# Builds the Leptos SSR + hydrate example (examples/ssr), without cargo-leptos (no downloads):
#   1. the hydrate bundle: the example's lib for wasm32 with `hydrate`, by the release compiler of
#      scripts/release-env.sh (the pinned nightly, as the shipped bundles), then wasm-bindgen into
#      SITE/pkg;
#   2. the server: the example's bin with `ssr` (stable, debug unless RELEASE=1).
#   scripts/build-ssr-example.sh [SITE]    (default target/ssr-example-site)
# Prints the server binary's path on its last line.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/release-env.sh
source scripts/release-env.sh
site=$(realpath -m "${1:-target/ssr-example-site}")
target=${CARGO_TARGET_DIR:-$PWD/target}
(
  export CARGO_TARGET_DIR=$target/shipping RUSTUP_TOOLCHAIN=$RELEASE_TOOLCHAIN
  export CARGO_UNSTABLE_BUILD_STD=std,panic_abort RUSTFLAGS=$RELEASE_RUSTFLAGS
  export CARGO_UNSTABLE_BUILD_STD_FEATURES=$RELEASE_BUILD_STD_FEATURES
  cargo build -q -p toss-billing-ssr-example --lib --release --target wasm32-unknown-unknown --features hydrate
)
mkdir -p "$site/pkg"
wasm-bindgen --target web --no-typescript --out-dir "$site/pkg" --out-name toss_billing_ssr_example \
  "$target/shipping/wasm32-unknown-unknown/release/toss_billing_ssr_example.wasm"
profile=debug
if [[ "${RELEASE:-}" == 1 ]]; then profile=release; fi
cargo build -q -p toss-billing-ssr-example --bin ssr-example --features ssr $([[ $profile == release ]] && echo --release)
echo "$target/$profile/ssr-example"

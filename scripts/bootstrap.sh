#!/usr/bin/env bash
# Installs what building and testing need, and only what is missing (idempotent, no GitHub):
#   the wasm32 target, trunk 0.21.14, wasm-bindgen-cli at the exact Cargo.lock version,
#   and (unless --no-browser) Debian's chromium + chromedriver for the browser tests.
# Never installs Debian's binaryen: its wasm-opt 108 silently breaks release builds (index.html
# also sets data-wasm-opt="0" so trunk never runs whatever wasm-opt is on PATH).
set -euo pipefail
cd "$(dirname "$0")/.."

want_browser=1
[[ "${1:-}" == "--no-browser" ]] && want_browser=0

say() { printf '\033[1mbootstrap:\033[0m %s\n' "$*"; }

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

if ! trunk --version 2>/dev/null | grep -q '0\.21\.14'; then
  say "installing trunk 0.21.14 (a few minutes; 0.22 needs a newer rustc)"
  cargo install trunk@0.21.14 --locked
fi

# The CLI must match the wasm-bindgen crate in Cargo.lock exactly, or trunk tries to download one.
bindgen_version=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
if ! wasm-bindgen --version 2>/dev/null | grep -q " ${bindgen_version}\$" ||
   ! command -v wasm-bindgen-test-runner >/dev/null; then
  say "installing wasm-bindgen-cli ${bindgen_version} (a few minutes)"
  # Not --locked: its lockfile wants a webpki-roots version this registry lacks.
  cargo install wasm-bindgen-cli --version "${bindgen_version}"
fi

if [[ $want_browser == 1 ]] && { [[ ! -x /usr/bin/chromium ]] || [[ ! -x /usr/bin/chromedriver ]]; }; then
  say "installing chromium and chromium-driver from Debian"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq chromium chromium-driver >/dev/null
fi

if command -v wasm-opt >/dev/null && wasm-opt --version 2>/dev/null | grep -q 'version 108'; then
  say "note: Debian's wasm-opt 108 is on PATH; the build never uses it (data-wasm-opt=\"0\")"
fi
say "ready"

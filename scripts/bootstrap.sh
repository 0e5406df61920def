#!/usr/bin/env bash
# Installs what building and testing need, and only what is missing (idempotent, no GitHub):
#   the wasm32 target, trunk 0.21.14, wasm-bindgen-cli at the exact Cargo.lock version, and for
#   release builds the pinned nightly of scripts/release-env.sh (with rust-src), wasm-opt 132 (npm
#   binaryen) and terser (npm); unless --no-browser, what the tests need: Debian's chromium +
#   chromedriver and firefox-esr, geckodriver (crate registry, pinned), and Debian's postgresql
#   (a throw-away cluster per test run: scripts/postgres.sh).
# Never installs Debian's binaryen: its wasm-opt 108 silently breaks release builds (Trunk.toml pins
# wasm_opt = "version_132", so trunk never runs another wasm-opt that happens to be on PATH).
set -euo pipefail
cd "$(dirname "$0")/.."

want_browser=1
[[ "${1:-}" == "--no-browser" ]] && want_browser=0

say() { printf '\033[1mbootstrap:\033[0m %s\n' "$*"; }

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

# The release frontend's compiler (scripts/release-env.sh): a pinned nightly, minimal, with the
# standard library's source for -Zbuild-std. Tests and the server use stable.
source scripts/release-env.sh
if ! rustup run "$RELEASE_TOOLCHAIN" rustc --version >/dev/null 2>&1 ||
   ! rustup component list --toolchain "$RELEASE_TOOLCHAIN" --installed 2>/dev/null | grep -q '^rust-src'; then
  say "installing $RELEASE_TOOLCHAIN with rust-src (the release build's compiler)"
  rustup toolchain install "$RELEASE_TOOLCHAIN" --profile minimal --component rust-src
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

apt_packages=()
if [[ $want_browser == 1 ]]; then
  [[ -x /usr/bin/chromium && -x /usr/bin/chromedriver ]] || apt_packages+=(chromium chromium-driver)
  [[ -x /usr/bin/firefox-esr ]] || apt_packages+=(firefox-esr)
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || apt_packages+=(postgresql)
  [[ -d /usr/share/fonts/truetype/nanum ]] || apt_packages+=(fonts-nanum) # Korean text in screenshots
fi
if (( ${#apt_packages[@]} )); then
  say "installing ${apt_packages[*]} from Debian"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${apt_packages[@]}" >/dev/null
fi
# geckodriver for Firefox, compiled from the crate registry at a pinned version (no GitHub download).
geckodriver_version=0.37.1
if [[ $want_browser == 1 ]] && ! geckodriver --version 2>/dev/null | grep -q "geckodriver ${geckodriver_version}"; then
  say "installing geckodriver ${geckodriver_version} (crate registry, a couple of minutes)"
  cargo install geckodriver --version "${geckodriver_version}" --locked
fi

# wasm-opt for release builds: binaryen 132 from npm (a correct one; Debian's 108 silently breaks
# the release page), in .tools/binaryen (git-ignored). Trunk.toml asks for `version_132`, so trunk
# refuses any other wasm-opt on PATH and looks in its own cache folder instead, where a link to this
# one is placed: release builds (scripts/build-release.sh) then never use Debian's and never try to download.
binaryen_version=132.0.0
wasm_opt=$PWD/.tools/binaryen/node_modules/binaryen/bin/wasm-opt
if ! node "$wasm_opt" --version 2>/dev/null | grep -q 'version 132 '; then
  if ! command -v npm >/dev/null; then
    say "installing node and npm from Debian (for wasm-opt)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq nodejs npm >/dev/null
  fi
  say "installing wasm-opt (npm binaryen@${binaryen_version}) into .tools/binaryen"
  mkdir -p .tools/binaryen
  npm install --prefix .tools/binaryen --no-save --no-package-lock --no-audit --no-fund \
    "binaryen@${binaryen_version}" >/dev/null
fi
chmod +x "$wasm_opt"
# terser: minifies wasm-bindgen's JS glue in release builds (scripts/assemble-dist.py).
terser_version=5.51.4
if ! node .tools/terser/node_modules/terser/bin/terser --version 2>/dev/null | grep -q " ${terser_version}\$"; then
  say "installing terser ${terser_version} (npm) into .tools/terser"
  mkdir -p .tools/terser
  npm install --prefix .tools/terser --no-save --no-package-lock --no-audit --no-fund \
    "terser@${terser_version}" >/dev/null
fi
trunk_cache=${XDG_CACHE_HOME:-$HOME/.cache}/trunk/wasm-opt-version_132/bin
if [[ "$(readlink -f "$trunk_cache/wasm-opt" 2>/dev/null)" != "$(readlink -f "$wasm_opt")" ]]; then
  say "linking wasm-opt 132 where trunk looks for it ($trunk_cache)"
  mkdir -p "$trunk_cache"
  ln -sfn "$wasm_opt" "$trunk_cache/wasm-opt"
fi
if command -v wasm-opt >/dev/null && wasm-opt --version 2>/dev/null | grep -q 'version 108'; then
  say "note: Debian's wasm-opt 108 is on PATH; trunk ignores it (Trunk.toml wants version_132)"
fi
say "ready"

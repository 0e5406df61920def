#!/usr/bin/env bash
# Every test, on a fresh machine too: installs what is missing, then
#   1. formatting and clippy (host and wasm32),
#   2. native tests: the pure checkout rules and the reference server,
#   3. browser tests in headless Chromium against a real local fixture server,
#   4. end-to-end tests (e2e/): the release build, served by the reference server and its Toss
#      simulator, driven in headless Chromium (and Firefox when geckodriver is installed).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/bootstrap.sh

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "format and lint"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
cargo clippy -p toss-billing-checkout --target wasm32-unknown-unknown --all-targets -- -D warnings

step "native tests (pure rules, reference server)"
cargo test --workspace --exclude e2e

step "browser tests (headless Chromium)"
port=${FIXTURE_PORT:-8791}
python3 tests/fixture_server.py --port "$port" --lifetime 1800 &
fixture=$!
trap 'kill $fixture 2>/dev/null || true' EXIT
for _ in $(seq 50); do
  curl -fsS "http://127.0.0.1:$port/log/ping" >/dev/null 2>&1 && break
  sleep 0.1
done
FIXTURE_ORIGIN="http://127.0.0.1:$port" \
  cargo test -p toss-billing-checkout --target wasm32-unknown-unknown --test browser

step "end-to-end tests (release build, reference server, headless Chromium)"
if [[ ! -d /usr/share/fonts/truetype/nanum ]]; then
  # Korean text in the screenshots.
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-nanum >/dev/null
fi
(cd e2e && npm ci --no-audit --no-fund --loglevel=error)
cargo test -p e2e

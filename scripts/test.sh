#!/usr/bin/env bash
# Every test, on a fresh machine too: installs what is missing, then
#   1. formatting and clippy (host and wasm32),
#   2. native tests: the pure checkout rules, the contract crate, and the reference server on
#      SQLite and on a throw-away PostgreSQL cluster (started here, stopped on exit),
#   3. browser tests in headless Chromium and headless Firefox against a real local fixture server,
#   4. end-to-end tests (e2e/): the release build, the Leptos SSR example and the dev loop, served
#      with the reference server and its Toss simulator, every story in Chromium and in Firefox.
# Asked to skip something, it says so and reports it as skipped, never as passed:
#   SKIP_BROWSERS=firefox (or chromium)   SKIP_POSTGRES=1
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/bootstrap.sh

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

skipped() { [[ ",${SKIP_BROWSERS:-}," == *",$1,"* ]]; }
export SKIP_BROWSERS=${SKIP_BROWSERS:-}
# One build of everything: incremental caches would only add gigabytes to the target directory.
export CARGO_INCREMENTAL=${CARGO_INCREMENTAL:-0}

step "format and lint (the component in each Leptos mode, host and wasm32)"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
cargo clippy -p toss-billing-checkout --all-targets --features csr -- -D warnings
cargo clippy -p toss-billing-checkout --all-targets --features prerender -- -D warnings
cargo clippy -p toss-billing-checkout --target wasm32-unknown-unknown --all-targets --features csr -- -D warnings
cargo clippy -p toss-billing-checkout --target wasm32-unknown-unknown --all-targets --features hydrate -- -D warnings
cargo clippy -p toss-billing-ssr-example --all-targets --features ssr -- -D warnings

cleanup=()
on_exit() { for c in "${cleanup[@]}"; do eval "$c" || true; done; }
trap on_exit EXIT

if [[ "${SKIP_POSTGRES:-}" == 1 ]]; then
  step "PostgreSQL: SKIPPED (SKIP_POSTGRES=1); the server's PostgreSQL runs are reported as ignored"
else
  step "PostgreSQL (a throw-away cluster for the server's tests)"
  pg=$(mktemp -d)
  cleanup+=("./scripts/postgres.sh stop '$pg'; rm -rf '$pg'")
  TEST_POSTGRES_URL=$(./scripts/postgres.sh start "$pg" "${TEST_PG_PORT:-55432}")
  export TEST_POSTGRES_URL
  echo "$TEST_POSTGRES_URL"
fi

step "native tests (pure rules, contract, server-side rendering, reference server on SQLite and PostgreSQL)"
cargo test --workspace --exclude e2e
cargo test -p toss-billing-checkout --features ssr --test ssr

port=${FIXTURE_PORT:-8791}
python3 tests/fixture_server.py --port "$port" --lifetime 3600 &
cleanup+=("kill $! 2>/dev/null")
for _ in $(seq 50); do
  curl -fsS "http://127.0.0.1:$port/log/ping" >/dev/null 2>&1 && break
  sleep 0.1
done
browser_tests() {
  FIXTURE_ORIGIN="http://127.0.0.1:$port" \
    cargo test -p toss-billing-checkout --target wasm32-unknown-unknown --features csr --test browser
}
if skipped chromium; then
  step "browser tests in Chromium: SKIPPED (SKIP_BROWSERS=$SKIP_BROWSERS)"
else
  step "browser tests (headless Chromium)"
  browser_tests
fi
if skipped firefox; then
  step "browser tests in Firefox: SKIPPED (SKIP_BROWSERS=$SKIP_BROWSERS)"
else
  step "browser tests (headless Firefox)"
  # wasm-bindgen-test-runner picks Firefox when GECKODRIVER is set (before CHROMEDRIVER).
  GECKODRIVER=${GECKODRIVER:-$(command -v geckodriver)} browser_tests
fi

step "end-to-end tests (release build, SSR example, dev loop; Chromium and Firefox)"
(cd e2e && npm ci --no-audit --no-fund --loglevel=error)
cargo test -p e2e

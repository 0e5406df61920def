#!/usr/bin/env bash
# Every test, on a fresh machine too: installs what is missing, then
#   1. formatting and clippy (host and wasm32),
#   2. native tests: the pure checkout rules, the contract crate, and the reference server on
#      SQLite and on a throw-away PostgreSQL cluster (started here, stopped on exit),
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

cleanup=()
on_exit() { for c in "${cleanup[@]}"; do eval "$c" || true; done; }
trap on_exit EXIT

step "PostgreSQL (a throw-away cluster for the server's tests)"
pg=$(mktemp -d)
cleanup+=("./scripts/postgres.sh stop '$pg'; rm -rf '$pg'")
TEST_POSTGRES_URL=$(./scripts/postgres.sh start "$pg" "${TEST_PG_PORT:-55432}")
export TEST_POSTGRES_URL
echo "$TEST_POSTGRES_URL"

step "native tests (pure rules, contract, reference server on SQLite and PostgreSQL)"
cargo test --workspace --exclude e2e

step "browser tests (headless Chromium)"
port=${FIXTURE_PORT:-8791}
python3 tests/fixture_server.py --port "$port" --lifetime 1800 &
cleanup+=("kill $! 2>/dev/null")
for _ in $(seq 50); do
  curl -fsS "http://127.0.0.1:$port/log/ping" >/dev/null 2>&1 && break
  sleep 0.1
done
FIXTURE_ORIGIN="http://127.0.0.1:$port" \
  cargo test -p toss-billing-checkout --target wasm32-unknown-unknown --test browser

step "end-to-end tests (release build, reference server, headless Chromium)"
(cd e2e && npm ci --no-audit --no-fund --loglevel=error)
cargo test -p e2e

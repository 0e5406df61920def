#!/usr/bin/env bash
# The dev loop: billing-server (demo mode: simulator, SQLite in data/) on 127.0.0.1:8090 and
# `trunk serve dev.html` on http://127.0.0.1:8080, which rebuilds on every change and passes /api to
# billing-server. Every page works there: registration, success and fail (dev.html's bundle has
# them all). Ctrl-C stops both.
#   PORT=8080 BACKEND_PORT=8090 ./scripts/dev.sh
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/bootstrap.sh --no-browser
port=${PORT:-8080}
backend_port=${BACKEND_PORT:-8090}
cargo build -q -p billing-server
# trunk's proxy passes the page's Origin (the dev server's) to billing-server: allow it.
PORT=$backend_port ALLOWED_ORIGINS="http://127.0.0.1:$port" DIST_DIR="$PWD/target/trunk-dev-dist" \
  ./target/debug/billing-server &
backend=$!
trap 'kill $backend 2>/dev/null || true' EXIT
if [[ $backend_port == 8090 ]]; then
  trunk serve --port "$port" # Trunk.toml: dev.html, and the [[proxy]] for /api/ to :8090
else
  trunk serve --port "$port" --proxy-backend "http://127.0.0.1:$backend_port/api/" --proxy-rewrite /api/
fi

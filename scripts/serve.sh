#!/usr/bin/env bash
# The whole flow on one origin, offline, on embedded defaults: builds the release frontend and
# starts the reference backend, which serves it next to the hand-off API and the Toss API simulator.
# The page uses the sandbox SDK and the public docs test client key (see index.html).
#   PORT=8080 by default; every other setting: `cargo run -p billing-server -- --help`.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/bootstrap.sh --no-browser
./scripts/build-release.sh
export DIST_DIR="${DIST_DIR:-$PWD/dist}"
export DATABASE_URL="${DATABASE_URL:-$PWD/data/billing.sqlite}"
# The demo's clock is moved by months (the operator page): its customers stay known that long, as
# they would with a shop's own login (SIGNED_IN_USER_HEADER); with the defaults (7 days unused,
# 30 at most) a visitor subscribed by cookie alone is a stranger after one move.
export SESSION_IDLE_MINUTES="${SESSION_IDLE_MINUTES:-525600}" SESSION_MAX_DAYS="${SESSION_MAX_DAYS:-400}"
exec cargo run -p billing-server

#!/usr/bin/env bash
# billing-server's benchmark (not part of the tests): the release build against its simulator in
# its own process, on SQLite and on a throw-away PostgreSQL, with one and two instances. Prints
# hand-off latency (200 concurrent, p50/p99) and scheduler throughput (due subscriptions charged
# per second). BENCH_SUBSCRIPTIONS (default 2000) sets the scheduler's load.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/bootstrap.sh --no-browser
pg=$(mktemp -d)
trap './scripts/postgres.sh stop "$pg"; rm -rf "$pg"' EXIT
BENCH_POSTGRES_URL=$(./scripts/postgres.sh start "$pg" "${BENCH_PG_PORT:-55433}")
export BENCH_POSTGRES_URL
cargo bench -p billing-server --bench load

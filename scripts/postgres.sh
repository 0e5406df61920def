#!/usr/bin/env bash
# A throw-away PostgreSQL cluster for the tests (Debian's postgresql; never the system's `main`):
#   scripts/postgres.sh start DIR [PORT]   initdb into DIR, start on 127.0.0.1:PORT (default 55432)
#                                          and a socket in DIR; prints the DATABASE_URL
#   scripts/postgres.sh stop DIR           stops it by its own pg_ctl (never by process name)
# PostgreSQL refuses to run as root: as root, the cluster runs as the `postgres` user.
set -euo pipefail

bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
if [[ -z "$bin" || ! -x "$bin/initdb" ]]; then
  echo "postgres.sh: no PostgreSQL server found (apt-get install postgresql; scripts/bootstrap.sh does)" >&2
  exit 1
fi
as_owner() {
  if [[ $(id -u) == 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "${1:-}" in
  start)
    dir=${2:?usage: postgres.sh start DIR [PORT]}
    port=${3:-55432}
    mkdir -p "$dir"
    [[ $(id -u) == 0 ]] && chown postgres "$dir"
    if [[ ! -f "$dir/data/PG_VERSION" ]]; then
      as_owner "$bin/initdb" -D "$dir/data" -A trust -U postgres --no-sync >"$dir/initdb.log" 2>&1 ||
        { cat "$dir/initdb.log" >&2; exit 1; }
    fi
    # fsync off: a throw-away cluster for tests; max_connections for two servers and many tests.
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w -t 60 \
      -o "-k $dir -p $port -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300" start >/dev/null ||
      { cat "$dir/log" >&2; exit 1; }
    echo "postgres://postgres@127.0.0.1:$port/postgres"
    ;;
  stop)
    dir=${2:?usage: postgres.sh stop DIR}
    if [[ -f "$dir/data/postmaster.pid" ]]; then
      as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null || true
    fi
    ;;
  *)
    echo "usage: scripts/postgres.sh start DIR [PORT] | stop DIR" >&2
    exit 2
    ;;
esac

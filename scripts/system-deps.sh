#!/usr/bin/env bash
# The tests start their own PostgreSQL and redis-server; make sure the binaries exist.
set -euo pipefail
have_pg() {
  for d in "${SKENE_PG_BINDIR:-}" "$(pg_config --bindir 2>/dev/null || true)" /usr/lib/postgresql/*/bin; do
    [ -n "$d" ] && [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && return 0
  done
  command -v initdb >/dev/null && command -v pg_ctl >/dev/null
}
missing=()
have_pg || missing+=(postgresql)
command -v redis-server >/dev/null || missing+=(redis-server)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing ${missing[*]} (needed by the tests)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
else
  echo "missing: ${missing[*]}. Install them (e.g. 'sudo apt-get install ${missing[*]}'," \
       "or 'brew install postgresql redis'), or set SKENE_PG_BINDIR." >&2
  exit 1
fi

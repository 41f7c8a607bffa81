#!/usr/bin/env bash
# The tests start their own PostgreSQL, redis-server and Chromium; make sure the binaries exist.
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
# Optional: the report test renders the HTML report in a real headless Chromium and skips
# without one. Installed where we can (root + apt-get; about a minute), else only mentioned.
optional=()
command -v chromium >/dev/null || command -v chromium-browser >/dev/null \
  || command -v google-chrome >/dev/null || [ -n "${SKENE_CHROMIUM:-}" ] || optional+=(chromium)
can_apt() { [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; }
[ ${#missing[@]} -eq 0 ] && { [ ${#optional[@]} -eq 0 ] || ! can_apt; } && {
  [ ${#optional[@]} -eq 0 ] || echo "note: ${optional[*]} not installed; the report's browser test will skip" >&2
  exit 0
}
if can_apt; then
  echo "installing ${missing[*]} ${optional[*]} (needed by the tests)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" "${optional[@]}" >/dev/null
else
  echo "missing: ${missing[*]}. Install them (e.g. 'sudo apt-get install ${missing[*]}'," \
       "or 'brew install postgresql redis'), or set SKENE_PG_BINDIR." >&2
  exit 1
fi

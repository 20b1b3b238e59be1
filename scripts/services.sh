#!/usr/bin/env bash
# Brings up, on this machine, the services the test suite talks to:
#   - PostgreSQL from Debian's packages, with the database and role that
#     SWITCHYARD_TEST_DATABASE_URL names (default postgres://postgres@127.0.0.1:5432/test),
#     loopback logins trusted;
#   - Redis from Debian's packages on 127.0.0.1:6379 (SWITCHYARD_TEST_REDIS_URL), no persistence;
#   - Jaeger (v2, all-in-one) built once from the Go module proxy into a cache outside the checkout,
#     for the tracing tests, whose harness starts and stops it on ports of its own;
#   - Chromium from Debian's packages (/usr/bin/chromium), which the admin UI's browser test drives
#     headless through Playwright (Playwright's own browser download is never used).
# Idempotent: when everything already answers it changes nothing and returns in well under a second.
#
#   scripts/services.sh              set up and start all of the above, wait until they answer
#   scripts/services.sh jaeger-path  print where the Jaeger binary is (built if missing)
#   scripts/services.sh jaeger       start Jaeger in the foreground on its default ports
#                                    (UI http://127.0.0.1:16686, OTLP 4317 gRPC / 4318 HTTP)
#   scripts/services.sh bench-tools  install what `cargo xtask bench` compares against, from
#                                    Debian's packages: nginx (the plain reverse proxy anchor;
#                                    its service is not started) and wrk (the external load
#                                    generator)
set -euo pipefail

# The Go module version of Jaeger v2's cmd/jaeger: release v2.12.0. Jaeger tags each release twice
# on one commit (v1.75.0 / v2.12.0); its module path has no /v2, so the Go module proxy serves the
# v1.x tag only (v2.12.0 answers 403 "not available").
JAEGER_VERSION=v1.75.0
CACHE_DIR="${SWITCHYARD_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/switchyard}"
JAEGER_BIN="$CACHE_DIR/jaeger-$JAEGER_VERSION/jaeger"

REDIS_URL="${SWITCHYARD_TEST_REDIS_URL:-redis://127.0.0.1:6379}"
DATABASE_URL="${SWITCHYARD_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}"

say() { printf 'services: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

answers() { timeout 2 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null; }

# --- URL parsing: scheme://[user[:password]@]host[:port][/path] ---
url_part() { # url part
  local rest="${1#*://}" auth="" hostport path
  if [[ "$rest" == *@* ]]; then auth="${rest%%@*}"; rest="${rest#*@}"; fi
  hostport="${rest%%/*}"
  path=""
  if [[ "$rest" == */* ]]; then path="${rest#*/}"; fi
  path="${path%%\?*}"
  case "$2" in
    user) local u="${auth%%:*}"; printf '%s' "$u" ;;
    password) if [[ "$auth" == *:* ]]; then printf '%s' "${auth#*:}"; fi ;;
    host) printf '%s' "${hostport%%:*}" ;;
    port) if [[ "$hostport" == *:* ]]; then printf '%s' "${hostport##*:}"; fi ;;
    path) printf '%s' "$path" ;;
  esac
}

REDIS_HOST=$(url_part "$REDIS_URL" host); REDIS_PORT=$(url_part "$REDIS_URL" port)
REDIS_PORT=${REDIS_PORT:-6379}
PG_HOST=$(url_part "$DATABASE_URL" host); PG_PORT=$(url_part "$DATABASE_URL" port)
PG_PORT=${PG_PORT:-5432}
PG_USER=$(url_part "$DATABASE_URL" user); PG_USER=${PG_USER:-postgres}
PG_PASSWORD=$(url_part "$DATABASE_URL" password)
PG_DB=$(url_part "$DATABASE_URL" path); PG_DB=${PG_DB:-test}

local_host() { [[ "$1" == 127.* || "$1" == localhost || "$1" == "[::1]" ]]; }

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

apt_updated=""
apt_install() {
  [ -n "$apt_updated" ] || { say "apt-get update"; as_root apt-get update -qq; apt_updated=1; }
  say "installing $*"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

wait_for() { # name host port
  for _ in $(seq 1 100); do answers "$2" "$3" && return 0; sleep 0.1; done
  die "$1 does not answer at $2:$3"
}

# --- PostgreSQL ---
pg_psql() { PGPASSWORD="$PG_PASSWORD" psql -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -X -q -tA "$@"; }

pg_ready() { answers "$PG_HOST" "$PG_PORT" && pg_psql -d "$PG_DB" -c 'select 1' >/dev/null 2>&1; }

postgres_up() {
  pg_ready && return 0
  local_host "$PG_HOST" || die "PostgreSQL at $PG_HOST:$PG_PORT does not answer, and it is not on this machine"
  if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || ! command -v pg_ctlcluster >/dev/null; then
    apt_install postgresql
  fi
  local version
  version=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
  if ! pg_lsclusters -h | awk -v p="$PG_PORT" '$3 == p {found=1} END {exit !found}'; then
    if pg_lsclusters -h | awk '$2 == "main" {found=1} END {exit !found}'; then
      as_root pg_conftool "$version" main set port "$PG_PORT"
    else
      as_root pg_createcluster -p "$PG_PORT" "$version" main >/dev/null
    fi
  fi
  local cluster
  cluster=$(pg_lsclusters -h | awk -v p="$PG_PORT" '$3 == p {print $1 " " $2; exit}')
  local hba="/etc/postgresql/${cluster% *}/${cluster#* }/pg_hba.conf"
  if ! grep -q '^# switchyard-tests' "$hba"; then
    # Loopback logins without a password, ahead of the packaged rules (first match wins).
    as_root sh -c "{ printf '%s\n' '# switchyard-tests: loopback trusted for the test suite' \
      'host all all 127.0.0.1/32 trust' 'host all all ::1/128 trust'; cat '$hba'; } > '$hba.new' \
      && mv '$hba.new' '$hba' && chown postgres:postgres '$hba'"
  fi
  # shellcheck disable=SC2086
  if pg_lsclusters -h | awk -v p="$PG_PORT" '$3 == p && $4 == "online" {found=1} END {exit !found}'; then
    as_root pg_ctlcluster $cluster reload
  else
    say "starting PostgreSQL $cluster"
    as_root pg_ctlcluster $cluster start
  fi
  wait_for PostgreSQL "$PG_HOST" "$PG_PORT"
  for _ in $(seq 1 50); do
    as_root runuser -u postgres -- psql -p "$PG_PORT" -X -q -tAc 'select 1' >/dev/null 2>&1 && break
    sleep 0.1
  done
  local super=(runuser -u postgres -- psql -p "$PG_PORT" -X -q -tA)
  if [ "$("${super[@]}" -c "select 1 from pg_roles where rolname = '$PG_USER'")" != 1 ]; then
    as_root "${super[@]}" -c "create role \"$PG_USER\" login superuser password '${PG_PASSWORD}'"
  fi
  if [ "$("${super[@]}" -c "select 1 from pg_database where datname = '$PG_DB'")" != 1 ]; then
    as_root "${super[@]}" -c "create database \"$PG_DB\" owner \"$PG_USER\""
  fi
  pg_ready || die "PostgreSQL answers but database $PG_DB is not reachable as $PG_USER"
}

# --- Redis ---
redis_up() {
  if ! answers "$REDIS_HOST" "$REDIS_PORT"; then
    local_host "$REDIS_HOST" || die "Redis at $REDIS_HOST:$REDIS_PORT does not answer, and it is not on this machine"
    command -v redis-server >/dev/null || apt_install redis-server
    # Installing the package may have started its own service already.
    if ! answers "$REDIS_HOST" "$REDIS_PORT"; then
      say "starting Redis on 127.0.0.1:$REDIS_PORT"
      redis-server --daemonize yes --bind 127.0.0.1 --port "$REDIS_PORT" --save '' \
        --appendonly no --logfile "$CACHE_DIR/redis-$REDIS_PORT.log" >/dev/null
    fi
    wait_for Redis "$REDIS_HOST" "$REDIS_PORT"
  fi
  # Tests need no persistence (a packaged service would have it on).
  if command -v redis-cli >/dev/null && local_host "$REDIS_HOST"; then
    redis-cli -u "$REDIS_URL" config set save '' >/dev/null 2>&1 || true
    redis-cli -u "$REDIS_URL" config set appendonly no >/dev/null 2>&1 || true
  fi
}

# --- Chromium (the admin UI's browser test) ---
chromium_installed() {
  command -v chromium >/dev/null || apt_install chromium
}

# --- Jaeger ---
jaeger_build() {
  [ -x "$JAEGER_BIN" ] && return 0
  command -v go >/dev/null || die "Go is needed to build Jaeger"
  say "building Jaeger $JAEGER_VERSION into $JAEGER_BIN (several minutes, once per machine)"
  local module="$CACHE_DIR/jaeger-$JAEGER_VERSION/module"
  mkdir -p "$module"
  # Jaeger's own go.mod has a replace directive, which `go install pkg@version` refuses: build it
  # from a scratch module that repeats that replace.
  cat >"$module/go.mod" <<EOF
module switchyard.local/jaeger-build

go 1.24

replace github.com/Shopify/sarama => github.com/Shopify/sarama v1.33.0
EOF
  if ! (cd "$module" && go get -tool "github.com/jaegertracing/jaeger/cmd/jaeger@$JAEGER_VERSION" \
    && go build -trimpath -o "$JAEGER_BIN.tmp" github.com/jaegertracing/jaeger/cmd/jaeger) \
    >"$module/build.log" 2>&1; then
    tail -n 30 "$module/build.log" >&2
    die "building Jaeger failed (whole log: $module/build.log)"
  fi
  mv "$JAEGER_BIN.tmp" "$JAEGER_BIN"
}

mkdir -p "$CACHE_DIR"
case "${1:-all}" in
  all)
    redis_up
    postgres_up
    jaeger_build
    chromium_installed
    say "ready: Redis $REDIS_HOST:$REDIS_PORT, PostgreSQL $PG_HOST:$PG_PORT/$PG_DB, Jaeger $JAEGER_BIN, $(command -v chromium)"
    ;;
  jaeger-path)
    jaeger_build
    printf '%s\n' "$JAEGER_BIN"
    ;;
  jaeger)
    jaeger_build
    exec "$JAEGER_BIN"
    ;;
  bench-tools)
    command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || apt_install nginx
    command -v wrk >/dev/null || apt_install wrk
    say "ready: nginx $(command -v nginx || echo /usr/sbin/nginx), wrk $(command -v wrk)"
    ;;
  *)
    die "usage: scripts/services.sh [all|jaeger-path|jaeger|bench-tools]"
    ;;
esac

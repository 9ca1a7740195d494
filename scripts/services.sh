#!/usr/bin/env bash
# Project-local PostgreSQL and Redis for development and tests.
#
#   scripts/services.sh install      install the runtime Python environment and missing system packages
#   scripts/services.sh install-dev  the same, plus the test and lint tools and a headless browser
#   scripts/services.sh start     start PostgreSQL and Redis unless DATABASE_URL / REDIS_URL are set
#   scripts/services.sh stop      stop the project-local servers
#   scripts/services.sh install-gettext  GNU gettext, for `make messages` (translators only)
#
# Everything lives under .local/ (ignored by git). PostgreSQL refuses to run as root, so as
# root the cluster belongs to the unprivileged `postgres` user.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LOCAL="$ROOT/.local"
PG_PORT="${CIVICPULSE_PG_PORT:-55432}"
REDIS_PORT="${CIVICPULSE_REDIS_PORT:-56379}"
PYTHON="${PYTHON:-python3}"

# What the web and worker processes need from the system, here and in docker/Dockerfile
# (tests/test_deployment_parity.py keeps the two lists in step): Pango, HarfBuzz's subsetter
# and a font for WeasyPrint (location and property reports as PDF). One package per line.
RUNTIME_PACKAGES=(
  libpango-1.0-0
  libpangoft2-1.0-0
  libharfbuzz-subset0
  fonts-dejavu-core
)

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    die "need root or sudo to run: $*"; fi
}

apt_install() {
  command -v apt-get >/dev/null || die "apt-get not found: install $* by hand"
  log "installing system packages: $*"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

pg_bindir() {
  local d
  for d in "$(pg_config --bindir 2>/dev/null || true)" /usr/lib/postgresql/*/bin; do
    [ -n "$d" ] && [ -x "$d/initdb" ] && { echo "$d"; return 0; }
  done
  return 1
}

install_python() {
  "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
    || die "Python 3.11 or newer is needed ($PYTHON is $("$PYTHON" --version 2>&1))"
  if ! "$PYTHON" -c 'import venv, ensurepip' 2>/dev/null; then
    apt_install python3-venv
  fi
  [ -x "$ROOT/.venv/bin/python" ] || { log "creating .venv"; "$PYTHON" -m venv "$ROOT/.venv"; }
  # $1 is requirements.txt or requirements-dev.txt (which includes the first): reinstall
  # when either file changed since the last install.
  local stamp="$ROOT/.venv/.requirements.sha256" want
  want="$1:$(cat "$ROOT/requirements.txt" "$ROOT/$1" | sha256sum | cut -d' ' -f1)"
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    log "installing Python requirements ($1)"
    "$ROOT/.venv/bin/pip" install -q --disable-pip-version-check -r "$ROOT/$1"
    echo "$want" >"$stamp"
  fi
}

install_system() {
  local pkgs=()
  if [ -z "${DATABASE_URL:-}" ] && ! pg_bindir >/dev/null; then pkgs+=(postgresql postgresql-contrib); fi
  if [ -z "${REDIS_URL:-}" ] && ! command -v redis-server >/dev/null; then pkgs+=(redis-server); fi
  # Headless Chromium and its driver, for the end-to-end tests only.
  if [ "${1:-}" = dev ] && { ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; }; then
    pkgs+=(chromium chromium-driver)
  fi
  # npm, for the axe-core the accessibility test injects (scripts/fetch_axe.sh), tests only.
  if [ "${1:-}" = dev ] && ! command -v npm >/dev/null; then pkgs+=(npm); fi
  if ! dpkg -s "${RUNTIME_PACKAGES[@]}" >/dev/null 2>&1; then
    pkgs+=("${RUNTIME_PACKAGES[@]}")
  fi
  if [ ${#pkgs[@]} -gt 0 ]; then apt_install "${pkgs[@]}"; fi
}

# The directory for the cluster must be reachable by the user that runs postgres. A checkout
# under a private folder (mktemp -d is 0700) is not, so fall back to a folder in /var/tmp keyed
# by the checkout's path, linked from .local/postgres so it is found there next time. The
# real path is what postgres is given: it cannot follow the link through the private folder.
pg_datadir() {
  local want="$LOCAL/postgres"
  if [ -L "$want" ]; then readlink -f "$want"; return; fi
  if [ "$(id -u)" -ne 0 ] || [ -d "$want/data" ]; then echo "$want"; return; fi
  mkdir -p "$want"
  chown postgres: "$want"
  if runuser -u postgres -- test -w "$want"; then echo "$want"; return; fi
  rmdir "$want"
  local alt
  alt="/var/tmp/civicpulse-$(echo -n "$ROOT" | sha256sum | cut -c1-12)"
  mkdir -p "$alt" && chown postgres: "$alt" && chmod 700 "$alt"
  ln -sfn "$alt" "$want"
  echo "$alt"
}

pg_run() {
  # From /, since the postgres user may not be allowed into the current directory.
  if [ "$(id -u)" -eq 0 ]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}

start_postgres() {
  if [ -n "${DATABASE_URL:-}" ]; then log "using DATABASE_URL"; return; fi
  local bin dir
  bin="$(pg_bindir)" || die "PostgreSQL server binaries not found"
  if [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then
    as_root useradd --system --home-dir /var/lib/postgresql --shell /bin/false postgres
  fi
  mkdir -p "$LOCAL"
  dir="$(pg_datadir)"
  if [ ! -s "$dir/data/PG_VERSION" ]; then
    log "creating the PostgreSQL cluster in $dir"
    pg_run "$bin/initdb" -D "$dir/data" -U civicpulse -A trust -E UTF8 --locale=C.UTF-8 >/dev/null
    cat >>"$dir/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = ''
max_connections = 300
shared_buffers = 512MB
work_mem = 32MB
maintenance_work_mem = 512MB
max_wal_size = 4GB
logging_collector = off
CONF
  fi
  if pg_run "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
    log "PostgreSQL already running on 127.0.0.1:$PG_PORT"
  else
    log "starting PostgreSQL on 127.0.0.1:$PG_PORT"
    pg_run "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null \
      || { tail -20 "$dir/server.log" >&2; die "PostgreSQL did not start"; }
  fi
  "$bin/psql" -h 127.0.0.1 -p "$PG_PORT" -U civicpulse -d postgres -tAc \
    "SELECT 1 FROM pg_database WHERE datname = 'civicpulse'" | grep -q 1 \
    || "$bin/createdb" -h 127.0.0.1 -p "$PG_PORT" -U civicpulse civicpulse
}

start_redis() {
  if [ -n "${REDIS_URL:-}" ]; then log "using REDIS_URL"; return; fi
  mkdir -p "$LOCAL/redis"
  if redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; then
    log "Redis already running on 127.0.0.1:$REDIS_PORT"; return
  fi
  log "starting Redis on 127.0.0.1:$REDIS_PORT"
  redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$LOCAL/redis" --daemonize yes \
    --pidfile "$LOCAL/redis/redis.pid" --logfile "$LOCAL/redis/redis.log" \
    --save 60 1000 --appendonly yes >/dev/null
  for _ in $(seq 50); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && return; sleep 0.1; done
  die "Redis did not start (see $LOCAL/redis/redis.log)"
}

stop_all() {
  local bin
  if [ -f "$LOCAL/redis/redis.pid" ]; then redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true; fi
  local dir
  dir="$(readlink -f "$LOCAL/postgres" 2>/dev/null)"
  if [ -n "$dir" ] && [ -d "$dir/data" ] && bin="$(pg_bindir)"; then
    pg_run "$bin/pg_ctl" -D "$dir/data" -m fast stop >/dev/null 2>&1 || true
  fi
}

case "${1:-}" in
  install) install_system; install_python requirements.txt ;;
  install-dev) install_system dev; install_python requirements-dev.txt ;;
  # For translators only (make messages): the .mo files are committed, nothing else needs it.
  install-gettext) apt_install gettext ;;
  start) start_postgres; start_redis ;;
  stop) stop_all ;;
  *) die "usage: $0 install|install-dev|install-gettext|start|stop" ;;
esac

#!/usr/bin/env bash
# Start the web server, both Celery workers and beat in the foreground; Ctrl-C stops all.
set -uo pipefail
cd "$(dirname "$0")/.."

export PORT="${PORT:-8000}"
# A development server: it answers this machine only unless BIND_ADDRESS says otherwise
# (0.0.0.0: every interface), and runs the development settings with DEBUG on explicitly
# (wsgi.py and celery.py refuse those settings without it).
export BIND_ADDRESS="${BIND_ADDRESS:-127.0.0.1}"
export DEBUG="${DEBUG:-true}"
BIN=.venv/bin

pids=()
start() {  # name, command...
  local name=$1; shift
  "$@" > >(sed -u "s/^/[$name] /") 2>&1 &
  pids+=($!)
}
# Celery processes are started again when they exit (a worker can die when Redis does:
# kombu's Redis transport raises while restoring unacknowledged messages), as compose's
# `restart: unless-stopped` does in production; their reports wait in the table meanwhile.
supervised() {  # command...
  local child
  trap 'kill "$child" 2>/dev/null; wait "$child" 2>/dev/null; exit 0' TERM INT
  while :; do
    "$@" &
    child=$!
    wait "$child"
    echo "exited with status $?; starting again in 2 s"
    sleep 2
  done
}
stop() {
  trap - INT TERM EXIT
  echo; echo "stopping..."
  kill "${pids[@]}" 2>/dev/null
  wait 2>/dev/null
}
trap stop INT TERM EXIT

start web "$BIN/gunicorn" civicpulse.wsgi:application -c python:civicpulse.gunicorn_conf
# Two thread-pool processes for `io`: one Python process is held to one core by its GIL.
for n in $(seq "${IO_WORKERS:-2}"); do
  start "io$n" supervised "$BIN/celery" -A civicpulse worker -Q io -P threads -c 8 -n "io$n@%h" --without-mingle --without-gossip -l INFO
done
start cpu supervised "$BIN/celery" -A civicpulse worker -Q cpu -P prefork -c 2 -n "cpu@%h" --without-mingle --without-gossip -l INFO
start beat supervised "$BIN/celery" -A civicpulse beat -l INFO

cat <<MSG

  CivicPulse is starting on $BIND_ADDRESS:$PORT (BIND_ADDRESS=0.0.0.0 to answer other machines).

  Public site and platform admin   http://localhost:$PORT/          (admin: http://localhost:$PORT/admin/)
  Springfield (city)               http://springfield.localhost:$PORT/
  Northfield Campus                http://northfield-campus.localhost:$PORT/
  Harbor Hotel                     http://harbor-hotel.localhost:$PORT/
  Health                           http://localhost:$PORT/healthz   http://localhost:$PORT/readyz

  Platform operator: operator / civicpulse-demo     Staff on each tenant: staff / civicpulse-demo
  Springfield property analyst: analyst / civicpulse-demo   http://springfield.localhost:$PORT/property/
  Browsers resolve *.localhost to this machine. For other tools, add to /etc/hosts:
    127.0.0.1 springfield.localhost northfield-campus.localhost harbor-hotel.localhost

  Ctrl-C stops everything.

MSG

# Stop everything if the web server exits (the Celery processes are started again).
wait -n

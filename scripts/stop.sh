#!/usr/bin/env bash
# `make stop`: stop the gunicorn that `make run` started, the sync worker, the demo EHR,
# then the PostgreSQL cluster under var/. Does nothing (and succeeds) for what is already stopped.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PIDFILE=var/run/gunicorn.pid
pid=$(cat "$PIDFILE" 2>/dev/null || true)
if [[ $pid =~ ^[0-9]+$ ]] && tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -q gunicorn; then
    echo "Stopping Carebridge (gunicorn pid $pid)"
    kill -TERM "$pid"
    # Gunicorn lets requests finish for up to graceful_timeout (30 s) on TERM.
    for _ in $(seq 1 350); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        echo "gunicorn did not stop in 35 s; killing it" >&2
        kill -KILL "$pid"
    fi
else
    echo "Carebridge (gunicorn) is not running"
fi
rm -f "$PIDFILE"

scripts/stop-worker.sh
scripts/ehr.sh stop
scripts/pg-local.sh stop

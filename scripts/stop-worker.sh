#!/usr/bin/env bash
# Stop the procrastinate worker that `make run` started (pid in var/run/worker.pid).
# A job in flight gets procrastinate's graceful shutdown; then the worker is killed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PIDFILE=var/run/worker.pid
pid=$(cat "$PIDFILE" 2>/dev/null || true)
if [[ $pid =~ ^[0-9]+$ ]] && tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -q "procrastinate worker"; then
    echo "Stopping the sync worker (pid $pid)"
    kill -TERM "$pid"
    for _ in $(seq 1 150); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
fi
rm -f "$PIDFILE"

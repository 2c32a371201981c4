#!/usr/bin/env bash
# Stop the process whose pid is in PIDFILE, if that pid is still the command PATTERN
# names: SIGTERM, up to SECONDS to finish, then SIGKILL. Removes the pid file; succeeds
# when nothing runs. Used for gunicorn, the sync worker and the demo EHR.
#
#   scripts/stop-pid.sh PIDFILE PATTERN NAME SECONDS
set -euo pipefail
pidfile=$1 pattern=$2 name=$3 seconds=$4

pid=$(cat "$pidfile" 2>/dev/null || true)
if [[ $pid =~ ^[0-9]+$ ]] && tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -q -- "$pattern"; then
    echo "Stopping $name (pid $pid)"
    kill -TERM "$pid"
    for _ in $(seq 1 $((seconds * 10))); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        echo "$name did not stop in $seconds s; killing it" >&2
        kill -KILL "$pid"
    fi
else
    echo "$name is not running"
fi
rm -f "$pidfile"

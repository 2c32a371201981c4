#!/usr/bin/env bash
# `make stop`: stop the gunicorn and nginx that `make run` started, the sync worker,
# localstripe, the demo EHR, then the PostgreSQL cluster under var/. Does nothing (and
# succeeds) for what is already stopped.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# Gunicorn lets requests finish for up to graceful_timeout (30 s) on TERM.
scripts/stop-pid.sh var/run/gunicorn.pid gunicorn "Carebridge (gunicorn)" 35
# serve.sh stops nginx when gunicorn ends; this covers a gunicorn that was killed.
scripts/stop-pid.sh var/run/nginx.pid "nginx: master" "the front (nginx)" 10
scripts/stop-pid.sh var/run/worker.pid "procrastinate worker" "the sync worker" 15
scripts/localstripe.sh stop
scripts/ehr.sh stop
scripts/pg-local.sh stop

#!/usr/bin/env bash
# `make run`: set up, migrate, load the demo data and serve https://localhost:$PORT with
# nginx in front of gunicorn, in the foreground (scripts/serve.sh). One at a time per
# checkout; `make stop` ends it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD

# The same defaults the Makefile exports, so that this script also runs on its own.
export PORT=${PORT:-8443}
export PORTAL_ENV=${PORTAL_ENV:-development}
export PORTAL_VAR_DIR=${PORTAL_VAR_DIR:-$ROOT/var}
[[ -n ${DATABASE_URL:-} ]] || export DATABASE_URL_FILE=${DATABASE_URL_FILE:-$ROOT/var/database_url}
[[ -n ${DJANGO_SECRET_KEY:-} ]] || export DJANGO_SECRET_KEY_FILE=${DJANGO_SECRET_KEY_FILE:-$ROOT/var/secret_key}

mkdir -p var/run var/log
chmod 0755 var
PIDFILE=var/run/gunicorn.pid

already_running() {
    local pid port
    read -r pid port <var/run/run.info 2>/dev/null || true
    echo "Carebridge is already running (pid ${1:-${pid:-?}}) at https://localhost:${port:-$PORT} — use make stop" >&2
    exit 1
}

gunicorn_pid() {
    # The pid in gunicorn's pid file, if that process is still a gunicorn.
    local pid
    pid=$(cat "$PIDFILE" 2>/dev/null) || return 1
    [[ $pid =~ ^[0-9]+$ ]] && tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -q gunicorn &&
        echo "$pid"
}

# The lock is held until gunicorn exits: gunicorn is exec'd with this descriptor open, and
# keeps this script's pid, which run.info records for the message above.
exec 9>>var/run/run.lock
flock -n 9 || already_running
if pid=$(gunicorn_pid); then
    already_running "$pid"
fi
rm -f "$PIDFILE"
echo "$$ $PORT" >var/run/run.info

# 9>&-: the PostgreSQL server started by setup must not inherit (and keep) the lock.
scripts/setup.sh 9>&-

# No EHR given: the demo EHR (sekmet-fhir on loopback, seeded with the demo patients'
# records) stands in, and its connection settings come from the file it writes.
if [[ -z ${FHIR_BASE_URL:-} ]]; then
    scripts/ehr.sh start 9>&-
    EHR_STARTED=1
    set -a
    # shellcheck source=/dev/null
    . var/ehr/portal.env
    set +a
fi

# No Stripe account given, in development: localstripe on loopback stands in for Stripe,
# with the portal's development hosted payment page (billing/devcheckout), so the demo
# takes a payment end to end. Its settings come from the file it writes.
if [[ $PORTAL_ENV == development && -z ${STRIPE_SECRET_KEY:-}${STRIPE_SECRET_KEY_FILE:-} ]]; then
    scripts/localstripe.sh start 9>&-
    STRIPE_STARTED=1
    set -a
    # shellcheck source=/dev/null
    . var/localstripe/portal.env
    set +a
fi

.venv/bin/python manage.py migrate --noinput
.venv/bin/python manage.py collectstatic --noinput -v 0
.venv/bin/python manage.py load_demo --accounts-file var/demo_accounts.json

# The background worker (EHR syncs) runs beside gunicorn and ends with it: the
# watcher below waits on this script's pid, which gunicorn keeps after exec.
# Finished jobs are deleted (failed ones stay for inspection); rows hold a patient UUID only.
.venv/bin/python manage.py procrastinate worker --queues sync,mail,daily,audit --concurrency 2 \
    --delete-jobs successful >>var/log/worker.log 2>&1 9>&- &
echo $! >var/run/worker.pid
(
    while kill -0 $$ 2>/dev/null; do sleep 2; done
    scripts/stop-pid.sh var/run/worker.pid "procrastinate worker" "the sync worker" 15
    [[ -n ${STRIPE_STARTED:-} ]] && scripts/localstripe.sh stop
    [[ -n ${EHR_STARTED:-} ]] && scripts/ehr.sh stop
) >/dev/null 2>&1 9>&- &

echo "Serving Carebridge at https://localhost:$PORT (self-signed certificate; Ctrl-C or make stop to end)"
# nginx in front (TLS, slow clients), gunicorn behind it; serve.sh execs gunicorn.
exec scripts/serve.sh portal.wsgi:application --pid "$PIDFILE"

#!/usr/bin/env bash
# localstripe (PyPI, GPL-3.0): a Stripe-compatible server for development and the tests
# only, in its own virtualenv under var/ so it never reaches the portal's .venv or the
# production image. The tests start it themselves on 127.0.0.1 (tests/billing/conftest.py);
# `make run` starts it here when no Stripe account is configured, so the demo can take a
# payment end to end (scripts/localstripe_serve.py adds the Checkout Sessions it lacks).
#
#   scripts/localstripe.sh install   var/localstripe/venv (again when the pin changes)
#   scripts/localstripe.sh start     install, start it on 127.0.0.1:$LOCALSTRIPE_PORT (8445)
#                                    in the background (pid in var/run/localstripe.pid, log
#                                    in var/log/localstripe.log), wait for it, and write
#                                    var/localstripe/portal.env (the portal's STRIPE_* and
#                                    BILLING_DEV_CHECKOUT settings, development only)
#   scripts/localstripe.sh stop      stop it (and remove portal.env); succeeds when not running
#   scripts/localstripe.sh status    say whether it runs; exit status 0 if so, 3 if not
#
# Its store is in memory: a restart forgets its payments, customers and saved cards.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
VENV=$ROOT/var/localstripe/venv
PIN="localstripe==1.15.10"
SECRETS=${PORTAL_VAR_DIR:-$ROOT/var}
PORT=${LOCALSTRIPE_PORT:-8445}
PIDFILE=$ROOT/var/run/localstripe.pid
LOG=$ROOT/var/log/localstripe.log
PORTAL_ENV_FILE=$ROOT/var/localstripe/portal.env

install() {
    local stamp=$VENV/.installed
    if ! "$VENV/bin/python" -c '' 2>/dev/null; then
        echo "Creating $VENV"
        rm -rf "$VENV"
        mkdir -p "$(dirname "$VENV")"
        "$(command -v python3.11 || command -v python3)" -m venv "$VENV"
    fi
    if [[ $(cat "$stamp" 2>/dev/null) != "$PIN" ]]; then
        echo "Installing $PIN into $VENV"
        "$VENV/bin/python" -m pip install --disable-pip-version-check -q "$PIN"
        echo "$PIN" >"$stamp"
    fi
}

server_pid() {
    # The pid in the pid file, if that process is still our localstripe.
    local pid
    pid=$(cat "$PIDFILE" 2>/dev/null) || return 1
    [[ $pid =~ ^[0-9]+$ ]] && tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" |
        grep -q 'localstripe_serve.py' && echo "$pid"
}

start() {
    local secret=$SECRETS/stripe_webhook_secret pid=""
    [[ -r $secret ]] || {
        echo "Missing $secret: run scripts/setup.sh (or scripts/dev-secrets.py) first" >&2
        exit 1
    }
    install
    mkdir -p "$ROOT/var/run" "$ROOT/var/log"
    if pid=$(server_pid) && [[ $(cat "$ROOT/var/localstripe/port" 2>/dev/null) == "$PORT" ]]; then
        # Kept: its in-memory store holds the demo's payments and saved cards.
        echo "localstripe already runs (pid $pid) at http://127.0.0.1:$PORT"
    else
        [[ -n $pid ]] && stop
        echo "Starting localstripe at http://127.0.0.1:$PORT (development only; log: var/log/localstripe.log)"
        # setsid: like the demo EHR, it outlives Ctrl-C on `make run`; `make stop` ends it.
        setsid "$VENV/bin/python" scripts/localstripe_serve.py "$PORT" >>"$LOG" 2>&1 </dev/null &
        pid=$!
        echo "$pid" >"$PIDFILE"
        echo "$PORT" >"$ROOT/var/localstripe/port"
    fi
    for _ in $(seq 1 300); do
        if (: <"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
            break
        fi
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "localstripe did not start; the end of var/log/localstripe.log:" >&2
            tail -n 20 "$LOG" >&2
            exit 1
        fi
        sleep 0.1
    done
    # Development settings only: scripts/run.sh reads this file when PORTAL_ENV=development.
    cat >"$PORTAL_ENV_FILE" <<ENV
STRIPE_API_BASE=http://127.0.0.1:$PORT
STRIPE_SECRET_KEY=sk_test_localstripe
STRIPE_WEBHOOK_SECRET_FILE=$secret
BILLING_DEV_CHECKOUT=1
ENV
}

stop() {
    scripts/stop-pid.sh "$PIDFILE" 'localstripe_serve.py' "localstripe" 10
    rm -f "$PORTAL_ENV_FILE"
}

status() {
    local pid
    if pid=$(server_pid); then
        echo "localstripe runs (pid $pid) at http://127.0.0.1:$(cat "$ROOT/var/localstripe/port" 2>/dev/null)"
    else
        echo "localstripe is not running"
        return 3
    fi
}

case ${1:-} in
install | start | stop | status) "$1" ;;
*)
    echo "usage: $0 install|start|stop|status" >&2
    exit 2
    ;;
esac

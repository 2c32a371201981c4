#!/usr/bin/env bash
# The demo EHR (sekmet-fhir, a FHIR R4 server) on https://127.0.0.1:$EHR_PORT/fhir for
# `make run` when FHIR_BASE_URL is unset; ehr/__init__.py explains it.
#
#   scripts/ehr.sh install   var/ehr/venv from ehr/requirements.txt (again when it changes)
#   scripts/ehr.sh start     install, write var/ehr/settings.yaml, start the server in the
#                            background (pid in var/run/ehr.pid, log in var/log/ehr.log),
#                            wait for it, seed the demo patients (idempotent), and write
#                            var/ehr/portal.env (FHIR_* settings for the portal)
#   scripts/ehr.sh stop      stop it (and remove portal.env); succeeds when not running
#   scripts/ehr.sh status    say whether it runs; exit status 0 if so, 3 if not
#
# The TLS certificate (var/tls) and the portal's SMART client key (var/fhir) come from
# scripts/dev-secrets.py, which scripts/setup.sh runs.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD

SECRETS=${PORTAL_VAR_DIR:-$ROOT/var}
EHR_PORT=${EHR_PORT:-8444}
EHR=$ROOT/var/ehr
VENV=$EHR/venv
PIDFILE=$ROOT/var/run/ehr.pid
LOG=$ROOT/var/log/ehr.log
BASE_URL=https://127.0.0.1:$EHR_PORT/fhir

install() {
    local hash stamp=$VENV/.installed-requirements.sha256
    hash=$(sha256sum ehr/requirements.txt | cut -d' ' -f1)
    if ! "$VENV/bin/python" -c '' 2>/dev/null; then
        echo "Creating $VENV"
        rm -rf "$VENV"
        mkdir -p "$EHR"
        "$(command -v python3.11 || command -v python3)" -m venv "$VENV"
    fi
    if [[ $(cat "$stamp" 2>/dev/null) != "$hash" ]]; then
        echo "Installing ehr/requirements.txt into $VENV"
        "$VENV/bin/python" -m pip install --disable-pip-version-check -q -r ehr/requirements.txt
        echo "$hash" >"$stamp"
    fi
}

ehr_pid() {
    # The pid in the pid file, if that process is still our sekmet.
    local pid
    pid=$(cat "$PIDFILE" 2>/dev/null) || return 1
    [[ $pid =~ ^[0-9]+$ ]] && tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -q 'sekmet serve' &&
        echo "$pid"
}

CERT=$SECRETS/tls/cert.pem
KEY=$SECRETS/tls/key.pem
CLIENT_KEY=$SECRETS/fhir/client_key.pem
JWKS=$SECRETS/fhir/client_jwks.json

write_settings() {
    "$VENV/bin/python" -m ehr.config settings --port "$EHR_PORT" --data-dir "$EHR/data" \
        --cert "$CERT" --key "$KEY" --jwks "$JWKS" --loader-token-file "$EHR/loader_token" \
        --out "$1"
}

start() {
    for file in "$CERT" "$KEY" "$CLIENT_KEY" "$JWKS"; do
        [[ -r $file ]] || {
            echo "Missing $file: run scripts/setup.sh (or scripts/dev-secrets.py) first" >&2
            exit 1
        }
    done
    install
    mkdir -p "$EHR/data" "$ROOT/var/run" "$ROOT/var/log"
    chmod 0700 "$EHR/data"
    local pid=""
    if pid=$(ehr_pid); then
        # Keep a running server only if it runs with the settings it would get now.
        write_settings "$EHR/settings.yaml.new"
        if cmp -s "$EHR/settings.yaml" "$EHR/settings.yaml.new"; then
            echo "The demo EHR already runs (pid $pid) at $BASE_URL"
        else
            echo "The demo EHR's settings changed; restarting it"
            stop
            pid=""
        fi
        rm -f "$EHR/settings.yaml.new"
    fi
    if [[ -z $pid ]]; then
        # A fresh loader token on every start: the one credential that may write.
        (umask 077 && "$VENV/bin/python" -c 'import secrets; print(secrets.token_urlsafe(32))' \
            >"$EHR/loader_token")
        write_settings "$EHR/settings.yaml"
        echo "Starting the demo EHR at $BASE_URL (log: var/log/ehr.log)"
        # setsid: like the PostgreSQL server, it outlives Ctrl-C on `make run`; `make stop` ends it.
        (cd "$EHR" && exec setsid "$VENV/bin/sekmet" serve --config settings.yaml \
            --host 127.0.0.1 --port "$EHR_PORT") >>"$LOG" 2>&1 </dev/null &
        pid=$!
        echo "$pid" >"$PIDFILE"
        echo "$EHR_PORT" >"$EHR/port"
    fi
    if ! "$VENV/bin/python" -m ehr.seed --base-url "$BASE_URL" --ca-bundle "$CERT" \
        --token-file "$EHR/loader_token" --wait 60 --pid "$pid"; then
        echo "The demo EHR did not come up; the end of var/log/ehr.log:" >&2
        tail -n 20 "$LOG" >&2
        stop >&2
        exit 1
    fi
    "$VENV/bin/python" -m ehr.config portal-env --port "$EHR_PORT" --ca-bundle "$CERT" \
        --key-file "$CLIENT_KEY" --jwks "$JWKS" --out "$EHR/portal.env"
}

stop() {
    scripts/stop-pid.sh "$PIDFILE" 'sekmet serve' "The demo EHR" 10
    rm -f "$EHR/portal.env"
}

status() {
    local pid
    if pid=$(ehr_pid); then
        echo "The demo EHR runs (pid $pid) at https://127.0.0.1:$(cat "$EHR/port" 2>/dev/null)/fhir"
    else
        echo "The demo EHR is not running"
        return 3
    fi
}

case ${1:-} in
install | start | stop | status) "$1" ;;
*)
    echo "usage: scripts/ehr.sh install|start|stop|status" >&2
    exit 2
    ;;
esac

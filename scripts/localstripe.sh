#!/usr/bin/env bash
# localstripe (PyPI, GPL-3.0): a Stripe-compatible server for development and the tests
# only, in its own virtualenv under var/ so it never reaches the portal's .venv or the
# production image. The tests start it themselves on 127.0.0.1 (tests/billing/conftest.py).
#
#   scripts/localstripe.sh install   var/localstripe/venv (again when the pin changes)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
VENV=$ROOT/var/localstripe/venv
PIN="localstripe==1.15.10"

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

case ${1:-} in
install) install ;;
*)
    echo "usage: $0 install" >&2
    exit 2
    ;;
esac

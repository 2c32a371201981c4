#!/usr/bin/env bash
# `make load`: the load test (bench/load/run.py) against the `make run` of this checkout,
# which must already be serving. locust runs in its own virtualenv, var/locust/venv, from
# the pinned bench/load/requirements.txt (reinstalled when that file changes); it never
# imports Django. Its figures are merged into bench/results.json and bench/RESULTS.md.
#
# Environment: PORT (the `make run` to test, 8443), LOAD_SECONDS (300), LOAD_USERS (50),
# LOAD_SATURATION_SECONDS (30), LOAD_SPAWN_RATE (2 a second), LOAD_SETTLE_SECONDS (5),
# LOAD_PROFILE=1 (py-spy on each gunicorn worker through the steady phase).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

export PORTAL_VAR_DIR=${PORTAL_VAR_DIR:-$PWD/var}
VENV=$PORTAL_VAR_DIR/locust/venv
requirements=bench/load/requirements.txt

hash=$(sha256sum "$requirements" | cut -d' ' -f1)
stamp=$VENV/.installed-requirements.sha256
if ! "$VENV/bin/python" -c '' 2>/dev/null; then
    echo "Creating $VENV"
    rm -rf "$VENV"
    mkdir -p "$(dirname "$VENV")"
    "$(command -v python3.11 || command -v python3)" -m venv "$VENV"
fi
if [[ $(cat "$stamp" 2>/dev/null) != "$hash" ]]; then
    echo "Installing $requirements into $VENV"
    "$VENV/bin/python" -m pip install --disable-pip-version-check -q -r "$requirements"
    echo "$hash" >"$stamp"
fi

read -r _ port <"$PORTAL_VAR_DIR/run/run.info" 2>/dev/null || port=${PORT:-8443}
if ! pid=$(cat "$PORTAL_VAR_DIR/run/gunicorn.pid" 2>/dev/null) || ! kill -0 "$pid" 2>/dev/null; then
    echo "make load needs the portal running: start \`make run\` (in another terminal) first" >&2
    exit 1
fi

PORT=$port "$VENV/bin/python" bench/load/run.py
# The portal's venv renders the results: bench/run.py imports nothing of Django.
.venv/bin/python bench/run.py --merge "$PORTAL_VAR_DIR/locust/figures.json" >/dev/null
echo "Merged into bench/results.json and bench/RESULTS.md (details: var/locust/load.json)"

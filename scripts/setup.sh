#!/usr/bin/env bash
# Brings a checkout to the point where Carebridge can run (and, with --dev, be tested):
# system packages (nginx among them), .venv, the local PostgreSQL cluster with pgBackRest
# archiving its WAL (unless DATABASE_URL is set),
# dev secrets under var/, the demo EHR's venv (var/ehr/venv), and with --dev the npm
# packages the browser tests use, the HL7 examples the FHIR tests load, and localstripe
# (var/localstripe/venv), the Stripe-compatible server the bill pay tests start.
#
#   scripts/setup.sh [--dev]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

dev=false
[[ ${1:-} == --dev ]] && dev=true

deps=(--python --fonts --nginx)
# --dev: the point-in-time recovery test builds a throwaway cluster with pgBackRest.
if [[ -z ${DATABASE_URL:-} ]] || $dev; then deps+=(--postgres); fi
$dev && deps+=(--chromium --node --clamav)
scripts/system-deps.sh "${deps[@]}"

# .venv, reinstalled only when the requirements change; one stamp per requirements file.
requirements=requirements.txt
if $dev; then requirements="requirements-dev.txt"; fi
if ! .venv/bin/python -c '' 2>/dev/null; then
    echo "Creating .venv"
    rm -rf .venv
    "$(command -v python3.11 || command -v python3)" -m venv .venv
fi
# Hash the file and the files it includes with -r.
mapfile -t included < <(sed -n 's/^-r[[:space:]]*//p' "$requirements")
hash=$(cat "$requirements" "${included[@]}" | sha256sum | cut -d' ' -f1)
stamp=.venv/.installed-$requirements.sha256
if [[ $(cat "$stamp" 2>/dev/null) != "$hash" ]]; then
    echo "Installing $requirements into .venv"
    .venv/bin/python -m pip install --disable-pip-version-check -q -r "$requirements"
    echo "$hash" >"$stamp"
fi

[[ -n ${DATABASE_URL:-} ]] || scripts/pg-local.sh start

.venv/bin/python scripts/dev-secrets.py

# The demo EHR's own venv: `make run` starts it when FHIR_BASE_URL is unset, and the
# tests run against the same server.
if $dev || [[ -z ${FHIR_BASE_URL:-} ]]; then scripts/ehr.sh install; fi

if $dev; then
    stamp=node_modules/.installed-package-lock.sha256
    hash=$(sha256sum package-lock.json | cut -d' ' -f1)
    if [[ $(cat "$stamp" 2>/dev/null) != "$hash" ]]; then
        npm ci --include=dev --no-audit --no-fund
        echo "$hash" >"$stamp"
    fi
    # HL7's R4 examples, which the FHIR tests load into that server.
    scripts/hl7-examples.sh
    # localstripe (GPL-3.0, development and tests only) in its own venv under var/.
    scripts/localstripe.sh install
fi

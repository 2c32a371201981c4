# Carebridge development entry points; README.md explains them. The work is in scripts/.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

PY := .venv/bin/python

# Development defaults; a variable set in the environment wins.
export PORT ?= 8443
export PGPORT ?= 54329
export PORTAL_ENV ?= development
export PORTAL_VAR_DIR ?= $(CURDIR)/var
ifeq ($(DATABASE_URL),)
export DATABASE_URL_FILE ?= $(CURDIR)/var/database_url
endif
ifeq ($(DJANGO_SECRET_KEY),)
export DJANGO_SECRET_KEY_FILE ?= $(CURDIR)/var/secret_key
endif

.PHONY: help run stop test lint bench load

help:
	@sed -n 's/^## //p' Makefile

## make run: set up, then serve https://localhost:8443 (or $PORT) in the foreground
run:
	scripts/run.sh

## make stop: stop what make run started (gunicorn, the sync worker, localstripe, the demo EHR, PostgreSQL)
stop:
	scripts/stop.sh

## make test: set up, then lint, check migrations and deploy settings, and run pytest
test:
	scripts/setup.sh --dev
	$(MAKE) --no-print-directory lint
	$(PY) manage.py makemigrations --check --dry-run
	@# Pages are tested with the production static storage (hashed names from a manifest).
	$(PY) manage.py collectstatic --noinput -v 0
	@# EMAIL_HOST and FHIR_BASE_URL only satisfy the configuration check; nothing is contacted.
	PORTAL_ENV=production ALLOWED_HOSTS=localhost PORTAL_BASE_URL=https://localhost EMAIL_HOST=smtp.example.org \
		FHIR_BASE_URL=https://ehr.example.org/fhir FHIR_CLIENT_ID=carebridge FHIR_KEY_ID=check \
		FHIR_PRIVATE_KEY_FILE=$(CURDIR)/var/fhir/client_key.pem \
		PORTAL_KEKS_FILE=$(CURDIR)/var/keks PORTAL_BLIND_INDEX_KEY_FILE=$(CURDIR)/var/blind_index_key \
		PORTAL_KEY_STORE_DIR=$(CURDIR)/var/keystore \
		PORTAL_AUDIT_SIGNING_KEY_FILE=$(CURDIR)/var/audit_signing_key \
		DATABASE_URL="$${DATABASE_URL:-$$(cat var/database_url)}" \
		$(PY) manage.py check --deploy --fail-level WARNING
	$(PY) -m pytest $(PYTEST_ARGS)

## make bench: measure audit and encryption on the real PostgreSQL; writes bench/RESULTS.md
bench:
	scripts/setup.sh --dev
	$(PY) bench/run.py

## make load: the load test (locust, own venv) against a running make run; merges into bench/RESULTS.md
load:
	scripts/load.sh

## make lint: ruff, then mypy (django-stubs; settings from the development defaults above)
lint:
	@[[ -x .venv/bin/ruff && -x .venv/bin/mypy ]] || scripts/setup.sh --dev
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy

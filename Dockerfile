# Production image: nginx in front of gunicorn (scripts/serve.sh), HTTPS on 8443, as a
# non-root user. nginx terminates TLS 1.2+ (AEAD suites only), holds slow clients and passes
# complete requests to gunicorn over a unix socket; one stops when the other does.
# Give it PORTAL_ENV=production settings at run time: DATABASE_URL (or DATABASE_URL_FILE),
# DJANGO_SECRET_KEY (or DJANGO_SECRET_KEY_FILE), ALLOWED_HOSTS, PORTAL_BASE_URL, and mount
# the TLS certificate and key where PORTAL_TLS_CERT and PORTAL_TLS_KEY point. Behind a load
# balancer that adds X-Forwarded-For, set PORTAL_TRUSTED_PROXY_COUNT=2. Run a second
# container from the same image as the background worker (EHR syncs and account mail), with
# the same settings and FHIR_*:
# `python manage.py procrastinate worker --queues sync,mail,daily,audit --delete-jobs successful`.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PORTAL_VAR_DIR=/app/var

RUN useradd --system --user-group --uid 10001 --home-dir /app --shell /usr/sbin/nologin carebridge

# nginx: the front. DejaVu Sans: the PDF download draws names and notes in most scripts with it.
# postgresql-client (15 on bookworm): pg_dump/pg_restore for manage.py backup and restore.
RUN apt-get update \
    && apt-get install -y --no-install-recommends nginx fonts-dejavu-core postgresql-client \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY requirements.txt ./
RUN pip install -r requirements.txt

COPY . .
# collectstatic only imports the settings; the secret and mode here exist for this line only.
RUN PORTAL_ENV=development DJANGO_SECRET_KEY=build-only python manage.py collectstatic --noinput \
    && mkdir -p /app/var/run \
    && chown carebridge:carebridge /app/var/run

USER carebridge
ENV PORTAL_ENV=production \
    PORTAL_LISTEN=0.0.0.0:8443 \
    PORTAL_TLS_CERT=/run/secrets/tls/cert.pem \
    PORTAL_TLS_KEY=/run/secrets/tls/key.pem
EXPOSE 8443
CMD ["scripts/serve.sh"]

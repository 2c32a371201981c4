# Production image: gunicorn serving HTTPS on 8443 as a non-root user.
# Give it PORTAL_ENV=production settings at run time: DATABASE_URL (or DATABASE_URL_FILE),
# DJANGO_SECRET_KEY (or DJANGO_SECRET_KEY_FILE), ALLOWED_HOSTS, and mount the TLS
# certificate and key where PORTAL_TLS_CERT and PORTAL_TLS_KEY point. Run a second
# container from the same image as the background worker (EHR syncs), with the same
# settings and FHIR_*: `python manage.py procrastinate worker --queues sync --delete-jobs successful`.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PORTAL_VAR_DIR=/app/var

RUN useradd --system --user-group --uid 10001 --home-dir /app --shell /usr/sbin/nologin carebridge

# DejaVu Sans: the PDF download draws names and notes in most scripts with it.
RUN apt-get update \
    && apt-get install -y --no-install-recommends fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY requirements.txt ./
RUN pip install -r requirements.txt

COPY . .
# collectstatic only imports the settings; the secret and mode here exist for this line only.
RUN PORTAL_ENV=development DJANGO_SECRET_KEY=build-only python manage.py collectstatic --noinput

USER carebridge
ENV PORTAL_ENV=production \
    GUNICORN_BIND=0.0.0.0:8443 \
    PORTAL_TLS_CERT=/run/secrets/tls/cert.pem \
    PORTAL_TLS_KEY=/run/secrets/tls/key.pem
EXPOSE 8443
CMD ["gunicorn", "portal.wsgi:application", "-c", "gunicorn.conf.py"]

"""Gunicorn settings for Carebridge: HTTPS only, TLS 1.2 or newer, no PHI in logs.

`make run` and the Docker image both use this file; environment variables tune it.
"""

import os
import ssl
from pathlib import Path

_ROOT = Path(__file__).resolve().parent

# Loopback by default: a development server must not be reachable from the network.
# The container sets GUNICORN_BIND=0.0.0.0:8443 behind its published port.
bind = os.environ.get("GUNICORN_BIND", f"127.0.0.1:{os.environ.get('PORT', '8443')}")
workers = int(os.environ.get("GUNICORN_WORKERS", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
proc_name = "carebridge"

# TLS terminates here, so cookies marked Secure and HSTS mean what they say even without
# a proxy in front.
certfile = os.environ.get("PORTAL_TLS_CERT", str(_ROOT / "var" / "tls" / "cert.pem"))
keyfile = os.environ.get("PORTAL_TLS_KEY", str(_ROOT / "var" / "tls" / "key.pem"))

# Query strings, referers, headers and cookies can carry PHI or credentials, so the access
# log has the method, the path, the status and the duration, and nothing else.
accesslog = "-"
access_log_format = "%(t)s %(m)s %(U)s %(s)s %(M)sms"
errorlog = "-"

# The control socket defaults to one path per OS user, which `make run`, the browser tests
# and the TLS tests would fight over; nothing here uses gunicornc.
control_socket_disable = True


def ssl_context(conf, default_ssl_context_factory):
    """Refuse TLS 1.0 and 1.1 (HIPAA transmission security; NIST SP 800-52r2).

    Gunicorn ignores the old ssl_version setting, so the floor is set on the context.
    """
    context = default_ssl_context_factory()
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def post_worker_init(worker):
    """Move everything loaded at start-up (Django, templates, settings) out of the GC's way.

    Without it, a full collection walks the whole loaded application every few
    pages: a 500-row lab page then took ~160 ms instead of ~60 ms once in ten
    requests (bench/bench_pages.py). Objects made while serving are still collected.
    """
    import gc

    gc.freeze()

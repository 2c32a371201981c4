"""Gunicorn settings for Carebridge, behind the nginx front that scripts/serve.sh starts.

gunicorn never faces clients: nginx terminates TLS, holds slow clients and passes
complete requests over a unix socket (serve.sh gives the --bind). Environment
variables tune the sizing.
"""

import os

workers = int(os.environ.get("GUNICORN_WORKERS", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
proc_name = "carebridge"

# nginx writes the access log (it also sees the requests it refuses itself); gunicorn
# logs only errors. Neither logs query strings, headers or cookies.
accesslog = None
errorlog = "-"

# The control socket defaults to one path per OS user, which `make run`, the browser tests
# and the front tests would fight over; nothing here uses gunicornc.
control_socket_disable = True


def post_worker_init(worker):
    """Move everything loaded at start-up (Django, templates, settings) out of the GC's way.

    Without it, a full collection walks the whole loaded application every few
    pages: a 500-row lab page then took ~160 ms instead of ~60 ms once in ten
    requests (bench/bench_pages.py). Objects made while serving are still collected.
    The assistant's classifier is trained from its committed utterances and
    dateparser loads its data first (about a second), so that no patient's first
    message waits for it and the result is frozen with the rest.
    """
    import gc

    from assistant.nlu import warm_up

    warm_up()
    gc.freeze()

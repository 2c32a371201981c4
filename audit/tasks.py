"""The audit trail's periodic jobs, run by the worker (queue ``audit``).

- ``audit.seal`` every minute: chains the events that the throttled
  after-commit attempts (``chain.seal_soon``) left behind, so no event waits
  long outside the chain even when no request follows it.
- ``audit.checkpoint`` every 10 minutes: seals, then signs and stores the chain
  head (``services.checkpoint_create``), also when nothing happened, so that
  AUDIT_CHECKPOINT_MAX_AGE can tell a missing checkpoint from a quiet night.
"""

import logging

from django.db import connection
from procrastinate.contrib.django import app

from audit import chain, services

logger = logging.getLogger(__name__)


@app.periodic(cron="* * * * *", periodic_id="audit.seal")
@app.task(name="audit.seal", queue="audit", pass_context=False)
def seal(timestamp: int) -> None:
    try:
        sealed = chain.seal_pending()
        if sealed:
            logger.info("Sealed %d audit events.", sealed)
    finally:
        connection.close()


@app.periodic(cron="*/10 * * * *", periodic_id="audit.checkpoint")
@app.task(name="audit.checkpoint", queue="audit", pass_context=False)
def checkpoint(timestamp: int) -> None:
    try:
        services.checkpoint_create()  # logs the signed head itself
    finally:
        connection.close()

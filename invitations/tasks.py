"""The daily proxy rules (invitations/proxies.py), run by the worker's periodic deferrer."""

import logging

from django.db import connection
from procrastinate.contrib.django import app

from invitations.proxies import proxy_rules_apply

logger = logging.getLogger(__name__)


# 03:15 UTC; the rules count ages and dates in the clinic's time zone (TIME_ZONE).
@app.periodic(cron="15 3 * * *")
@app.task(name="invitations.proxy_rules", queue="daily", pass_context=False)
def proxy_rules(timestamp: int) -> None:
    try:
        counts = proxy_rules_apply()
        logger.info("proxy rules: %(narrowed)d narrowed, %(ended)d ended", counts)
    finally:
        connection.close()

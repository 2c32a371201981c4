"""Background jobs of billing (procrastinate, queue "mail"): the payment receipt.

The receipt names the amount, the date, the statement's number and where to read it:
no services, codes or clinical words. The job row holds the entry's id only.
"""

import logging
import uuid

from django.conf import settings
from django.core.mail import send_mail
from django.db import connection
from django.template.loader import render_to_string
from procrastinate.contrib.django import app

from accounts.models import User
from billing import money
from billing.models import LedgerEntry

logger = logging.getLogger(__name__)

RECEIPT_SUBJECT = "Your Carebridge payment receipt"


def receipt_later(*, entry_id: uuid.UUID) -> None:
    """Queue the receipt, in the caller's transaction."""
    send_receipt.defer(entry_id=str(entry_id))


@app.task(name="billing.send_receipt", queue="mail", pass_context=False)
def send_receipt(entry_id: str) -> None:
    try:
        _send(entry_id)
    finally:
        connection.close()


def _send(entry_id: str) -> None:
    entry = LedgerEntry.objects.filter(pk=entry_id).select_related("statement").first()
    if entry is None:
        return
    user = User.objects.filter(patient_id=entry.patient_id, is_active=True).first()
    if user is None:
        logger.info("receipt for entry %s not sent: no active account", entry_id)
        return
    context = {
        "base_url": settings.PORTAL_BASE_URL,
        "amount": money.show(-entry.amount, entry.currency),
        "number": entry.statement.number,
        "paid_on": entry.created_at.date(),
        "entry_id": entry.pk,
    }
    body = render_to_string("billing/email/receipt.txt", context)
    send_mail(RECEIPT_SUBJECT, body, None, [user.email])


PLAN_SUBJECT = "A scheduled Carebridge payment did not go through"


def plan_notice_later(*, patient_id: object, in_default: bool) -> None:
    """Queue the patient's notice of a declined installment, in the caller's transaction."""
    send_plan_notice.defer(patient_id=str(patient_id), in_default=in_default)


@app.task(name="billing.send_plan_notice", queue="mail", pass_context=False)
def send_plan_notice(patient_id: str, in_default: bool) -> None:
    try:
        user = User.objects.filter(patient_id=patient_id, is_active=True).first()
        if user is None:
            return
        context = {"base_url": settings.PORTAL_BASE_URL, "in_default": in_default}
        body = render_to_string("billing/email/plan_declined.txt", context)
        send_mail(PLAN_SUBJECT, body, None, [user.email])
    finally:
        connection.close()


@app.periodic(cron="0 7 * * *")
@app.task(name="billing.charge_installments", queue="mail", pass_context=False)
def charge_installments(timestamp: int) -> None:
    """Every day at 07:00 UTC: charge the payment plans' due installments."""
    from billing import plans  # plans queues this module's jobs: import at run time

    try:
        plans.installments_charge()
    finally:
        connection.close()

"""Background jobs of billing (procrastinate, queue "mail"): the payment receipt, the
plan notices, detaching a cancelled plan's card, and the daily installment charge.

The receipt names the amount, the date, the statement's number and where to read it:
no services, codes or clinical words. The job row holds the entry's id only.
"""

import logging
import uuid

from django.conf import settings
from django.core.mail import send_mail
from django.db import connection
from django.template.loader import render_to_string
from procrastinate import RetryStrategy
from procrastinate.contrib.django import app

from accounts.models import User
from billing import gateway, money
from billing.models import LedgerEntry, PaymentPlan

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


PLAN_CANCELLED_SUBJECT = "Your Carebridge payment plan has ended"


def plan_cancelled_later(*, plan_id: object, detach_card: bool) -> None:
    """Queue, in the caller's transaction, the patient's notice of a cancelled plan and,
    when a card was saved for it, taking that card off Stripe's Customer."""
    send_plan_cancelled.defer(plan_id=str(plan_id))
    if detach_card:
        card_detach_later(plan_id=plan_id)


def card_detach_later(*, plan_id: object) -> None:
    detach_plan_card.defer(plan_id=str(plan_id))


@app.task(name="billing.send_plan_cancelled", queue="mail", pass_context=False)
def send_plan_cancelled(plan_id: str) -> None:
    """The notice says the plan ended and where to look: no amounts, reasons or services."""
    try:
        plan = PaymentPlan.objects.filter(pk=plan_id).only("patient_id").first()
        if plan is None:
            return
        user = User.objects.filter(patient_id=plan.patient_id, is_active=True).first()
        if user is None:
            return
        context = {"base_url": settings.PORTAL_BASE_URL}
        body = render_to_string("billing/email/plan_cancelled.txt", context)
        send_mail(PLAN_CANCELLED_SUBJECT, body, None, [user.email])
    finally:
        connection.close()


@app.task(
    name="billing.detach_plan_card",
    queue="mail",
    pass_context=False,
    retry=RetryStrategy(max_attempts=12, exponential_wait=5),
)
def detach_plan_card(plan_id: str) -> None:
    """The card saved for a cancelled plan has no other use in the portal: detach it on
    Stripe (retried while Stripe is unreachable)."""
    try:
        plan = (
            PaymentPlan.objects.filter(pk=plan_id)
            .only("patient_id", "status", "payment_method_id")
            .first()
        )
        if plan is None or plan.status != PaymentPlan.Status.CANCELLED:
            return
        if plan.payment_method_id:
            gateway.payment_method_detach(plan.payment_method_id)
        logger.info("payment plan %s: card detached", plan_id)
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

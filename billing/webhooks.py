"""Stripe's webhook events, applied to the ledger: verified, idempotent, order-proof.

- Verified: ``gateway.event_from_webhook`` checks the signature on the raw body with
  the endpoint secret and a 5-minute tolerance; anything else is refused (400) before
  a row is written.
- Idempotent: the event id is inserted under its primary key in the transaction of
  the ledger change; a retried or replayed event meets the key and changes nothing.
- Order-proof: each event is applied from the object it carries, and postings are
  keyed by Stripe's object (one payment per PaymentIntent, one refund per Refund,
  one dispute per Dispute), so ``payment_intent.succeeded`` and
  ``checkout.session.completed`` post the same payment once in either order, a refund
  that arrives before its payment still finds its statement, a refund that later
  fails (``refund.updated``/``refund.failed``/``charge.refund.updated`` with status
  ``failed``) is reversed by one new entry whenever it comes, and a late
  ``checkout.session.expired`` never reopens a paid attempt.
- Unknown events are acknowledged and ignored. Logs name the event id and type only.
"""

import logging
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from billing import gateway, plans, tasks
from billing.models import CheckoutAttempt, LedgerEntry, Statement, WebhookEvent
from billing.services import ledger_post

logger = logging.getLogger(__name__)


def event_apply(event: dict[str, Any]) -> bool:
    """Apply one verified event; False when it was applied before (a replay).

    The event id goes in first, in the transaction of the change: a replay fails
    that first insert and rolls back a transaction that has done nothing else
    (no savepoint needed, one round trip fewer on every event).
    """
    try:
        with transaction.atomic():
            WebhookEvent.objects.create(event_id=event["id"], type=event["type"])
            handler = HANDLERS.get(event["type"])
            if handler is not None:
                handler(event["data"]["object"])
    except IntegrityError:
        if not WebhookEvent.objects.filter(event_id=event["id"]).exists():
            raise  # not a replay: some other constraint refused the change
        logger.info("stripe event %s replayed: ignored", event["id"])
        return False
    return True


def _statement(metadata: dict[str, Any] | None, payment_intent: str = "") -> Statement | None:
    """The statement an object is about: its metadata, else the payment already posted,
    else the PaymentIntent's own metadata (fetched: the event may come first)."""
    statement_id = (metadata or {}).get("statement_id")
    if not statement_id and payment_intent:
        paid = LedgerEntry.objects.filter(
            kind=LedgerEntry.Kind.PAYMENT, stripe_id=payment_intent
        ).first()
        if paid is not None:
            return paid.statement
        statement_id = gateway.payment_intent_metadata(payment_intent).get("statement_id")
    if not statement_id:
        return None
    try:
        return Statement.objects.filter(pk=statement_id).first()
    except (ValueError, TypeError, ValidationError):  # metadata that is no statement id
        return None


def _payment(statement: Statement | None, payment_intent: str, amount: int) -> None:
    if statement is None or not payment_intent or amount <= 0:
        return
    entry = ledger_post(
        statement=statement,
        kind=LedgerEntry.Kind.PAYMENT,
        amount=-amount,
        stripe_id=payment_intent,
        payment_intent=payment_intent,
    )
    if entry is not None:
        tasks.receipt_later(entry_id=entry.pk)


def _session_completed(session: dict[str, Any]) -> None:
    if session.get("mode") == "setup":
        plans.plan_activate(session)
        return
    if session.get("mode") != "payment" or session.get("payment_status") != "paid":
        return
    statement = _statement(session.get("metadata"))
    payment_intent = str(session.get("payment_intent") or "")
    _payment(statement, payment_intent, int(session.get("amount_total") or 0))
    CheckoutAttempt.objects.filter(session_id=session.get("id")).update(
        status=CheckoutAttempt.Status.PAID
    )


def _session_expired(session: dict[str, Any]) -> None:
    # Only an open attempt expires: a paid one stays paid whatever comes late.
    CheckoutAttempt.objects.filter(
        session_id=session.get("id"), status=CheckoutAttempt.Status.OPEN
    ).update(status=CheckoutAttempt.Status.EXPIRED)


def _intent_succeeded(intent: dict[str, Any]) -> None:
    statement = _statement(intent.get("metadata"))
    _payment(statement, str(intent.get("id") or ""), int(intent.get("amount_received") or 0))


def _refund(refund: dict[str, Any]) -> None:
    if refund.get("status") == "failed":
        _refund_failed(refund)
        return
    if refund.get("status") not in {"succeeded", "pending"}:
        return
    payment_intent = str(refund.get("payment_intent") or "")
    statement = _statement(refund.get("metadata"), payment_intent)
    if statement is None:
        return
    ledger_post(
        statement=statement,
        kind=LedgerEntry.Kind.REFUND,
        amount=int(refund.get("amount") or 0),
        stripe_id=str(refund["id"]),
        payment_intent=payment_intent,
    )


def _refund_failed(refund: dict[str, Any]) -> None:
    """A refund that failed after it was made (the card was closed, say): the money never
    left, so a reversing entry keyed by the Refund takes it back off the balance. The
    refund's own entry stays (the ledger is append-only); a failure that overtakes the
    refund's creation posts the refund first, so both arrive in either order."""
    payment_intent = str(refund.get("payment_intent") or "")
    statement = _statement(refund.get("metadata"), payment_intent)
    if statement is None:
        return
    amount = int(refund.get("amount") or 0)
    ledger_post(
        statement=statement,
        kind=LedgerEntry.Kind.REFUND,
        amount=amount,
        stripe_id=str(refund["id"]),
        payment_intent=payment_intent,
    )
    # Stripe's failure_reason is a code such as "expired_or_canceled_card": no PHI.
    reason = str(refund.get("failure_reason") or "unknown")
    ledger_post(
        statement=statement,
        kind=LedgerEntry.Kind.REVERSAL,
        amount=-amount,
        stripe_id=str(refund["id"]),
        payment_intent=payment_intent,
        reason=f"The refund failed at Stripe ({reason}).",
    )


def _charge_refunded(charge: dict[str, Any]) -> None:
    payment_intent = str(charge.get("payment_intent") or "")
    for refund in (charge.get("refunds") or {}).get("data") or []:
        _refund({**refund, "payment_intent": refund.get("payment_intent") or payment_intent})


def _dispute_created(dispute: dict[str, Any]) -> None:
    payment_intent = str(dispute.get("payment_intent") or "")
    statement = _statement(None, payment_intent)
    if statement is None:
        return
    ledger_post(
        statement=statement,
        kind=LedgerEntry.Kind.DISPUTE,
        amount=int(dispute.get("amount") or 0),
        stripe_id=str(dispute["id"]),
        payment_intent=payment_intent,
    )


def _dispute_closed(dispute: dict[str, Any]) -> None:
    # Won: the disputed money came back, a correcting entry (keyed by the dispute).
    if dispute.get("status") != "won":
        return
    payment_intent = str(dispute.get("payment_intent") or "")
    statement = _statement(None, payment_intent)
    if statement is None:
        return
    _dispute_created(dispute)  # a "closed" that overtook "created" posts the dispute first
    ledger_post(
        statement=statement,
        kind=LedgerEntry.Kind.ADJUSTMENT,
        amount=-int(dispute.get("amount") or 0),
        stripe_id=f"{dispute['id']}:won",
        payment_intent=payment_intent,
    )


HANDLERS = {
    "checkout.session.completed": _session_completed,
    "checkout.session.async_payment_succeeded": _session_completed,
    "checkout.session.expired": _session_expired,
    "payment_intent.succeeded": _intent_succeeded,
    "refund.created": _refund,
    "refund.updated": _refund,
    "refund.failed": _refund,
    "charge.refund.updated": _refund,
    "charge.refunded": _charge_refunded,
    "charge.dispute.created": _dispute_created,
    "charge.dispute.closed": _dispute_closed,
}

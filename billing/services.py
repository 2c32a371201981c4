"""Writes of bills: the only place that changes statements and the ledger.

Each service takes the actor and the audit context (never the request), resolves the
patient through ``portal.access.access_patient_for_billing`` (404 alike for missing
and not yours), and records its audit event in the transaction of its change. Every
money movement is one ledger entry and one audit event (``ledger_post``).
"""

import uuid
from dataclasses import dataclass
from datetime import date, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.http import Http404
from django.utils import timezone

from audit.actions import Action
from audit.context import AuditContext
from audit.services import record
from billing import gateway, money
from billing.models import CheckoutAttempt, LedgerEntry, LineItem, Statement
from patients.models import Patient
from portal.access import BILLING_ROLES, Actor, access_patient_for_billing

KIND_ACTIONS = {
    LedgerEntry.Kind.CHARGE: Action.BILL_STATEMENT_ISSUE,
    LedgerEntry.Kind.PAYMENT: Action.BILL_PAYMENT,
    LedgerEntry.Kind.REFUND: Action.BILL_REFUND,
    LedgerEntry.Kind.ADJUSTMENT: Action.BILL_ADJUSTMENT,
    LedgerEntry.Kind.DISPUTE: Action.BILL_DISPUTE,
    # A correcting entry: the failed refund's own entry stays, as the ledger is append-only.
    LedgerEntry.Kind.REVERSAL: Action.BILL_ADJUSTMENT,
}


class BillingRefused(Exception):
    """The request cannot be done as asked; the message is for the person asking."""


@dataclass(frozen=True)
class ItemInput:
    service_date: date
    description: str
    charge: int
    insurance_paid: int
    adjustment: int
    patient_responsibility: int


def statement_issue(
    *,
    actor: Actor,
    patient_id: uuid.UUID,
    number: str,
    due_on: date,
    items: list[ItemInput],
    currency: str = "",
    context: AuditContext | None = None,
) -> Statement:
    """Billing staff create a statement and issue it: its charge goes on the ledger."""
    if actor.role not in BILLING_ROLES:
        raise Http404("No such patient.")
    patient = access_patient_for_billing(actor=actor, patient_id=patient_id)
    with transaction.atomic():
        return _statement_create(
            patient=patient,
            actor=actor,
            number=number,
            due_on=due_on,
            items=items,
            currency=currency or money.default_currency(),
            action=Action.BILL_STATEMENT_ISSUE,
            context=context,
        )


def statements_import(*, statements: list[tuple[Patient, str, date, str, list[ItemInput]]]) -> int:
    """The import command's write: all of one file's statements, or none of them."""
    with transaction.atomic():
        for patient, number, due_on, currency, items in statements:
            _statement_create(
                patient=patient,
                actor=None,
                number=number,
                due_on=due_on,
                items=items,
                currency=currency,
                action=Action.BILL_STATEMENT_IMPORT,
                context=None,
            )
    return len(statements)


def checkout_start(
    *,
    actor: Actor,
    patient_id: uuid.UUID | None,
    statement_id: uuid.UUID,
    amount: int,
    success_url: str,
    cancel_url: str,
    context: AuditContext | None = None,
) -> str:
    """The Checkout page's address for paying ``amount`` on one statement.

    A second click for the same amount while the first session is open gets the same
    session (the statement's row lock serialises them), never a second charge page.
    """
    patient = access_patient_for_billing(actor=actor, patient_id=patient_id)
    if actor.role in BILLING_ROLES:
        raise Http404("No such statement.")
    with transaction.atomic():
        statement = (
            Statement.objects.select_for_update()
            .filter(pk=statement_id, patient=patient, status=Statement.Status.ISSUED)
            .first()
        )
        if statement is None:
            raise Http404("No such statement.")
        balance = statement_balance(statement)
        _check_amount(amount, balance, statement.currency)
        since = timezone.now() - timedelta(seconds=settings.BILLING_CHECKOUT_REUSE_SECONDS)
        open_attempt = CheckoutAttempt.objects.filter(
            statement=statement,
            amount=amount,
            status=CheckoutAttempt.Status.OPEN,
            created_at__gte=since,
        ).first()
        if open_attempt is not None:
            return open_attempt.url
        attempt_id = uuid.uuid4()
        page = gateway.checkout_payment(
            statement_id=str(statement.pk),
            statement_number=statement.number,
            amount=amount,
            currency=statement.currency,
            email=str(getattr(actor, "email", "") or ""),
            success_url=success_url,
            cancel_url=cancel_url,
            idempotency_key=f"checkout-{attempt_id}",
        )
        CheckoutAttempt.objects.create(
            id=attempt_id,
            statement=statement,
            patient=patient,
            amount=amount,
            currency=statement.currency,
            session_id=page.session_id,
            url=page.url,
            created_by_id=actor.pk,
        )
        record(
            action=Action.BILL_CHECKOUT,
            actor=actor,
            context=context,
            patient_id=patient.pk,
            object_type="CheckoutAttempt",
            object_id=attempt_id,
        )
    return page.url


def refund_issue(
    *,
    actor: Actor,
    patient_id: uuid.UUID,
    payment_id: uuid.UUID,
    amount: int,
    reason: str,
    context: AuditContext | None = None,
) -> LedgerEntry:
    """Billing staff refund part or all of a payment, with a reason; sent to Stripe with an
    idempotency key, posted to the ledger at once (the webhook then finds it posted)."""
    if actor.role not in BILLING_ROLES:
        raise Http404("No such payment.")
    patient = access_patient_for_billing(actor=actor, patient_id=patient_id)
    if not reason.strip():
        raise BillingRefused("Give the reason for the refund.")
    with transaction.atomic():
        payment = (
            LedgerEntry.objects.filter(
                pk=payment_id, patient=patient, kind=LedgerEntry.Kind.PAYMENT
            )
            .select_related("statement")
            .first()
        )
        if payment is None or not payment.stripe_id:
            raise Http404("No such payment.")
        # One refund of one payment at a time.
        Statement.objects.select_for_update().filter(pk=payment.statement_id).first()
        # Failed refunds were reversed (negative entries): their money is refundable again.
        refunds = LedgerEntry.objects.filter(
            kind__in=[LedgerEntry.Kind.REFUND, LedgerEntry.Kind.REVERSAL],
            payment_intent=payment.stripe_id,
        )
        refunded = refunds.aggregate(s=Sum("amount"))["s"] or 0
        tries = refunds.filter(kind=LedgerEntry.Kind.REFUND).count()
        if amount <= 0 or amount > -payment.amount - refunded:
            left = money.show(-payment.amount - refunded, payment.currency)
            raise BillingRefused(f"A refund of this payment can be at most {left}.")
        refund_id = gateway.refund(
            payment_intent=payment.stripe_id,
            amount=amount,
            statement_id=str(payment.statement_id),
            # The same refund asked twice (a retry) is one refund at Stripe; after a failed
            # refund (reversed) the count differs, so asking again is a new refund.
            idempotency_key=f"refund-{payment.pk}-{tries}-{refunded}-{amount}",
        )
        entry = ledger_post(
            statement=payment.statement,
            kind=LedgerEntry.Kind.REFUND,
            amount=amount,
            stripe_id=refund_id,
            payment_intent=payment.stripe_id,
            reason=reason.strip(),
            actor=actor,
            context=context,
        )
    if entry is None:  # the webhook was quicker
        found = LedgerEntry.objects.get(kind=LedgerEntry.Kind.REFUND, stripe_id=refund_id)
        return found
    return entry


def statement_balance(statement: Statement) -> int:
    return LedgerEntry.objects.filter(statement=statement).aggregate(s=Sum("amount"))["s"] or 0


def ledger_post(
    *,
    statement: Statement,
    kind: str,
    amount: int,
    stripe_id: str | None = None,
    payment_intent: str = "",
    reason: str | None = None,
    actor: Actor | None = None,
    context: AuditContext | None = None,
) -> LedgerEntry | None:
    """Append one entry and its audit event; None when Stripe's object is posted already.

    Call it inside a transaction: the unique (kind, stripe_id) makes a second posting of
    the same PaymentIntent, Refund or Dispute a no-op, whatever order events came in.
    """
    try:
        with transaction.atomic():
            entry = LedgerEntry.objects.create(
                statement=statement,
                patient_id=statement.patient_id,
                kind=kind,
                amount=amount,
                currency=statement.currency,
                stripe_id=stripe_id,
                payment_intent=payment_intent,
                reason=reason,
                actor_id=actor.pk if actor is not None else None,
            )
    except IntegrityError:
        return None
    record(
        action=KIND_ACTIONS[LedgerEntry.Kind(kind)],
        actor=actor,
        context=context,
        patient_id=statement.patient_id,
        object_type="LedgerEntry",
        object_id=entry.pk,
    )
    return entry


# --- Helpers ------------------------------------------------------------------------------


def _check_amount(amount: int, balance: int, currency: str) -> None:
    if balance <= 0:
        raise BillingRefused("This statement has nothing left to pay.")
    if amount > balance:
        raise BillingRefused(f"That is more than the balance of {money.show(balance, currency)}.")
    minimum = min(settings.BILLING_MIN_PAYMENT, balance)
    if amount < minimum:
        raise BillingRefused(f"The smallest payment is {money.show(minimum, currency)}.")


def _statement_create(
    *,
    patient: Patient,
    actor: Actor | None,
    number: str,
    due_on: date,
    items: list[ItemInput],
    currency: str,
    action: Action,
    context: AuditContext | None,
) -> Statement:
    if not items:
        raise BillingRefused("A statement needs at least one line.")
    if Statement.objects.filter(number=number).exists():
        raise BillingRefused(f"Statement {number} exists already.")
    statement = Statement.objects.create(
        patient=patient,
        number=number,
        currency=currency.lower(),
        due_on=due_on,
        status=Statement.Status.ISSUED,
        issued_at=timezone.now(),
        created_by_id=actor.pk if actor is not None else None,
    )
    for position, item in enumerate(items, start=1):
        LineItem.objects.create(
            statement=statement,
            patient=patient,
            position=position,
            service_date=item.service_date,
            description=item.description,
            charge=item.charge,
            insurance_paid=item.insurance_paid,
            adjustment=item.adjustment,
            patient_responsibility=item.patient_responsibility,
        )
    record(
        action=action,
        actor=actor,
        context=context,
        patient_id=patient.pk,
        object_type="Statement",
        object_id=statement.pk,
    )
    LedgerEntry.objects.create(
        statement=statement,
        patient=patient,
        kind=LedgerEntry.Kind.CHARGE,
        amount=sum(i.patient_responsibility for i in items),
        currency=statement.currency,
        actor_id=actor.pk if actor is not None else None,
    )
    return statement

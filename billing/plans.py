"""Payment plans: writes, on the safe path like billing/services.py.

The patient picks a monthly amount within the clinic's rules (at least
``BILLING_PLAN_MIN_MONTHLY``, at most ``BILLING_PLAN_MAX_MONTHS`` installments) and
saves a card on Stripe's Checkout page in setup mode. Its completion (webhook)
activates the plan and lays out the installments, the first due that day. The daily
job ``billing.charge_installments`` charges each due installment off-session with an
idempotency key per installment and try; a decline is tried again on the days of
``BILLING_PLAN_RETRY_DAYS`` after the due date (the patient is told each time, without
detail), and after the last try the plan is in default, flagged to billing staff.
Billing staff may cancel a plan (``plan_cancel``): nothing more is charged, the patient
is told, and the card saved for it is detached on Stripe.
"""

import calendar
import logging
import math
import uuid
from datetime import date, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.http import Http404
from django.utils import timezone

from audit.actions import Action
from audit.context import AuditContext
from audit.services import record
from billing import gateway, money, tasks
from billing.models import Installment, LedgerEntry, PaymentPlan, Statement
from billing.services import BillingRefused, ledger_post, statement_balance
from portal.access import BILLING_ROLES, Actor, access_patient_for_billing, clinic_today

logger = logging.getLogger(__name__)


def plan_start(
    *,
    actor: Actor,
    patient_id: uuid.UUID | None,
    statement_id: uuid.UUID,
    monthly_amount: int,
    success_url: str,
    cancel_url: str,
    context: AuditContext | None = None,
) -> str:
    """The address of Stripe's page where the patient saves the plan's card."""
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
        open_plan = statement.plans.filter(
            status__in=[PaymentPlan.Status.AWAITING_CARD, PaymentPlan.Status.ACTIVE]
        ).first()
        if open_plan is not None:
            if open_plan.status == PaymentPlan.Status.AWAITING_CARD:
                return open_plan.setup_url  # a second click: the same page
            raise BillingRefused("This statement is already on a payment plan.")
        balance = statement_balance(statement)
        months_needed(balance, monthly_amount, statement.currency)
        plan_id = uuid.uuid4()
        email = str(getattr(actor, "email", "") or "")
        customer = gateway.customer_create(
            email=email, statement_id=str(statement.pk), idempotency_key=f"plan-{plan_id}-customer"
        )
        page = gateway.checkout_setup(
            customer=customer,
            statement_id=str(statement.pk),
            success_url=success_url,
            cancel_url=cancel_url,
            idempotency_key=f"plan-{plan_id}-setup",
        )
        PaymentPlan.objects.create(
            id=plan_id,
            statement=statement,
            patient=patient,
            monthly_amount=monthly_amount,
            currency=statement.currency,
            setup_session_id=page.session_id,
            setup_url=page.url,
            customer_id=customer,
            created_by_id=actor.pk,
        )
        record(
            action=Action.BILL_PLAN,
            actor=actor,
            context=context,
            patient_id=patient.pk,
            object_type="PaymentPlan",
            object_id=plan_id,
        )
    return page.url


def months_needed(balance: int, monthly_amount: int, currency: str) -> int:
    if balance <= 0:
        raise BillingRefused("This statement has nothing left to pay.")
    smallest = min(settings.BILLING_PLAN_MIN_MONTHLY, balance)
    if monthly_amount < smallest:
        raise BillingRefused(f"The smallest monthly payment is {money.show(smallest, currency)}.")
    months = math.ceil(balance / monthly_amount) if monthly_amount < balance else 1
    if months > settings.BILLING_PLAN_MAX_MONTHS:
        least = math.ceil(balance / settings.BILLING_PLAN_MAX_MONTHS)
        raise BillingRefused(
            f"A plan lasts at most {settings.BILLING_PLAN_MAX_MONTHS} months: "
            f"pay at least {money.show(least, currency)} a month."
        )
    return months


def plan_activate(session: dict[str, Any]) -> None:
    """The webhook's half: the card is saved, lay out the installments. Idempotent: only a
    plan still waiting for its card is activated."""
    plan = (
        PaymentPlan.objects.select_for_update()
        .filter(setup_session_id=session.get("id"), status=PaymentPlan.Status.AWAITING_CARD)
        .first()
    )
    if plan is None or not session.get("setup_intent"):
        _card_of_cancelled_plan(session)
        return
    plan.payment_method_id = gateway.setup_payment_method(str(session["setup_intent"]))
    plan.status = PaymentPlan.Status.ACTIVE
    plan.save(update_fields=["payment_method_id", "status"])
    balance = statement_balance(plan.statement)
    today = clinic_today()
    count = math.ceil(balance / plan.monthly_amount)
    for number in range(1, count + 1):
        due_on = add_months(today, number - 1)
        amount = min(plan.monthly_amount, balance - plan.monthly_amount * (number - 1))
        Installment.objects.create(
            plan=plan, number=number, amount=amount, due_on=due_on, next_try_on=due_on
        )
    record(
        action=Action.BILL_PLAN,
        patient_id=plan.patient_id,
        object_type="PaymentPlan",
        object_id=plan.pk,
    )


def _card_of_cancelled_plan(session: dict[str, Any]) -> None:
    """Staff cancelled the plan while its card page was open, and the patient saved the card
    anyway: keep the card's id, so that the cancellation's job detaches it on Stripe."""
    plan = (
        PaymentPlan.objects.select_for_update()
        .filter(
            setup_session_id=session.get("id"),
            status=PaymentPlan.Status.CANCELLED,
            payment_method_id="",
        )
        .first()
    )
    if plan is None or not session.get("setup_intent"):
        return
    plan.payment_method_id = gateway.setup_payment_method(str(session["setup_intent"]))
    plan.save(update_fields=["payment_method_id"])
    tasks.card_detach_later(plan_id=plan.pk)


def plan_cancel(
    *,
    actor: Actor,
    patient_id: uuid.UUID,
    plan_id: uuid.UUID,
    reason: str,
    context: AuditContext | None = None,
) -> bool:
    """Billing staff end a payment plan, with a reason: no installment is charged after
    this (the daily job takes active plans only, and holds the plan's row while it
    charges, so a cancellation waits for a charge in progress and the charge never
    follows one). The patient is told without detail, and the card saved for the plan
    is detached on Stripe by a job. False when the plan had ended already (cancelled or
    completed): cancelling twice changes nothing."""
    if actor.role not in BILLING_ROLES:
        raise Http404("No such payment plan.")
    patient = access_patient_for_billing(actor=actor, patient_id=patient_id)
    if not reason.strip():
        raise BillingRefused("Give the reason for cancelling the plan.")
    with transaction.atomic():
        plan = PaymentPlan.objects.select_for_update().filter(pk=plan_id, patient=patient).first()
        if plan is None:
            raise Http404("No such payment plan.")
        if plan.status in {PaymentPlan.Status.CANCELLED, PaymentPlan.Status.COMPLETED}:
            return False
        plan.status = PaymentPlan.Status.CANCELLED
        plan.cancelled_at = timezone.now()
        plan.cancelled_by_id = actor.pk
        plan.cancel_reason = reason.strip()
        plan.save(update_fields=["status", "cancelled_at", "cancelled_by", "cancel_reason"])
        record(
            action=Action.BILL_PLAN,
            actor=actor,
            context=context,
            patient_id=patient.pk,
            object_type="PaymentPlan",
            object_id=plan.pk,
        )
        tasks.plan_cancelled_later(plan_id=plan.pk, detach_card=bool(plan.payment_method_id))
    return True


def installments_charge(*, today: date | None = None) -> int:
    """Charge every installment whose try is due; the number charged or tried."""
    today = today or clinic_today()
    done = 0
    while True:
        with transaction.atomic():
            installment = (
                # The plan's row too: a cancellation waits for this charge, never races it.
                Installment.objects.select_for_update(skip_locked=True, of=("self", "plan"))
                .filter(
                    status=Installment.Status.DUE,
                    next_try_on__lte=today,
                    plan__status=PaymentPlan.Status.ACTIVE,
                )
                .select_related("plan", "plan__statement")
                .order_by("next_try_on", "number")
                .first()
            )
            if installment is None:
                return done
            _charge(installment, today)
            done += 1


def _charge(installment: Installment, today: date) -> None:
    plan = installment.plan
    balance = statement_balance(plan.statement)
    amount = min(installment.amount, balance)
    if amount <= 0:  # paid another way meanwhile
        installment.status = Installment.Status.PAID
        installment.save(update_fields=["status"])
        _maybe_complete(plan)
        return
    installment.tries += 1
    outcome = gateway.charge_off_session(
        customer=plan.customer_id,
        payment_method=plan.payment_method_id,
        amount=amount,
        currency=plan.currency,
        statement_id=str(plan.statement_id),
        # Per installment and try: a retried job reuses its try's key (one charge),
        # a new try after a decline gets a new one.
        idempotency_key=f"installment-{installment.pk}-try-{installment.tries}",
    )
    installment.payment_intent = outcome.payment_intent
    if outcome.succeeded:
        installment.status = Installment.Status.PAID
        installment.save(update_fields=["status", "tries", "payment_intent"])
        entry = ledger_post(
            statement=plan.statement,
            kind=LedgerEntry.Kind.PAYMENT,
            amount=-amount,
            stripe_id=outcome.payment_intent,
            payment_intent=outcome.payment_intent,
        )
        if entry is not None:
            tasks.receipt_later(entry_id=entry.pk)
        _maybe_complete(plan)
        return
    retries = settings.BILLING_PLAN_RETRY_DAYS
    record(
        action=Action.BILL_INSTALLMENT_FAILED,
        patient_id=plan.patient_id,
        object_type="Installment",
        object_id=installment.pk,
    )
    if installment.tries > len(retries):
        installment.status = Installment.Status.FAILED
        plan.status = PaymentPlan.Status.DEFAULT
        plan.save(update_fields=["status"])
        record(
            action=Action.BILL_PLAN,
            patient_id=plan.patient_id,
            object_type="PaymentPlan",
            object_id=plan.pk,
        )
        logger.info("payment plan %s in default", plan.pk)
    else:
        installment.next_try_on = installment.due_on + timedelta(
            days=retries[installment.tries - 1]
        )
    installment.save(update_fields=["status", "tries", "payment_intent", "next_try_on"])
    tasks.plan_notice_later(patient_id=plan.patient_id, in_default=plan.status == "default")


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later, or that month's last day (31 Jan + 1 → 28/29 Feb)."""
    years, month = divmod(day.month - 1 + months, 12)
    year = day.year + years
    return day.replace(
        year=year, month=month + 1, day=min(day.day, calendar.monthrange(year, month + 1)[1])
    )


def _maybe_complete(plan: PaymentPlan) -> None:
    if not plan.installments.exclude(status=Installment.Status.PAID).exists():
        plan.status = PaymentPlan.Status.COMPLETED
        plan.save(update_fields=["status"])
        record(
            action=Action.BILL_PLAN,
            patient_id=plan.patient_id,
            object_type="PaymentPlan",
            object_id=plan.pk,
        )

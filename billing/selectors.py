"""Reads of bills; each takes the acting user and returns only what they may see.

Every function that returns a patient's bills takes ``actor`` and the patient's id,
resolves the patient itself through ``portal.access.access_patient_for_billing``
(the patient, a proxy whose grant covers bills, billing staff; 404 alike for missing
and not yours), records exactly one audit event, and returns a typed page.
tests/billing/test_selectors_safe_path.py finds them by their signature.

Balances are derived from the ledger, never stored.
"""

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime

from django.db.models import Sum
from django.http import Http404

from audit.actions import Action, Severity
from audit.context import AuditContext
from audit.services import record
from billing import money
from billing.models import Installment, LedgerEntry, LineItem, PaymentPlan, Statement
from patients.models import Patient, PatientDemographics
from patients.selectors import demographics_by_mrn
from portal.access import BILLING_ROLES, Actor, access_patient_for_billing
from portal.crypto.selectors import preload_keys

# The list page's payment history: the latest this many (each statement's page has all).
HISTORY = 50


@dataclass(frozen=True)
class ItemView:
    service_date: date
    description: str
    charge: int
    insurance_paid: int
    adjustment: int
    patient_responsibility: int


@dataclass(frozen=True)
class EntryView:
    id: uuid.UUID
    statement_id: uuid.UUID
    statement_number: str
    kind: str
    kind_label: str
    amount: int
    currency: str
    created_at: datetime
    stripe_id: str
    # Staff only (refund and adjustment reasons); None on the patient's pages.
    reason: str | None
    # For a payment: what is left to refund (staff pages).
    refundable: int = 0

    @property
    def shown(self) -> int:
        """What the patient reads: a payment as the amount paid, not the ledger's sign."""
        return -self.amount if self.kind == LedgerEntry.Kind.PAYMENT else self.amount


@dataclass(frozen=True)
class StatementView:
    id: uuid.UUID
    number: str
    currency: str
    status: str
    due_on: date
    issued_at: datetime | None
    total: int
    balance: int
    # The latest payment plan's status ("" without one); "default" is flagged to staff.
    plan_status: str = ""


@dataclass(frozen=True)
class InstallmentView:
    number: int
    amount: int
    due_on: date
    status: str
    tries: int


@dataclass(frozen=True)
class PlanView:
    id: uuid.UUID
    status: str
    status_label: str
    monthly_amount: int
    created_at: datetime
    cancelled_at: datetime | None
    # Staff only (None for the patient): the reason may be clinical.
    cancel_reason: str | None

    @property
    def cancellable(self) -> bool:
        return self.status not in {PaymentPlan.Status.CANCELLED, PaymentPlan.Status.COMPLETED}


@dataclass(frozen=True)
class StatementsPage:
    patient: Patient
    statements: list[StatementView]
    payments: list[EntryView]
    balance: int
    currency: str
    # Staff pages name the patient (positive identification); empty for the patient.
    patient_name: str = ""


@dataclass(frozen=True)
class StatementPage:
    patient: Patient
    statement: StatementView
    items: list[ItemView]
    entries: list[EntryView]
    installments: list[InstallmentView]
    plans: list[PlanView] = field(default_factory=list)


@dataclass(frozen=True)
class ReceiptPage:
    patient: Patient
    entry: EntryView
    statement: StatementView


@dataclass(frozen=True)
class Difference:
    statement_number: str
    what: str


@dataclass(frozen=True)
class ReconciliationPage:
    since: date
    entries: list[EntryView]
    totals: dict[str, int]
    differences: list[Difference]
    # Statements whose payment plan is in default (number, patient id).
    defaults: list[tuple[str, uuid.UUID]]


def balance_due(
    *, actor: Actor, patient_id: uuid.UUID | None, context: AuditContext | None = None
) -> int:
    """The patient's balance over their issued statements (the home page's figure)."""
    patient = access_patient_for_billing(actor=actor, patient_id=patient_id)
    total = _issued_entries(patient).aggregate(s=Sum("amount"))["s"] or 0
    _viewed(actor, patient, context, object_type="balance")
    return total


def statements_page(
    *, actor: Actor, patient_id: uuid.UUID | None, context: AuditContext | None = None
) -> StatementsPage:
    """The patient's statements (newest first) with balances, and their payment history."""
    patient = access_patient_for_billing(actor=actor, patient_id=patient_id)
    staff = actor.role in BILLING_ROLES
    statements = list(_statements(patient, staff=staff))
    views = _statement_views(statements)
    numbers = {s.pk: s.number for s in statements}
    payments = [
        _entry(e, staff=staff, numbers=numbers)
        for e in LedgerEntry.objects.filter(
            patient=patient,
            statement__in=[s.pk for s in statements],
            kind__in=[LedgerEntry.Kind.PAYMENT, LedgerEntry.Kind.REFUND],
        ).order_by("-created_at")[:HISTORY]
    ]
    _viewed(actor, patient, context, object_type="Statement")
    return StatementsPage(
        patient=patient,
        statements=views,
        payments=payments,
        balance=sum(v.balance for v in views if v.status == Statement.Status.ISSUED),
        currency=views[0].currency if views else money.default_currency(),
        patient_name=_name(patient) if staff else "",
    )


def statement_page(
    *,
    actor: Actor,
    patient_id: uuid.UUID | None,
    statement_id: uuid.UUID,
    context: AuditContext | None = None,
    action: Action = Action.BILL_VIEW,
) -> StatementPage:
    """One statement: its line items, its ledger entries and its balance."""
    patient = access_patient_for_billing(actor=actor, patient_id=patient_id)
    staff = actor.role in BILLING_ROLES
    statement = _statements(patient, staff=staff).filter(pk=statement_id).first()
    if statement is None:
        raise Http404("No such statement.")
    preload_keys([patient.pk])
    items = [
        ItemView(
            service_date=i.service_date,
            description=str(i.description),
            charge=i.charge,
            insurance_paid=i.insurance_paid,
            adjustment=i.adjustment,
            patient_responsibility=i.patient_responsibility,
        )
        for i in LineItem.objects.filter(statement=statement)
    ]
    entries = list(statement.entries.order_by("created_at"))
    refunded = _refunded_by_payment(entries)
    views = [
        _entry(
            e,
            staff=staff,
            numbers={statement.pk: statement.number},
            refundable=(-e.amount - refunded.get(e.stripe_id or "", 0))
            if e.kind == LedgerEntry.Kind.PAYMENT
            else 0,
        )
        for e in entries
    ]
    _viewed(actor, patient, context, object_type="Statement", object_id=statement.pk, action=action)
    return StatementPage(
        patient=patient,
        statement=_statement_views([statement])[0],
        items=items,
        entries=views,
        # A cancelled plan's installments are no longer due: the patient may start anew.
        installments=[
            InstallmentView(i.number, i.amount, i.due_on, i.get_status_display(), i.tries)
            for i in Installment.objects.filter(plan__statement=statement)
            .exclude(plan__status=PaymentPlan.Status.CANCELLED)
            .order_by("-plan__created_at", "number")
        ],
        plans=[
            PlanView(
                id=p.pk,
                status=p.status,
                status_label=p.get_status_display(),
                monthly_amount=p.monthly_amount,
                created_at=p.created_at,
                cancelled_at=p.cancelled_at,
                cancel_reason=(str(p.cancel_reason or "")) if staff else None,
            )
            for p in PaymentPlan.objects.filter(statement=statement).order_by("-created_at")
        ],
    )


def receipt_page(
    *,
    actor: Actor,
    patient_id: uuid.UUID | None,
    entry_id: uuid.UUID,
    context: AuditContext | None = None,
) -> ReceiptPage:
    """The receipt of one payment (or refund) on one of the patient's statements."""
    patient = access_patient_for_billing(actor=actor, patient_id=patient_id)
    entry = (
        LedgerEntry.objects.filter(
            pk=entry_id,
            patient=patient,
            kind__in=[LedgerEntry.Kind.PAYMENT, LedgerEntry.Kind.REFUND],
        )
        .select_related("statement")
        .first()
    )
    if entry is None:
        raise Http404("No such receipt.")
    statement = entry.statement
    _viewed(actor, patient, context, object_type="LedgerEntry", object_id=entry.pk)
    return ReceiptPage(
        patient=patient,
        entry=_entry(entry, staff=False, numbers={statement.pk: statement.number}),
        statement=_statement_views([statement])[0],
    )


def patient_by_mrn(
    *, actor: Actor, mrn: str, context: AuditContext | None = None
) -> uuid.UUID | None:
    """Billing staff find a patient by exact MRN (records' directory, audited there)."""
    if actor.role not in BILLING_ROLES:
        return None
    found = demographics_by_mrn(actor=actor, mrn=mrn, context=context)
    return found.patient_id if found else None


def reconciliation_page(
    *, actor: Actor, since: date, context: AuditContext | None = None
) -> ReconciliationPage:
    """Billing staff: every money movement since a date, totals by kind, and what looks
    wrong in the ledger itself (a statement paid beyond its charges, a payment posted
    without Stripe's id). The command billing_reconcile also asks Stripe."""
    if actor.role not in BILLING_ROLES:
        raise Http404("No such page.")
    rows = list(
        LedgerEntry.objects.filter(created_at__date__gte=since)
        .exclude(kind=LedgerEntry.Kind.CHARGE)
        .select_related("statement")
        .order_by("created_at")
    )
    totals: dict[str, int] = {}
    for row in rows:
        totals[row.kind] = totals.get(row.kind, 0) + row.amount
    differences = [
        Difference(row.statement.number, "payment without a Stripe id")
        for row in rows
        if row.kind == LedgerEntry.Kind.PAYMENT and not row.stripe_id
    ]
    touched = {row.statement_id for row in rows}
    balances = (
        LedgerEntry.objects.filter(statement_id__in=touched)
        .values("statement_id", "statement__number")
        .annotate(balance=Sum("amount"))
    )
    differences += [
        Difference(b["statement__number"], f"credit balance {b['balance']}")
        for b in balances
        if b["balance"] < 0
    ]
    record(
        action=Action.BILL_VIEW,
        actor=actor,
        context=context,
        object_type="reconciliation",
        object_id=since.isoformat(),
    )
    return ReconciliationPage(
        since=since,
        entries=[_entry(r, staff=True, numbers={r.statement_id: r.statement.number}) for r in rows],
        totals=totals,
        differences=differences,
        defaults=[
            (p.statement.number, p.patient_id)
            for p in PaymentPlan.objects.filter(status=PaymentPlan.Status.DEFAULT).select_related(
                "statement"
            )
        ],
    )


# --- Helpers: below the access check ----------------------------------------------------


def _statements(patient: Patient, *, staff: bool):  # type: ignore[no-untyped-def]
    rows = Statement.objects.filter(patient=patient)
    if not staff:
        rows = rows.filter(status=Statement.Status.ISSUED)
    return rows.order_by("-created_at")


def _issued_entries(patient: Patient):  # type: ignore[no-untyped-def]
    return LedgerEntry.objects.filter(patient=patient, statement__status=Statement.Status.ISSUED)


def _statement_views(statements) -> list[StatementView]:  # type: ignore[no-untyped-def]
    statements = list(statements)
    ids = [s.pk for s in statements]
    balances = dict(
        LedgerEntry.objects.filter(statement_id__in=ids)
        .values_list("statement_id")
        .annotate(Sum("amount"))
    )
    totals = dict(
        LedgerEntry.objects.filter(statement_id__in=ids, kind=LedgerEntry.Kind.CHARGE)
        .values_list("statement_id")
        .annotate(Sum("amount"))
    )
    plans: dict[uuid.UUID, str] = {}
    for plan in PaymentPlan.objects.filter(statement_id__in=ids).order_by("created_at"):
        plans[plan.statement_id] = plan.status
    return [
        StatementView(
            id=s.pk,
            number=s.number,
            currency=s.currency,
            status=s.status,
            due_on=s.due_on,
            issued_at=s.issued_at,
            total=totals.get(s.pk) or 0,
            balance=balances.get(s.pk) or 0,
            plan_status=plans.get(s.pk, ""),
        )
        for s in statements
    ]


def _refunded_by_payment(entries: list[LedgerEntry]) -> dict[str, int]:
    """Refunded so far per PaymentIntent."""
    refunded: dict[str, int] = {}
    for e in entries:
        # A failed refund's reversal (negative) makes its money refundable again.
        if e.kind in {LedgerEntry.Kind.REFUND, LedgerEntry.Kind.REVERSAL} and e.payment_intent:
            refunded[e.payment_intent] = refunded.get(e.payment_intent, 0) + e.amount
    return refunded


def _entry(
    e: LedgerEntry, *, staff: bool, numbers: dict[uuid.UUID, str], refundable: int = 0
) -> EntryView:
    return EntryView(
        id=e.pk,
        statement_id=e.statement_id,
        statement_number=numbers.get(e.statement_id, ""),
        kind=e.kind,
        kind_label=e.get_kind_display(),
        amount=e.amount,
        currency=e.currency,
        created_at=e.created_at,
        stripe_id=e.stripe_id or "",
        reason=(str(e.reason) if e.reason is not None else "") if staff else None,
        refundable=max(refundable, 0),
    )


def _name(patient: Patient) -> str:
    found = PatientDemographics.objects.filter(patient=patient).first()
    return f"{found.given_name} {found.family_name}" if found else ""


def _viewed(
    actor: Actor,
    patient: Patient,
    context: AuditContext | None,
    *,
    object_type: str,
    object_id: object = "",
    action: Action = Action.BILL_VIEW,
) -> None:
    record(
        action=action,
        actor=actor,
        context=context,
        patient_id=patient.pk,
        object_type=object_type,
        object_id=object_id,
        severity=Severity.INFO,
    )

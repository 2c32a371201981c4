"""Statements, their line items, the ledger that gives every balance, and Stripe's traces.

Amounts are integers in minor units (cents) with an ISO currency, never floats.
What is about the patient's care (a line item's description and date of service,
a refund's reason) is encrypted under the patient's key; amounts, kinds and Stripe
ids are not PHI and stay in clear so balances are sums in SQL.

The ledger is append-only: a PostgreSQL trigger (migration 0002) refuses UPDATE,
DELETE and TRUNCATE of ``billing_ledgerentry``; a correction is a new entry. A
statement's balance is the sum of its entries (charges and refunds raise it,
payments and adjustments lower it).
"""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from portal.crypto.fields import EncryptedDateField, EncryptedTextField
from portal.crypto.models import PHIModel


class Statement(PHIModel):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        ISSUED = "issued", "Issued"
        VOID = "void", "Void"

    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT)
    # The practice-management system's number (imports) or one of ours; shown to the patient.
    number = models.CharField(max_length=40, unique=True)
    currency = models.CharField(max_length=3, default="usd")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    due_on = models.DateField()
    issued_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        indexes = [models.Index(fields=["patient", "status"])]

    def __str__(self) -> str:
        return self.number


class LineItem(PHIModel):
    statement = models.ForeignKey(Statement, on_delete=models.PROTECT, related_name="items")
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT)
    position = models.PositiveSmallIntegerField()
    service_date = EncryptedDateField()
    description = EncryptedTextField()
    charge = models.BigIntegerField()
    insurance_paid = models.BigIntegerField(default=0)
    adjustment = models.BigIntegerField(default=0)
    patient_responsibility = models.BigIntegerField()

    class Meta:
        ordering = ["position"]
        constraints = [
            models.CheckConstraint(
                condition=Q(patient_responsibility__gte=0) & Q(charge__gte=0),
                name="billing_lineitem_amounts_not_negative",
            )
        ]


class LedgerEntry(PHIModel):
    """One money movement on a statement; never changed once written."""

    class Kind(models.TextChoices):
        CHARGE = "charge", "Charge"
        PAYMENT = "payment", "Payment"
        REFUND = "refund", "Refund"
        ADJUSTMENT = "adjustment", "Adjustment"
        DISPUTE = "dispute", "Dispute"
        # A refund that failed after it was posted (Stripe: refund status "failed"): the
        # money never left, so this entry takes the refund back off; keyed by the Refund.
        REVERSAL = "reversal", "Failed refund reversed"

    statement = models.ForeignKey(Statement, on_delete=models.PROTECT, related_name="entries")
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT)
    kind = models.CharField(max_length=12, choices=Kind.choices)
    # Signed, minor units: + raises the balance (charge, refund, dispute), - lowers it
    # (payment, adjustment, reversal).
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    # The Stripe object the movement is (PaymentIntent for a payment, Refund, Dispute):
    # unique per kind, so a webhook and the action that caused it post it once.
    stripe_id = models.CharField(max_length=255, null=True, blank=True)  # noqa: DJ001 (NULL: no Stripe object; unique only when set)
    # The PaymentIntent paid, refunded or disputed (a payment's is its stripe_id).
    payment_intent = models.CharField(max_length=255, blank=True, default="")
    # Staff's stated reason (refunds, adjustments): may be clinical, so encrypted.
    reason = EncryptedTextField(null=True, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "stripe_id"],
                condition=Q(stripe_id__isnull=False),
                name="billing_ledger_one_entry_per_stripe_object",
            )
        ]
        indexes = [models.Index(fields=["patient", "created_at"])]


class CheckoutAttempt(models.Model):
    """A Checkout Session the portal opened for a payment (or a card set-up)."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        PAID = "paid", "Paid"
        EXPIRED = "expired", "Expired"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    statement = models.ForeignKey(Statement, on_delete=models.PROTECT, related_name="attempts")
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT)
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    session_id = models.CharField(max_length=255, unique=True)
    url = models.URLField(max_length=2000)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return str(self.pk)


class WebhookEvent(models.Model):
    """Each Stripe event handled, stored in the transaction of its ledger change: a
    retried or replayed event meets the unique key and changes nothing."""

    event_id = models.CharField(max_length=255, primary_key=True)
    type = models.CharField(max_length=100)
    received_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.event_id


class PaymentPlan(PHIModel):
    """A statement paid in monthly installments, charged off-session to a card the patient
    saved on Stripe (Checkout in setup mode). Only Stripe's ids are kept, never card data.
    A PHIModel for one field: the reason billing staff give when they cancel it."""

    class Status(models.TextChoices):
        AWAITING_CARD = "awaiting_card", "Waiting for the card"
        ACTIVE = "active", "Active"
        COMPLETED = "completed", "Completed"
        DEFAULT = "default", "In default"
        CANCELLED = "cancelled", "Cancelled"

    statement = models.ForeignKey(Statement, on_delete=models.PROTECT, related_name="plans")
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT)
    monthly_amount = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.AWAITING_CARD)
    setup_session_id = models.CharField(max_length=255, unique=True)
    setup_url = models.URLField(max_length=2000)
    customer_id = models.CharField(max_length=255)
    payment_method_id = models.CharField(max_length=255, blank=True, default="")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # Billing staff's cancellation: who, when (UTC) and why (may be clinical: encrypted).
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    cancel_reason = EncryptedTextField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["statement"],
                condition=Q(status__in=["awaiting_card", "active"]),
                name="billing_one_open_plan_per_statement",
            )
        ]

    def __str__(self) -> str:
        return str(self.pk)


class Installment(models.Model):
    class Status(models.TextChoices):
        DUE = "due", "Due"
        PAID = "paid", "Paid"
        FAILED = "failed", "Failed (no tries left)"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    plan = models.ForeignKey(PaymentPlan, on_delete=models.PROTECT, related_name="installments")
    number = models.PositiveSmallIntegerField()
    amount = models.BigIntegerField()
    due_on = models.DateField()
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.DUE)
    # Tries so far; the next one is not before next_try_on.
    tries = models.PositiveSmallIntegerField(default=0)
    next_try_on = models.DateField()
    payment_intent = models.CharField(max_length=255, blank=True, default="")

    class Meta:
        ordering = ["number"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "number"], name="billing_installment_once")
        ]

    def __str__(self) -> str:
        return f"{self.plan_id}#{self.number}"

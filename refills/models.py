"""Prescription refill requests: the pharmacy directory, the clinic's rules, the requests.

A request (``RefillRequest``) holds one or several medicines (``RefillItem``),
each naming the EHR's MedicationRequest it asks to refill or renew. Each item is
decided on its own (approved, denied with a reason, needs an appointment) and
each decision is written back to the EHR as FHIR by a job (``ehr_state``).
What the patient wrote (the comment), the medicine's name and code and the
clinician's free-text reason are encrypted under the patient's key; statuses,
times, routing and ids stay in clear for queues and rules.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q

from portal.crypto.fields import EncryptedTextField
from portal.crypto.models import PHIModel
from refills.vocabulary import REFUSAL_REASONS


class Pharmacy(models.Model):
    """The pharmacy directory the administrator maintains (no PHI)."""

    name = models.CharField(max_length=200)
    address = models.CharField(max_length=300)
    phone = models.CharField(max_length=40)
    ncpdp_id = models.CharField(
        "NCPDP id", max_length=7, unique=True, help_text="The pharmacy's 7-digit NCPDP number."
    )
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "pharmacies"

    def __str__(self) -> str:
        return f"{self.name}, {self.address}"


class PreferredPharmacy(models.Model):
    """The pharmacy a patient chose last, offered first next time."""

    patient = models.OneToOneField(
        "patients.Patient", on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    pharmacy = models.ForeignKey(Pharmacy, on_delete=models.CASCADE, related_name="+")

    def __str__(self) -> str:
        return f"preferred pharmacy {self.pharmacy_id} of patient {self.patient_id}"


class MedicineRule(models.Model):
    """A clinic rule on one RxNorm code, added by the administrator to the settings' defaults."""

    class Kind(models.TextChoices):
        CONTROLLED = "controlled", "Controlled substance: never refilled online"
        NEEDS_VISIT = "needs_visit", "Needs a visit before each refill"
        HIGH_RISK = "high_risk", "High risk: approving asks for a fresh second factor"

    rxnorm = models.CharField("RxNorm code", max_length=20)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["rxnorm", "kind"], name="refills_rule_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.rxnorm}: {self.get_kind_display()}"


class Prescriber(models.Model):
    """Which portal clinician a prescription's requester is, as the EHR names them.

    ``ehr_requester`` is the requester's reference (``Practitioner/<id>``) when
    the EHR gives one, else its display text.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="prescriber"
    )
    ehr_requester = models.CharField(max_length=200, unique=True)

    def __str__(self) -> str:
        return self.ehr_requester


class Status(models.TextChoices):
    REQUESTED = "requested", "Requested"
    IN_REVIEW = "in_review", "In review"
    APPROVED = "approved", "Approved"
    DENIED = "denied", "Denied"
    NEEDS_APPOINTMENT = "needs_appointment", "Needs an appointment"


OPEN_STATUSES = (Status.REQUESTED, Status.IN_REVIEW)
DECIDED_STATUSES = (Status.APPROVED, Status.DENIED, Status.NEEDS_APPOINTMENT)


class EhrState(models.TextChoices):
    NONE = "none", "Nothing to send"
    WAITING = "waiting", "Waiting for the EHR"
    SENT = "sent", "Sent to the EHR"


class RefillRequest(PHIModel):
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="refill_requests"
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    pharmacy = models.ForeignKey(Pharmacy, on_delete=models.PROTECT, related_name="+")
    comment = EncryptedTextField(blank=True)
    # A prescriber on the patient's care team (or their delegate), else None: the pool.
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="assigned_refills",
    )
    created_at = models.DateTimeField()
    # Open while any item is; the queue lists open requests, oldest first.
    open = models.BooleanField(default=True)
    # The form's one-time token: a replayed form finds its request instead of a new one.
    submit_token = models.UUIDField()

    patient_field = "patient"

    class Meta:
        indexes = [
            models.Index(fields=["open", "created_at"], name="refill_request_queue"),
            models.Index(fields=["patient", "created_at"], name="refill_request_patient"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["patient", "submit_token"], name="refill_request_submit_once"
            ),
        ]


class RefillItem(PHIModel):
    request = models.ForeignKey(RefillRequest, on_delete=models.CASCADE, related_name="items")
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="+")
    # The EHR's id of the MedicationRequest asked for (an id, not PHI).
    medication_request_id = models.CharField(max_length=64)
    medicine = EncryptedTextField()
    rxnorm = EncryptedTextField(blank=True)
    renewal = models.BooleanField(default=False)
    # What the prescription said when asked (for the queue without decrypting the order).
    repeats_left = models.PositiveSmallIntegerField(null=True, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.REQUESTED)
    created_at = models.DateTimeField()
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    refills = models.PositiveSmallIntegerField(null=True, blank=True)
    days_supply = models.PositiveSmallIntegerField(null=True, blank=True)
    # HL7 v3 ActReason refusal code (refills/vocabulary.py) and the clinician's words.
    reason_code = models.CharField(max_length=20, blank=True)
    reason_text = EncryptedTextField(blank=True)
    ehr_state = models.CharField(max_length=10, choices=EhrState.choices, default=EhrState.NONE)
    ehr_task_id = models.CharField(max_length=64, blank=True)
    ehr_medication_request_id = models.CharField(max_length=64, blank=True)

    patient_field = "patient"

    @property
    def reason_label(self) -> str:
        return REFUSAL_REASONS.get(self.reason_code, "")

    class Meta:
        constraints = [
            # One open request per prescription: a duplicate or a race finds this.
            models.UniqueConstraint(
                fields=["patient", "medication_request_id"],
                condition=Q(status__in=["requested", "in_review"]),
                name="refill_item_one_open",
            ),
        ]
        indexes = [
            models.Index(
                fields=["patient", "medication_request_id", "created_at"], name="refill_item_med"
            ),
        ]


class RefillEvent(models.Model):
    """The request's timeline: status changes, in clear (no PHI: statuses and who)."""

    request = models.ForeignKey(RefillRequest, on_delete=models.CASCADE, related_name="events")
    item = models.ForeignKey(RefillItem, null=True, on_delete=models.CASCADE, related_name="+")
    status = models.CharField(max_length=20, choices=Status.choices)
    at = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.status} at {self.at:%Y-%m-%d %H:%M}"

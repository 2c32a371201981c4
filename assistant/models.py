"""The assistant's conversations, the care team's alerts and post-discharge check-ins.

Everything a patient wrote or was told, and the conversation's state (which may
name a medicine, a clinician or a time), is encrypted under the patient's key.
In clear: ids, times, who started it, the speaker and the understood intent of a
turn, and an alert's kind, priority and red-flag kind (what the queue sorts by).
"""

from django.conf import settings
from django.db import models

from portal.crypto.fields import EncryptedJSONField, EncryptedTextField
from portal.crypto.models import PHIModel


class AlertKind(models.TextChoices):
    RED_FLAG = "red_flag", "Red flag in the assistant"
    CHECKIN_RED_FLAG = "checkin_red_flag", "Red flag in a check-in"
    CHECKIN_UNANSWERED = "checkin_unanswered", "Check-in not answered"


class AlertPriority(models.TextChoices):
    URGENT = "urgent", "Urgent"
    ROUTINE = "routine", "Routine"


class CareAlert(PHIModel):
    """Something the patient's care team must look at now (urgent) or soon (routine)."""

    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=30, choices=AlertKind.choices)
    priority = models.CharField(max_length=10, choices=AlertPriority.choices)
    red_flag_kind = models.CharField(max_length=30, blank=True)
    # What raised it (e.g. the matched phrase): for the care team's eyes only.
    detail = EncryptedTextField(blank=True)
    # The turn or check-in that raised it (an id, no PHI).
    source_id = models.UUIDField(null=True, blank=True)
    created_at = models.DateTimeField()
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)

    patient_field = "patient"

    @property
    def red_flag_label(self) -> str:
        return self.red_flag_kind.replace("_", " ")

    class Meta:
        indexes = [
            models.Index(
                fields=["acknowledged_at", "priority", "created_at"], name="assistant_alert_queue"
            ),
        ]


class Conversation(PHIModel):
    """One conversation with the assistant, about one patient, started by one user.

    ``state`` is the state machine's whole memory (assistant/dialogue.py): its
    step and the pending action (with its own id, which a confirmation must name).
    """

    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="+")
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    state = EncryptedJSONField()
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    # Set by "start over" (and never reopened): the page shows the newest open one.
    ended_at = models.DateTimeField(null=True, blank=True)

    patient_field = "patient"

    class Meta:
        indexes = [
            models.Index(
                fields=["patient", "started_by", "ended_at", "created_at"],
                name="assistant_conv_current",
            ),
        ]


class Speaker(models.TextChoices):
    PATIENT = "patient", "Patient"
    ASSISTANT = "assistant", "Assistant"


class Turn(PHIModel):
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="turns")
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="+")
    speaker = models.CharField(max_length=10, choices=Speaker.choices)
    text = EncryptedTextField()
    intent = models.CharField(max_length=30, blank=True)
    # 1, 2, 3... within the conversation: the order they were said in.
    position = models.PositiveIntegerField()
    created_at = models.DateTimeField()

    patient_field = "patient"

    class Meta:
        ordering = ["conversation", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["conversation", "position"], name="assistant_turn_position"
            ),
        ]


# --- Post-discharge check-ins (assistant/checkins.py) -------------------------------


class CheckInStatus(models.TextChoices):
    PENDING = "pending", "Waiting for an answer"  # due once due_at has come
    ANSWERED = "answered", "Answered"
    MISSED = "missed", "Missed (closed without an answer)"
    WITHDRAWN = "withdrawn", "Withdrawn (the EHR cancelled or voided the stay)"


class CheckIn(PHIModel):
    """One check-in of a patient after one discharge (an Encounter of the EHR), on one day.

    In the clear: the EHR's Encounter id, the day (2, 7, 14…) and when it is due,
    closes, was notified, escalated and answered; the scheduler and the periodic job
    need them without keys. ``due_at`` minus ``day`` tells roughly when the patient
    left hospital, as an appointment's time tells when they see a clinician; the
    answers (a FHIR QuestionnaireResponse) are encrypted under the patient's key.
    """

    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="checkins"
    )
    encounter_id = models.CharField(max_length=64)  # the EHR's Encounter id
    day = models.PositiveSmallIntegerField()
    due_at = models.DateTimeField()
    closes_at = models.DateTimeField()
    status = models.CharField(
        max_length=10, choices=CheckInStatus.choices, default=CheckInStatus.PENDING
    )
    created_at = models.DateTimeField()
    notified_at = models.DateTimeField(null=True, blank=True)
    # When the routine "unanswered" alert was raised (once).
    escalated_at = models.DateTimeField(null=True, blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    response = EncryptedJSONField(null=True, blank=True)

    patient_field = "patient"

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["patient", "encounter_id", "day"], name="assistant_checkin_once"
            ),
        ]
        indexes = [
            models.Index(fields=["status", "due_at"], name="assistant_checkin_due"),
            models.Index(fields=["patient", "due_at"], name="assistant_checkin_patient"),
        ]

    def __str__(self) -> str:
        return f"check-in {self.pk} (day {self.day}) of patient {self.patient_id}"

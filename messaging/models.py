"""Secure messages between a patient and the clinic: threads, messages, internal notes,
attachments, read receipts and the patient's notification choice.

Everything a person wrote (subject, body, note, attachment name and bytes) is
encrypted under the patient's data key (PHIModel), so shredding the patient
shreds their messages too. What stays in the clear is what routing, counting and
escalation need: topic, pool, status, who is assigned, times, sizes and types.
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from portal.crypto.fields import EncryptedBinaryField, EncryptedTextField
from portal.crypto.models import PHIModel


class Topic(models.TextChoices):
    MEDICAL = "medical", "Medical question"
    TEST_RESULT = "test_result", "Question about a test result"
    APPOINTMENT = "appointment", "Question about an appointment"
    BILLING = "billing", "Billing question"
    OTHER = "other", "Something else"


class Pool(models.TextChoices):
    CLINICAL = "clinical", "Care team"
    FRONT_DESK = "front_desk", "Front desk"
    BILLING = "billing", "Billing"


# The topic decides who receives a new thread. "Something else" goes to the front
# desk, who triage it and pass clinical questions on to the care team.
TOPIC_POOL = {
    Topic.MEDICAL: Pool.CLINICAL,
    Topic.TEST_RESULT: Pool.CLINICAL,
    Topic.APPOINTMENT: Pool.FRONT_DESK,
    Topic.BILLING: Pool.BILLING,
    Topic.OTHER: Pool.FRONT_DESK,
}
CLINICAL_TOPICS = frozenset({Topic.MEDICAL, Topic.TEST_RESULT})


class Status(models.TextChoices):
    OPEN = "open", "Open"
    CLOSED = "closed", "Closed"


class Thread(PHIModel):
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="message_threads"
    )
    topic = models.CharField(max_length=20, choices=Topic.choices)
    pool = models.CharField(max_length=20, choices=Pool.choices)
    subject = EncryptedTextField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="assigned_threads",
    )
    created_at = models.DateTimeField()
    last_message_at = models.DateTimeField()
    # The patient wrote last and no staff member has answered since (escalation, badges).
    awaiting_staff_since = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    # Flagged by the escalation job: no staff reply within the response time (working hours).
    escalated_at = models.DateTimeField(null=True, blank=True)

    patient_field = "patient"

    class Meta:
        indexes = [
            models.Index(fields=["pool", "status", "last_message_at"], name="msg_thread_pool"),
            models.Index(fields=["patient", "last_message_at"], name="msg_thread_patient"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~Q(topic__in=["medical", "test_result"]) | Q(pool="clinical"),
                name="msg_thread_clinical_topics_stay_clinical",
            ),
        ]

    def __str__(self) -> str:
        return f"thread {self.pk}"


class Message(PHIModel):
    thread = models.ForeignKey(Thread, on_delete=models.PROTECT, related_name="messages")
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="+")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    from_patient = models.BooleanField()
    body = EncryptedTextField()
    created_at = models.DateTimeField()

    patient_field = "patient"

    class Meta:
        indexes = [models.Index(fields=["thread", "created_at"], name="msg_message_thread")]

    def __str__(self) -> str:
        return f"message {self.pk}"


class Note(PHIModel):
    """An internal note on a thread: staff only, never shown to the patient."""

    thread = models.ForeignKey(Thread, on_delete=models.PROTECT, related_name="notes")
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="+")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    body = EncryptedTextField()
    created_at = models.DateTimeField()

    patient_field = "patient"

    def __str__(self) -> str:
        return f"note {self.pk}"


class Attachment(PHIModel):
    """A file as sanitised (re-encoded image, rewritten PDF), stored encrypted in PostgreSQL.

    In the database rather than on disk: the patient's key covers it like every other
    value (shredding the key disposes of it), one backup holds messages and files
    consistently, and no file name or path ever reaches the file system.
    """

    message = models.ForeignKey(Message, on_delete=models.PROTECT, related_name="attachments")
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="+")
    name = EncryptedTextField()
    content = EncryptedBinaryField()
    content_type = models.CharField(max_length=40)  # decided by sniffing, then re-encoding
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)  # of the stored (sanitised) bytes

    patient_field = "patient"

    def __str__(self) -> str:
        return f"attachment {self.pk}"


class ReadReceipt(models.Model):
    """When a participant last read a thread: unread counts and "read by" per participant."""

    thread = models.ForeignKey(Thread, on_delete=models.PROTECT, related_name="receipts")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    read_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["thread", "user"], name="msg_receipt_one_per_user")
        ]

    def __str__(self) -> str:
        return f"receipt {self.pk}"


class Absence(models.Model):
    """A staff member's time away: their threads go to the delegate, or back to the pool."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    delegate = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["user", "ends_at"], name="msg_absence_user")]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=F("starts_at")), name="msg_absence_ends_after_start"
            ),
            models.CheckConstraint(
                condition=~Q(delegate=F("user")), name="msg_absence_not_own_delegate"
            ),
        ]

    def __str__(self) -> str:
        return f"absence {self.pk}"


class NotificationPreference(models.Model):
    """Whether the patient wants the "you have a new message" e-mail (default yes)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="message_preference"
    )
    email = models.BooleanField(default=True)

    def __str__(self) -> str:
        return f"message notifications of {self.user_id}"

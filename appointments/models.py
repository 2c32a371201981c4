"""Clinic set-up (locations, visit types, clinicians' weekly templates and exceptions)
and the appointments booked from them.

Times are stored in UTC; templates are wall-clock times in their location's zone and
become UTC instants only when slots are generated (appointments/slots.py). The reason
for a visit is about the patient: it is encrypted under the patient's key. Nothing
else here is PHI (a location, a clinician's hours, a visit type's rules).

Double booking is impossible, not unlikely: an exclusion constraint (btree_gist) keeps
the time ranges of one clinician's active appointments (with their buffer) disjoint,
and the booking service checks under a lock of the clinician's row first.
"""

import uuid
import zoneinfo
from datetime import timedelta

from django.conf import settings
from django.contrib.postgres.constraints import ExclusionConstraint
from django.contrib.postgres.fields import DateTimeRangeField, RangeBoundary, RangeOperators
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Func, Q

from portal.crypto.fields import EncryptedTextField
from portal.crypto.models import PHIModel
from portal.policy import Role


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"{value!r} is not an IANA time zone name (e.g. America/New_York).")


class Location(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=120, unique=True)
    address = models.CharField(max_length=300, blank=True)
    time_zone = models.CharField(
        max_length=64, validators=[validate_time_zone], help_text="IANA name, e.g. Europe/Berlin."
    )

    def __str__(self) -> str:
        return self.name

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)


class VisitType(models.Model):
    class Mode(models.TextChoices):
        IN_PERSON = "in_person", "In person"
        VIDEO = "video", "Video"

    class SelfBook(models.TextChoices):
        ANY = "any", "Any patient"
        ESTABLISHED = "established", "Established patients of that clinician"
        STAFF_ONLY = "staff", "Booked by the clinic only"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=120, unique=True)
    duration_minutes = models.PositiveSmallIntegerField(default=30)
    mode = models.CharField(max_length=16, choices=Mode.choices, default=Mode.IN_PERSON)
    self_book = models.CharField(max_length=16, choices=SelfBook.choices, default=SelfBook.ANY)
    min_notice_minutes = models.PositiveIntegerField(default=120)
    horizon_days = models.PositiveSmallIntegerField(default=90)
    cancel_cutoff_hours = models.PositiveSmallIntegerField(default=24)
    buffer_minutes = models.PositiveSmallIntegerField(default=0)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(duration_minutes__gt=0), name="appointments_visittype_duration_positive"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def duration(self) -> timedelta:
        return timedelta(minutes=self.duration_minutes)

    @property
    def buffer(self) -> timedelta:
        return timedelta(minutes=self.buffer_minutes)

    @property
    def step(self) -> timedelta:
        return self.duration + self.buffer


CLINICIAN_CHOICES = {"role__in": [Role.PHYSICIAN, Role.NURSE]}


class WeeklyTemplate(models.Model):
    """A clinician's recurring hours for one visit type at one location (wall-clock times)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    clinician = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="schedule_templates",
        limit_choices_to=CLINICIAN_CHOICES,
    )
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="templates")
    visit_type = models.ForeignKey(VisitType, on_delete=models.PROTECT, related_name="templates")
    weekday = models.PositiveSmallIntegerField(
        choices=[(i, d) for i, d in enumerate(["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"])]
    )
    start_time = models.TimeField()
    end_time = models.TimeField()
    valid_from = models.DateField(null=True, blank=True)
    valid_until = models.DateField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(end_time__gt=models.F("start_time")),
                name="appointments_template_ends_after_start",
            ),
        ]
        indexes = [models.Index(fields=["visit_type", "clinician"])]

    def __str__(self) -> str:
        return f"{self.clinician_id} {self.get_weekday_display()} {self.start_time}-{self.end_time}"


class ScheduleException(models.Model):
    """Holidays, leave, blocked hours: they win over templates (UTC instants)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    clinician = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="schedule_exceptions",
        limit_choices_to=CLINICIAN_CHOICES,
    )
    # Empty: every location of the clinician.
    location = models.ForeignKey(Location, null=True, blank=True, on_delete=models.PROTECT)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    # A label such as "Holiday" or "Leave", never a patient's detail.
    label = models.CharField(max_length=80, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=models.F("starts_at")),
                name="appointments_exception_ends_after_start",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.label or 'blocked'} {self.starts_at:%Y-%m-%d %H:%M}Z"


class TsTzRange(Func):
    function = "TSTZRANGE"
    output_field = DateTimeRangeField()


class Appointment(PHIModel):
    class Status(models.TextChoices):
        BOOKED = "booked", "Booked"
        ARRIVED = "arrived", "Arrived"
        NO_SHOW = "no_show", "No-show"
        CANCELLED = "cancelled", "Cancelled"
        RESCHEDULED = "rescheduled", "Moved to another time"

    # Statuses that hold the clinician's time: the exclusion constraint covers these.
    ACTIVE = (Status.BOOKED, Status.ARRIVED)

    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="appointments"
    )
    clinician = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="appointments"
    )
    location = models.ForeignKey(Location, on_delete=models.PROTECT)
    visit_type = models.ForeignKey(VisitType, on_delete=models.PROTECT)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    # ends_at plus the visit type's buffer: the range no other appointment may overlap.
    blocked_until = models.DateTimeField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.BOOKED)
    reason = EncryptedTextField(blank=True)
    cancel_reason = EncryptedTextField(blank=True)
    booked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    # The appointment this one replaced (a reschedule).
    replaces = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="replaced_by"
    )
    # Reminders already queued, by offset in hours (appointments/tasks.py): each once.
    reminders_sent = models.JSONField(default=list, blank=True)

    patient_field = "patient"

    class Meta:
        indexes = [
            models.Index(fields=["patient", "starts_at"]),
            models.Index(fields=["clinician", "starts_at"]),
        ]
        constraints = [
            ExclusionConstraint(
                name="appointments_no_double_booking",
                expressions=[
                    ("clinician", RangeOperators.EQUAL),
                    (
                        TsTzRange("starts_at", "blocked_until", RangeBoundary()),
                        RangeOperators.OVERLAPS,
                    ),
                ],
                condition=Q(status__in=["booked", "arrived"]),
            ),
            models.CheckConstraint(
                condition=Q(ends_at__gt=models.F("starts_at"))
                & Q(blocked_until__gte=models.F("ends_at")),
                name="appointments_appointment_times_ordered",
            ),
        ]

    def __str__(self) -> str:
        return f"appointment {self.pk}"

    @property
    def active(self) -> bool:
        return self.status in self.ACTIVE


class WaitlistEntry(models.Model):
    """A patient with a booked appointment asks to be offered an earlier one."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    appointment = models.OneToOneField(
        Appointment, on_delete=models.PROTECT, related_name="waitlist_entry"
    )
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    active = models.BooleanField(default=True)

    def __str__(self) -> str:
        return f"waitlist entry {self.pk}"


class WaitlistOffer(models.Model):
    """A freed slot offered to a waitlisted patient; the first to accept it wins."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        ACCEPTED = "accepted", "Accepted"
        GONE = "gone", "No longer available"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    entry = models.ForeignKey(WaitlistEntry, on_delete=models.PROTECT, related_name="offers")
    clinician = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    location = models.ForeignKey(Location, on_delete=models.PROTECT)
    visit_type = models.ForeignKey(VisitType, on_delete=models.PROTECT)
    starts_at = models.DateTimeField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["entry", "clinician", "starts_at"], name="appointments_offer_once"
            ),
        ]

    def __str__(self) -> str:
        return f"waitlist offer {self.pk}"

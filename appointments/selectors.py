"""Reads of appointments; each takes the acting user and returns only what they may see.

Every function that returns a patient's appointments takes ``actor`` and the patient's
id, resolves the patient itself through ``portal.access.access_patient_for_scheduling``
(the patient, their care team, break-glass, and the front desk; 404 alike for missing
and not yours), records exactly one audit event, and returns a typed page.
tests/appointments/test_selectors_safe_path.py finds them by their signature.

Minimum necessary: the reason for a visit is shown to the patient, to clinicians who
may see the patient's chart, and to the appointment's own clinician on their schedule;
never to the front desk, who see times, places, visit types and names.
"""

import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import QuerySet
from django.http import Http404
from django.utils import timezone

from accounts.models import User
from appointments import rules
from appointments.calendar import ics_event
from appointments.models import Appointment, Location, VisitType, WaitlistEntry, WaitlistOffer
from appointments.slots import Slot, open_slots
from audit.actions import Action, Severity
from audit.context import AuditContext
from audit.services import record
from patients.models import Patient, PatientDemographics
from patients.selectors import demographics_by_mrn
from portal.access import (
    CLINICAL_ROLES,
    PATIENT_SIDE_ROLES,
    Actor,
    Role,
    access_patient_for_scheduling,
    clinical_patients,
    via_break_glass,
)
from portal.crypto.digests import site_digest
from portal.crypto.selectors import preload_keys

# Video visits show their join link from this long before the start until the end.
JOIN_LEAD = timedelta(minutes=15)


@dataclass(frozen=True)
class AppointmentView:
    id: uuid.UUID
    patient_id: uuid.UUID
    starts_at: datetime
    ends_at: datetime
    status: str
    status_label: str
    clinician_name: str
    location: Location
    visit_type: VisitType
    # None when the actor may not see it (the front desk).
    reason: str | None
    changeable: bool
    # Booked and upcoming but past the cutoff: the patient is told to call.
    call_the_clinic: bool
    join_url: str | None
    patient_name: str = ""
    waitlisted: bool = False

    @property
    def zone(self) -> ZoneInfo:
        return self.location.zone


@dataclass(frozen=True)
class AppointmentsPage:
    patient: Patient
    upcoming: list[AppointmentView]
    past: list[AppointmentView]
    # Staff pages name the patient (positive identification); empty for the patient.
    patient_name: str = ""
    offers: list["OfferView"] = field(default_factory=list)


@dataclass(frozen=True)
class OfferView:
    id: uuid.UUID
    starts_at: datetime
    clinician_name: str
    location: Location
    visit_type: VisitType
    status: str
    # The appointment it would replace.
    current: datetime


@dataclass(frozen=True)
class SlotsPage:
    patient: Patient
    visit_type: VisitType
    slots: list[Slot]


@dataclass(frozen=True)
class SchedulePage:
    clinician: User | None
    location: Location | None
    first_day: date
    days: int
    zone: ZoneInfo
    appointments: list[AppointmentView]


@dataclass(frozen=True)
class BookingOptions:
    visit_types: list[VisitType]
    clinicians: list[User]
    locations: list[Location]


def booking_options(*, actor: Actor) -> BookingOptions:
    """What the slot search can choose from (clinic set-up, no patient data)."""
    visit_types = VisitType.objects.order_by("name")
    if actor.role in PATIENT_SIDE_ROLES:
        visit_types = visit_types.exclude(self_book=VisitType.SelfBook.STAFF_ONLY)
    clinicians = User.objects.filter(
        role__in=CLINICAL_ROLES, is_active=True, schedule_templates__isnull=False
    ).distinct()
    return BookingOptions(
        visit_types=list(visit_types),
        clinicians=sorted(clinicians, key=lambda u: u.display_name or u.username),
        locations=list(Location.objects.order_by("name")),
    )


def appointments_page(
    *, actor: Actor, patient_id: uuid.UUID, context: AuditContext | None = None
) -> AppointmentsPage:
    """The patient's upcoming appointments (soonest first) and past ones (latest first)."""
    patient = access_patient_for_scheduling(actor=actor, patient_id=patient_id)
    now = timezone.now()
    rows = list(_appointments(patient).order_by("starts_at"))
    waiting = _waitlisted(patient)
    shows = _shows_reason(actor, patient)
    views = [
        _present(a, actor=actor, now=now, reason=shows, waitlisted=a.pk in waiting) for a in rows
    ]
    _viewed(Action.RECORD_VIEW, actor, patient, context, object_id="")
    return AppointmentsPage(
        patient=patient,
        upcoming=[v for v in views if v.ends_at > now and v.status in Appointment.ACTIVE],
        past=[
            v for v in reversed(views) if not (v.ends_at > now and v.status in Appointment.ACTIVE)
        ],
        patient_name="" if rules.is_patient(actor) else _names({patient.pk}).get(patient.pk, ""),
        offers=[
            _offer(o)
            for o in _offers(patient).filter(status=WaitlistOffer.Status.OPEN, starts_at__gt=now)
        ],
    )


def appointment_page(
    *,
    actor: Actor,
    patient_id: uuid.UUID,
    appointment_id: uuid.UUID,
    context: AuditContext | None = None,
) -> AppointmentView:
    patient = access_patient_for_scheduling(actor=actor, patient_id=patient_id)
    appointment = _one(patient, appointment_id)
    view = _present(
        appointment,
        actor=actor,
        now=timezone.now(),
        reason=_shows_reason(actor, patient),
        waitlisted=appointment.pk in _waitlisted(patient),
    )
    _viewed(Action.RECORD_VIEW, actor, patient, context, object_id=appointment.pk)
    return view


def appointment_calendar(
    *,
    actor: Actor,
    patient_id: uuid.UUID,
    appointment_id: uuid.UUID,
    context: AuditContext | None = None,
) -> str:
    """The appointment as an iCalendar file: its time and place and "Appointment", nothing
    clinical (no reason, visit type or clinician), as calendars sync to other services."""
    patient = access_patient_for_scheduling(actor=actor, patient_id=patient_id)
    appointment = _one(patient, appointment_id)
    _viewed(Action.RECORD_DOWNLOAD, actor, patient, context, object_id=appointment.pk)
    return ics_event(
        uid=f"{appointment.pk}@carebridge",
        starts_at=appointment.starts_at,
        ends_at=appointment.ends_at,
        location=", ".join(filter(None, [appointment.location.name, appointment.location.address])),
        cancelled=appointment.status not in Appointment.ACTIVE,
    )


def offer_page(
    *,
    actor: Actor,
    patient_id: uuid.UUID,
    offer_id: uuid.UUID,
    context: AuditContext | None = None,
) -> OfferView:
    """One waitlist offer of the patient's (open, accepted or gone)."""
    patient = access_patient_for_scheduling(actor=actor, patient_id=patient_id)
    offer = _offers(patient).filter(pk=offer_id).first()
    if offer is None:
        raise Http404("No such offer.")
    _viewed(Action.RECORD_VIEW, actor, patient, context, object_id=offer.pk)
    return _offer(offer)


def slot_search(
    *,
    actor: Actor,
    patient_id: uuid.UUID,
    visit_type_id: uuid.UUID,
    clinician_id: uuid.UUID | None = None,
    location_id: uuid.UUID | None = None,
    ignore_appointment: uuid.UUID | None = None,
    limit: int = 30,
    context: AuditContext | None = None,
) -> SlotsPage:
    """Open slots the actor may book for the patient, soonest first."""
    patient = access_patient_for_scheduling(actor=actor, patient_id=patient_id)
    visit_type = VisitType.objects.filter(pk=visit_type_id).first()
    slots: list[Slot] = []
    if visit_type is not None:
        allowed = rules.bookable_clinicians(actor=actor, visit_type=visit_type, patient=patient)
        if rules.is_patient(actor) and visit_type.self_book == VisitType.SelfBook.STAFF_ONLY:
            allowed = set()
        if clinician_id is not None:
            allowed = {clinician_id} if allowed is None else allowed & {clinician_id}
        window = rules.booking_window(visit_type, now=timezone.now(), actor=actor)
        if allowed is None or allowed:
            slots = open_slots(
                visit_type=visit_type,
                earliest=window.earliest,
                latest=window.latest,
                clinician_ids=allowed,
                location_id=location_id,
                ignore_appointment=ignore_appointment,
                limit=limit,
            )
    _viewed(Action.APPOINTMENT_SEARCH, actor, patient, context, object_id=visit_type_id)
    return SlotsPage(patient=patient, visit_type=visit_type, slots=slots)  # type: ignore[arg-type]


def schedule_page(
    *,
    actor: Actor,
    first_day: date,
    days: int = 1,
    clinician_id: uuid.UUID | None = None,
    location_id: uuid.UUID | None = None,
    context: AuditContext | None = None,
) -> SchedulePage:
    """A day or week of appointments: clinicians see their own schedule only, the front desk
    any clinician's. Each patient it lists is recorded as a view (their "who viewed")."""
    if actor.role in CLINICAL_ROLES:
        clinician_id = actor.pk
    elif actor.role != Role.FRONT_DESK:
        raise PermissionError("no schedule for this role")
    clinician = User.objects.filter(pk=clinician_id).first() if clinician_id else None
    location = Location.objects.filter(pk=location_id).first() if location_id else None
    zone = location.zone if location else ZoneInfo(settings.PORTAL_TIME_ZONE)
    start = datetime.combine(first_day, datetime.min.time(), tzinfo=zone).astimezone(UTC)
    end = datetime.combine(
        first_day + timedelta(days=days), datetime.min.time(), tzinfo=zone
    ).astimezone(UTC)
    rows = Appointment.objects.filter(starts_at__gte=start, starts_at__lt=end).exclude(
        status=Appointment.Status.RESCHEDULED
    )
    if clinician_id is not None:
        rows = rows.filter(clinician_id=clinician_id)
    if location is not None:
        rows = rows.filter(location=location)
    rows = rows.select_related("location", "visit_type", "clinician").order_by("starts_at")
    appointments = list(rows)
    preload_keys({a.patient_id for a in appointments})
    names = _names({a.patient_id for a in appointments})
    now = timezone.now()
    views = [
        _present(
            a,
            actor=actor,
            now=now,
            reason=a.clinician_id == actor.pk,
            patient_name=names.get(a.patient_id, ""),
        )
        for a in appointments
    ]
    for patient_id in dict.fromkeys(a.patient_id for a in appointments):
        record(
            action=Action.SCHEDULE_VIEW,
            actor=actor,
            context=context,
            patient_id=patient_id,
            object_type="schedule",
            object_id=clinician_id or "",
        )
    return SchedulePage(clinician, location, first_day, days, zone, views)


def patient_by_mrn(
    *, actor: Actor, mrn: str, context: AuditContext | None = None
) -> uuid.UUID | None:
    """The front desk finds whom to book for by exact MRN (patients' directory lookup,
    audited there, a search that matched no one too)."""
    if actor.role != Role.FRONT_DESK:
        return None
    found = demographics_by_mrn(actor=actor, mrn=mrn, context=context)
    return found.patient_id if found else None


# --- Helpers: below the access check ----------------------------------------------------


def _taken(offer: WaitlistOffer) -> bool:
    """Whether someone booked the offered slot since (then it is no longer available)."""
    ends = offer.starts_at + offer.visit_type.step
    return Appointment.objects.filter(
        clinician_id=offer.clinician_id,
        status__in=Appointment.ACTIVE,
        starts_at__lt=ends,
        blocked_until__gt=offer.starts_at,
    ).exists()


def _waitlisted(patient: Patient) -> set[uuid.UUID]:
    entries = WaitlistEntry.objects.filter(patient=patient, active=True)
    return set(entries.values_list("appointment_id", flat=True))


def _offers(patient: Patient) -> QuerySet[WaitlistOffer]:
    return (
        WaitlistOffer.objects.filter(entry__patient=patient)
        .select_related("clinician", "location", "visit_type", "entry__appointment")
        .order_by("starts_at")
    )


def _offer(offer: WaitlistOffer) -> OfferView:
    status = offer.status
    if status == WaitlistOffer.Status.OPEN and _taken(offer):
        status = WaitlistOffer.Status.GONE
    return OfferView(
        id=offer.pk,
        starts_at=offer.starts_at,
        clinician_name=offer.clinician.display_name or offer.clinician.username,
        location=offer.location,
        visit_type=offer.visit_type,
        status=status,
        current=offer.entry.appointment.starts_at,
    )


def _appointments(patient: Patient) -> QuerySet[Appointment]:
    preload_keys([patient.pk])
    return Appointment.objects.filter(patient=patient).select_related(
        "location", "visit_type", "clinician"
    )


def _one(patient: Patient, appointment_id: uuid.UUID) -> Appointment:
    appointment = _appointments(patient).filter(pk=appointment_id).first()
    if appointment is None:
        raise Http404("No such appointment.")
    return appointment


def _shows_reason(actor: Actor, patient: Patient) -> bool:
    """The patient and the clinicians who may see their chart; not the front desk."""
    return clinical_patients(actor).filter(pk=patient.pk).exists()


def _present(
    appointment: Appointment,
    *,
    actor: Actor,
    now: datetime,
    reason: bool,
    patient_name: str = "",
    waitlisted: bool = False,
) -> AppointmentView:
    video = appointment.visit_type.mode == VisitType.Mode.VIDEO
    joinable = (
        video
        and appointment.status in Appointment.ACTIVE
        and appointment.starts_at - JOIN_LEAD <= now < appointment.ends_at
    )
    upcoming_booked = (
        appointment.status == Appointment.Status.BOOKED and appointment.starts_at > now
    )
    changeable = rules.may_change(appointment, actor=actor, now=now)
    return AppointmentView(
        id=appointment.pk,
        patient_id=appointment.patient_id,
        starts_at=appointment.starts_at,
        ends_at=appointment.ends_at,
        status=appointment.status,
        status_label=appointment.get_status_display(),
        clinician_name=appointment.clinician.display_name or appointment.clinician.username,
        location=appointment.location,
        visit_type=appointment.visit_type,
        reason=str(appointment.reason) if reason else None,
        changeable=changeable,
        call_the_clinic=upcoming_booked and not changeable,
        join_url=video_room_url(appointment.pk) if joinable else None,
        patient_name=patient_name,
        waitlisted=waitlisted,
    )


def video_room_url(appointment_id: uuid.UUID) -> str:
    # The room is a keyed digest of the appointment id: unguessable, and no id in the URL.
    room = site_digest(str(appointment_id), purpose="appointments.video_room").hex()[:32]
    return settings.PORTAL_VIDEO_ROOM_URL.format(room=room)


def _names(patient_ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
    found = PatientDemographics.objects.filter(patient_id__in=patient_ids)
    return {d.patient_id: f"{d.given_name} {d.family_name}" for d in found}


def _viewed(
    action: Action,
    actor: Actor,
    patient: Patient,
    context: AuditContext | None,
    *,
    object_id: object,
) -> None:
    record(
        action=action,
        actor=actor,
        context=context,
        patient_id=patient.pk,
        object_type="Appointment",
        object_id=object_id,
        severity=Severity.HIGH if via_break_glass(actor=actor, patient=patient) else Severity.INFO,
    )

"""The clinic's booking rules, in one place for the slot search and the booking service."""

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from appointments.models import Appointment, VisitType
from patients.models import CareTeam, Patient
from portal.access import CLINICAL_ROLES, PATIENT_SIDE_ROLES, Actor, Role


def is_patient(actor: Actor) -> bool:
    """The patient side (the patient, or a proxy acting for them): the patients' rules."""
    return actor.role in PATIENT_SIDE_ROLES


@dataclass(frozen=True)
class Window:
    earliest: datetime
    latest: datetime


def booking_window(visit_type: VisitType, *, now: datetime, actor: Actor) -> Window:
    """When this visit type may be booked: patients after the minimum notice and within the
    horizon; the clinic's staff from now on (they take the phone call) within the horizon."""
    notice = timedelta(minutes=visit_type.min_notice_minutes) if is_patient(actor) else timedelta()
    return Window(now + notice, now + timedelta(days=visit_type.horizon_days))


def bookable_clinicians(
    *, actor: Actor, visit_type: VisitType, patient: Patient
) -> set[uuid.UUID] | None:
    """The clinicians the actor may book this visit type with for the patient (None: any)."""
    if not is_patient(actor) or visit_type.self_book == VisitType.SelfBook.ANY:
        return None
    if visit_type.self_book == VisitType.SelfBook.ESTABLISHED:
        teams = CareTeam.objects.filter(patients=patient)
        return set(teams.values_list("members", flat=True)) - {None}
    return set()


def may_book(
    *, actor: Actor, visit_type: VisitType, patient: Patient, clinician_id: uuid.UUID
) -> bool:
    """Whether the actor may book this visit type with this clinician for the patient."""
    if not is_patient(actor) and actor.role not in {Role.FRONT_DESK, *CLINICAL_ROLES}:
        return False
    allowed = bookable_clinicians(actor=actor, visit_type=visit_type, patient=patient)
    return allowed is None or clinician_id in allowed


def within_cutoff(appointment: Appointment, *, now: datetime) -> bool:
    """Whether a patient may still cancel or move it online (else: call the clinic)."""
    cutoff = timedelta(hours=appointment.visit_type.cancel_cutoff_hours)
    return now <= appointment.starts_at - cutoff


def may_change(appointment: Appointment, *, actor: Actor, now: datetime) -> bool:
    if appointment.status != Appointment.Status.BOOKED or appointment.starts_at <= now:
        return False
    return not is_patient(actor) or within_cutoff(appointment, now=now)

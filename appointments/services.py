"""Writes about appointments: each takes the actor and the audit context (never the
request), finds the patient through the access helpers itself, and records its audit
event in the transaction of the change.

Booking holds a lock on the clinician's row while it checks the slot, so bookings of one
clinician run one at a time; the exclusion constraint on the clinician's time ranges
(appointments.models) is the backstop that makes a double booking impossible even for a
writer that skipped the lock. A refused booking writes nothing.
"""

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, transaction
from django.http import Http404
from django.utils import timezone

from accounts.models import User
from appointments import rules, waitlist
from appointments.models import (
    Appointment,
    Location,
    VisitType,
    WaitlistEntry,
    WaitlistOffer,
)
from appointments.slots import Slot, nearest_slots, open_slots
from audit.actions import Action, Severity
from audit.context import AuditContext
from audit.services import record
from patients.models import Patient
from portal.access import CLINICAL_ROLES, Actor, access_patient_for_scheduling, via_break_glass


@dataclass(frozen=True)
class SlotChoice:
    """A slot as a form sends it back: ids and the start. Any of it may be tampered with."""

    clinician_id: uuid.UUID
    location_id: uuid.UUID
    visit_type_id: uuid.UUID
    starts_at: datetime


class BookingRefused(Exception):
    """The booking (or change) is not allowed; the message says why, for the page."""

    def __init__(self, message: str, alternatives: list[Slot] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.alternatives = alternatives or []


class SlotTaken(BookingRefused):
    pass


TAKEN = "That time was just taken. These are the nearest free times:"
NOT_OFFERED = "That time is not offered for this visit. Please choose one from the list."
CALL_THE_CLINIC = "It is too close to the appointment to change it online. Please call the clinic."


def appointment_book(
    *,
    actor: Actor,
    patient_id: uuid.UUID,
    choice: SlotChoice,
    reason: str,
    context: AuditContext | None = None,
) -> Appointment:
    """Book the chosen slot for the patient; SlotTaken (with the nearest free slots) when
    someone else was faster, BookingRefused for anything else the rules refuse."""
    return _with_alternatives(
        choice,
        actor,
        lambda: _book(
            actor=actor, patient_id=patient_id, choice=choice, reason=reason, context=context
        ),
    )


def appointment_reschedule(
    *,
    actor: Actor,
    patient_id: uuid.UUID,
    appointment_id: uuid.UUID,
    choice: SlotChoice,
    context: AuditContext | None = None,
) -> Appointment:
    """Move an appointment to another slot as one swap: the old slot is freed in the same
    transaction that holds the new one, so a failure leaves the old booking as it was."""
    return _with_alternatives(
        choice,
        actor,
        lambda: _book(
            actor=actor,
            patient_id=patient_id,
            choice=choice,
            reason=None,
            context=context,
            replacing=appointment_id,
        ),
    )


def appointment_cancel(
    *,
    actor: Actor,
    patient_id: uuid.UUID,
    appointment_id: uuid.UUID,
    reason: str,
    context: AuditContext | None = None,
) -> Appointment:
    with transaction.atomic():
        patient = access_patient_for_scheduling(actor=actor, patient_id=patient_id)
        appointment = _own_appointment(patient, appointment_id, lock=True)
        _check_changeable(appointment, actor)
        appointment.status = Appointment.Status.CANCELLED
        appointment.cancel_reason = reason
        appointment.cancelled_at = timezone.now()
        appointment.save()
        _record(Action.APPOINTMENT_CANCEL, actor, patient, appointment, context)
        _freed(appointment)
    return appointment


MARKABLE = {Appointment.Status.ARRIVED, Appointment.Status.NO_SHOW}


def appointment_mark(
    *,
    actor: Actor,
    patient_id: uuid.UUID,
    appointment_id: uuid.UUID,
    status: str,
    context: AuditContext | None = None,
) -> Appointment:
    """The front desk marks a booked appointment arrived or no-show."""
    if status not in MARKABLE:
        raise BookingRefused("Mark an appointment arrived or no-show.")
    with transaction.atomic():
        patient = access_patient_for_scheduling(actor=actor, patient_id=patient_id)
        appointment = _own_appointment(patient, appointment_id, lock=True)
        if appointment.status not in Appointment.ACTIVE:
            raise BookingRefused("Only a booked appointment can be marked.")
        appointment.status = status
        appointment.save(update_fields=["status"])
        _record(Action.APPOINTMENT_STATUS, actor, patient, appointment, context)
    return appointment


def waitlist_join(
    *,
    actor: Actor,
    patient_id: uuid.UUID,
    appointment_id: uuid.UUID,
    context: AuditContext | None = None,
) -> WaitlistEntry:
    """Ask to be offered an earlier time for this booked appointment."""
    with transaction.atomic():
        patient = access_patient_for_scheduling(actor=actor, patient_id=patient_id)
        appointment = _own_appointment(patient, appointment_id, lock=True)
        _check_changeable(appointment, actor)
        entry, _ = WaitlistEntry.objects.update_or_create(
            appointment=appointment, defaults={"patient": patient, "active": True}
        )
        record(
            action=Action.WAITLIST_JOIN,
            actor=actor,
            context=context,
            patient_id=patient.pk,
            object_type="Appointment",
            object_id=appointment.pk,
        )
    return entry


class OfferGone(BookingRefused):
    pass


GONE = "This time is no longer available: another patient took it first."


def waitlist_offer_accept(
    *,
    actor: Actor,
    patient_id: uuid.UUID,
    offer_id: uuid.UUID,
    context: AuditContext | None = None,
) -> Appointment:
    """Take the offered slot: the patient's appointment moves there (one swap), or, when
    someone was first, the offer is marked gone and OfferGone says so."""
    with transaction.atomic():
        patient = access_patient_for_scheduling(actor=actor, patient_id=patient_id)
        offer = (
            WaitlistOffer.objects.select_for_update(of=("self",))
            .filter(pk=offer_id, entry__patient=patient)
            .select_related("entry")
            .first()
        )
        if offer is None:
            raise Http404("No such offer.")
        if offer.status != WaitlistOffer.Status.OPEN:
            raise OfferGone(GONE)
        choice = SlotChoice(
            offer.clinician_id, offer.location_id, offer.visit_type_id, offer.starts_at
        )
        try:
            moved = _book(
                actor=actor,
                patient_id=patient_id,
                choice=choice,
                reason=None,
                context=context,
                replacing=offer.entry.appointment_id,
            )
        except BookingRefused:
            moved = None
        if moved is None:
            offer.status = WaitlistOffer.Status.GONE
            offer.save(update_fields=["status"])
        else:
            # The other offers of this slot are not touched here: their patients hold
            # them locked while they wait for the clinician's lock (a deadlock). Each
            # reads as gone from now on (selectors) and is marked so when tried.
            offer.status = WaitlistOffer.Status.ACCEPTED
            offer.save(update_fields=["status"])
            WaitlistEntry.objects.filter(pk=offer.entry_id).update(active=False)
            record(
                action=Action.WAITLIST_ACCEPT,
                actor=actor,
                context=context,
                patient_id=patient.pk,
                object_type="WaitlistOffer",
                object_id=offer.pk,
            )
    if moved is None:
        raise OfferGone(GONE)
    return moved


# --- Below the access check -------------------------------------------------------------


def _with_alternatives(
    choice: SlotChoice, actor: Actor, book: Callable[[], Appointment]
) -> Appointment:
    try:
        return book()
    except SlotTaken as taken:
        # After the rollback, outside the lock: what the page offers instead.
        visit_type = VisitType.objects.get(pk=choice.visit_type_id)
        window = rules.booking_window(visit_type, now=timezone.now(), actor=actor)
        taken.alternatives = nearest_slots(
            visit_type=visit_type,
            clinician_id=choice.clinician_id,
            location_id=choice.location_id,
            wanted=choice.starts_at,
            earliest=window.earliest,
            latest=window.latest,
        )
        raise


def _book(
    *,
    actor: Actor,
    patient_id: uuid.UUID,
    choice: SlotChoice,
    reason: str | None,
    context: AuditContext | None,
    replacing: uuid.UUID | None = None,
) -> Appointment:
    with transaction.atomic():
        patient = access_patient_for_scheduling(actor=actor, patient_id=patient_id)
        old = None
        if replacing is not None:
            old = _own_appointment(patient, replacing, lock=True)
            _check_changeable(old, actor)
            if old.visit_type_id != choice.visit_type_id:
                raise BookingRefused(NOT_OFFERED)
        visit_type = VisitType.objects.filter(pk=choice.visit_type_id).first()
        location = Location.objects.filter(pk=choice.location_id).first()
        if visit_type is None or location is None:
            raise BookingRefused(NOT_OFFERED)
        if not rules.may_book(
            actor=actor, visit_type=visit_type, patient=patient, clinician_id=choice.clinician_id
        ):
            raise BookingRefused("This visit type cannot be booked online with this clinician.")
        now = timezone.now()
        _check_time(choice.starts_at, visit_type, now=now, actor=actor)
        # The lock: one booking per clinician at a time checks and inserts.
        clinician = (
            User.objects.select_for_update(no_key=True)
            .filter(pk=choice.clinician_id, role__in=CLINICAL_ROLES, is_active=True)
            .values_list("pk", flat=True)
            .first()
        )
        if clinician is None:
            raise BookingRefused(NOT_OFFERED)
        offered = open_slots(
            visit_type=visit_type,
            earliest=choice.starts_at,
            latest=choice.starts_at,
            clinician_ids=[choice.clinician_id],
            location_id=location.pk,
            include_booked=True,
        )
        if not offered:
            raise BookingRefused(NOT_OFFERED)
        (slot,) = offered
        if old is not None:
            # Freed in this transaction: nobody sees the old slot free unless the new holds.
            old.status = Appointment.Status.RESCHEDULED
            old.cancelled_at = now
            old.save(update_fields=["status", "cancelled_at"])
        appointment = Appointment(
            patient=patient,
            clinician_id=choice.clinician_id,
            location=location,
            visit_type=visit_type,
            starts_at=slot.starts_at,
            ends_at=slot.ends_at,
            blocked_until=slot.blocked_until,
            reason=old.reason if old is not None else (reason or ""),
            booked_by_id=actor.pk,
            replaces=old,
        )
        try:
            with transaction.atomic():  # a savepoint, so the refusal is a clean rollback
                appointment.save()
        except IntegrityError as clash:
            if "appointments_no_double_booking" in str(clash):
                raise SlotTaken(TAKEN) from None
            raise
        action = Action.APPOINTMENT_RESCHEDULE if old is not None else Action.APPOINTMENT_BOOK
        _record(action, actor, patient, appointment, context)
        if old is not None:
            _freed(old)
    return appointment


def _check_time(starts_at: datetime, visit_type: VisitType, *, now: datetime, actor: Actor) -> None:
    window = rules.booking_window(visit_type, now=now, actor=actor)
    if starts_at <= now:
        raise BookingRefused("That time has passed. Please choose a later one.")
    if starts_at < window.earliest:
        hours = visit_type.min_notice_minutes / 60
        raise BookingRefused(
            f"This visit needs at least {hours:g} hours' notice. Please choose a later time."
        )
    if starts_at > window.latest:
        raise BookingRefused(
            f"This visit can be booked up to {visit_type.horizon_days} days ahead. "
            "Please choose an earlier time."
        )


def _check_changeable(appointment: Appointment, actor: Actor) -> None:
    now = timezone.now()
    if appointment.status != Appointment.Status.BOOKED or appointment.starts_at <= now:
        raise BookingRefused("This appointment can no longer be changed.")
    if rules.is_patient(actor) and not rules.within_cutoff(appointment, now=now):
        raise BookingRefused(CALL_THE_CLINIC)


def _own_appointment(patient: Patient, appointment_id: uuid.UUID, *, lock: bool) -> Appointment:
    rows = Appointment.objects.filter(pk=appointment_id, patient=patient).select_related(
        "visit_type"
    )
    if lock:
        rows = rows.select_for_update(of=("self",))
    appointment = rows.first()
    if appointment is None:
        raise Http404("No such appointment.")
    return appointment


def _record(
    action: Action,
    actor: Actor,
    patient: Patient,
    appointment: Appointment,
    context: AuditContext | None,
) -> None:
    record(
        action=action,
        actor=actor,
        context=context,
        patient_id=patient.pk,
        object_type="Appointment",
        object_id=appointment.pk,
        severity=Severity.HIGH if via_break_glass(actor=actor, patient=patient) else Severity.INFO,
    )


def _freed(appointment: Appointment) -> None:
    """A slot came free: offer it to the waitlist, in the transaction that freed it."""
    waitlist.offer_freed_slot(appointment)

"""What the assistant looks up, always through the other apps' own selectors with the
acting user (so their access checks and audit events apply), turned into the small
plain dicts a conversation's state keeps (encrypted, assistant/models.py).

Times are kept in UTC (ISO 8601) and shown in the clinic's zone, named.
"""

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone

from accounts.models import User
from appointments import selectors as appointment_selectors
from appointments.models import VisitType
from appointments.slots import Slot
from audit.context import AuditContext
from patients.models import Patient
from portal.access import Role, proxy_grant
from refills.rules import Eligibility, Offer
from refills.selectors import medicine_eligibility

# How many slots of each visit type a search reads (soonest first), and how many it offers.
SEARCH_LIMIT = 400
OFFERED = 4
PARTS_OF_DAY = {"morning": (time(0), time(12)), "afternoon": (time(12), time(17))}
PART_MIDDLE = {"morning": time(9), "afternoon": time(14), "evening": time(18)}
AROUND = timedelta(minutes=60)


@dataclass(frozen=True)
class Who:
    """Who is acting, for whom, from which request: what every lookup and act needs."""

    actor: User
    patient: Patient
    context: AuditContext

    @property
    def is_the_patient(self) -> bool:
        """The patient themself (not a proxy): the message pages' rule."""
        return self.actor.role == Role.PATIENT and self.actor.patient_id == self.patient.pk

    @property
    def is_proxy(self) -> bool:
        return proxy_grant(actor=self.actor, patient_id=self.patient.pk) is not None


def clinic_zone() -> ZoneInfo:
    return ZoneInfo(settings.PORTAL_TIME_ZONE)


def clinic_now() -> datetime:
    """Now as naive clinic wall-clock time: what the language part resolves dates against."""
    return timezone.now().astimezone(clinic_zone()).replace(tzinfo=None)


def shown(at: datetime | str) -> str:
    """A time as the patient reads it: "Tue 1 Dec 15:00", in the clinic's zone."""
    moment = datetime.fromisoformat(at) if isinstance(at, str) else at
    local = moment.astimezone(clinic_zone())
    return f"{local:%a} {local.day} {local:%b %H:%M}"


# --- Slots ---------------------------------------------------------------------------


def clinicians(who: Who) -> dict[str, uuid.UUID]:
    """The bookable clinicians by display name (what the language part may name)."""
    options = appointment_selectors.booking_options(actor=who.actor)
    return {(u.display_name or u.username): u.pk for u in options.clinicians}


def slot_option(slot: Slot) -> dict[str, str]:
    return {
        "label": f"{shown(slot.starts_at)}, {slot.clinician_name}, {slot.visit_type.name}",
        "clinician_id": str(slot.clinician_id),
        "clinician": slot.clinician_name,
        "location_id": str(slot.location.pk),
        "visit_type_id": str(slot.visit_type.pk),
        "starts_at": slot.starts_at.isoformat(),
        "mode": slot.visit_type.get_mode_display().lower(),
    }


def find_slots(
    who: Who,
    want: Mapping[str, str],
    *,
    clinician_id: uuid.UUID | None = None,
    visit_type_id: uuid.UUID | None = None,
    ignore_appointment: uuid.UUID | None = None,
) -> tuple[list[dict[str, str]], bool]:
    """Open slots for what the patient asked (date, time and its relation, part of day),
    through the appointments' slot search (its rules, its audit event). Returns the
    offered slots and whether they match what was asked (else: the nearest free ones)."""
    options = appointment_selectors.booking_options(actor=who.actor)
    kinds = [v for v in options.visit_types if visit_type_id in (None, v.pk)]
    kinds.sort(key=lambda v: (v.mode != VisitType.Mode.IN_PERSON, v.name))
    found: list[Slot] = []
    for kind in kinds:
        page = appointment_selectors.slot_search(
            actor=who.actor,
            patient_id=who.patient.pk,
            visit_type_id=kind.pk,
            clinician_id=clinician_id,
            ignore_appointment=ignore_appointment,
            limit=SEARCH_LIMIT,
            context=who.context,
        )
        found.extend(page.slots)
    if not found:
        return [], False
    # In person before video at the same time: the first kind wins a tie.
    rank = {kind.pk: n for n, kind in enumerate(kinds)}
    matching = [s for s in found if _matches(s, want)]
    target = _target(want)
    if matching:
        best = sorted(
            matching,
            key=lambda s: (
                abs(s.starts_at - target) if target else s.starts_at - found[0].starts_at,
                rank[s.visit_type.pk],
            ),
        )
        chosen, exact = best[:OFFERED], True
    else:
        if target is None:
            return [], False
        chosen = sorted(found, key=lambda s: (abs(s.starts_at - target), rank[s.visit_type.pk]))
        chosen, exact = chosen[:OFFERED], False
    return [slot_option(s) for s in sorted(chosen, key=lambda s: s.starts_at)], exact


def _matches(slot: Slot, want: Mapping[str, str]) -> bool:
    local = slot.starts_at.astimezone(clinic_zone())
    if "date" in want and local.date() != date.fromisoformat(want["date"]):
        return False
    part = want.get("part_of_day")
    if part == "evening" and local.time() < time(17):
        return False
    if part in PARTS_OF_DAY:
        start, end = PARTS_OF_DAY[part]
        if not start <= local.time() < end:
            return False
    if "time" in want:
        wanted = datetime.combine(local.date(), time.fromisoformat(want["time"]))
        here = local.replace(tzinfo=None)
        relation = want.get("time_relation", "at")
        if relation == "after":
            return here >= wanted
        if relation == "before":
            return here < wanted
        if relation == "around":
            return abs(here - wanted) <= AROUND
        return here == wanted
    return True


def _target(want: Mapping[str, str]) -> datetime | None:
    """The moment asked for, to rank the nearest free slots (None when no day was named)."""
    if "date" not in want:
        return None
    day = date.fromisoformat(want["date"])
    if "time" in want:
        at = time.fromisoformat(want["time"])
    else:
        at = PART_MIDDLE.get(want.get("part_of_day", ""), time(12))
    return datetime.combine(day, at, tzinfo=clinic_zone())


# --- Appointments ------------------------------------------------------------------


def changeable_appointments(who: Who) -> list[dict[str, str]]:
    """The patient's upcoming appointments they may still cancel or move online."""
    page = appointment_selectors.appointments_page(
        actor=who.actor, patient_id=who.patient.pk, context=who.context
    )
    return [
        {
            "label": f"{shown(a.starts_at)}, {a.clinician_name}, {a.visit_type.name}",
            "id": str(a.id),
            "clinician": a.clinician_name,
            "starts_at": a.starts_at.isoformat(),
            "visit_type_id": str(a.visit_type.pk),
            "clinician_id": "",
        }
        for a in page.upcoming
        if a.changeable
    ]


def upcoming_lines(who: Who) -> list[str]:
    page = appointment_selectors.appointments_page(
        actor=who.actor, patient_id=who.patient.pk, context=who.context
    )
    return [
        f"{shown(a.starts_at)}: {a.visit_type.name} with {a.clinician_name}, {a.location.name}"
        for a in page.upcoming
    ]


# --- Medicines -----------------------------------------------------------------------


def medicines(who: Who) -> list[Eligibility]:
    """The patient's active prescriptions as their refill pages show them (a proxy sees
    what the proxy view of the record shows). The caller has resolved the patient."""
    return medicine_eligibility(patient=who.patient, proxy=who.is_proxy)


def medicine_option(medicine: Eligibility) -> dict[str, str]:
    return {
        "label": medicine.medicine,
        "id": medicine.medication_request_id,
        "medicine": medicine.medicine,
        "kind": "renewal" if medicine.offer == Offer.RENEWAL else "refill",
    }

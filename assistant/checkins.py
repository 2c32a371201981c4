"""Post-discharge check-ins: scheduled from synced Encounters, answered by the patient.

- **Scheduling** (``checkins_schedule``, the receiver of records'
  ``encounters_synced`` signal): a finished inpatient or emergency Encounter (R4
  ``class`` code IMP, ACUTE, NONAC, EMER or OBSENC, ``status`` finished,
  ``period.end`` set) gets one check-in per day of ASSISTANT_CHECKIN_DAYS, due
  from the start of that day in the clinic's zone and open for
  ASSISTANT_CHECKIN_OPEN_HOURS. A unique constraint on (patient, Encounter id,
  day) makes re-syncs add nothing; a discharge older than the last day gets none,
  and a check-in whose window has already closed is not made. A stay the EHR later
  marks entered-in-error or cancelled withdraws its waiting check-ins (kept).
- **Answering** (``checkin_page``, ``checkin_answer``): the patient's own check-ins
  only (404 alike for missing and not yours); the answer is stored as a FHIR
  QuestionnaireResponse under the patient's key. A yes to a symptom question (or a
  red flag in the free text, by ``assistant.nlu.red_flag``) raises an urgent
  care-team alert in the same transaction; the page shows the emergency
  instructions.
- **The sweep** (notices, the unanswered alert, closing) is the periodic job in
  assistant/checkin_tasks.py.

Audit rows carry ids only: the check-in's id, never answers or the Encounter.
"""

import uuid
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.http import Http404
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from assistant import questionnaire
from assistant.alerts import alert_raise
from assistant.models import AlertKind, AlertPriority, CheckIn, CheckInStatus
from audit.actions import Action
from audit.context import AuditContext
from audit.services import record
from patients.models import Patient
from portal.access import Actor, Role, access_patient
from records.selectors import encounter_resources

# R4 Encounter.class codes (v3 ActCode) of a stay someone is discharged from.
DISCHARGE_CLASSES = frozenset({"IMP", "ACUTE", "NONAC", "EMER", "OBSENC"})
# A stay the EHR says never happened (or was recorded in error): no check-ins for it.
VOIDED = frozenset({"entered-in-error", "cancelled"})


def _zone() -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(settings.PORTAL_TIME_ZONE)


# --- Scheduling ----------------------------------------------------------------------


def discharge_of(encounter: dict[str, Any]) -> datetime | None:
    """When the patient left, for a finished inpatient or emergency Encounter; else None.

    A date without a time counts from the start of that day, and a time without a
    zone as the clinic's.
    """
    klass = encounter.get("class")
    if encounter.get("status") != "finished" or not isinstance(klass, dict):
        return None
    if klass.get("code") not in DISCHARGE_CLASSES:
        return None
    end = (encounter.get("period") or {}).get("end")
    if not isinstance(end, str) or not end:
        return None
    try:
        when = parse_datetime(end)
        if when is None and (day := parse_date(end)) is not None:
            when = datetime.combine(day, time.min)
    except ValueError:
        return None
    if when is None:
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=_zone())


def due_dates(discharged: datetime) -> list[tuple[int, datetime]]:
    """(day, due_at) of each check-in: the start of that day in the clinic's zone."""
    left_on = discharged.astimezone(_zone()).date()
    return [
        (day, _start_of(left_on + timedelta(days=day))) for day in settings.ASSISTANT_CHECKIN_DAYS
    ]


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=_zone())


def checkins_schedule(
    *, patient_id: uuid.UUID, encounter_ids: Iterable[str], now: datetime | None = None
) -> list[CheckIn]:
    """Make the check-ins these synced Encounters call for (a system write: no actor).

    Returns the check-ins made now; one already made for the same Encounter and day
    is left as it is (a later change of the discharge time moves nothing).
    """
    patient = Patient.objects.filter(pk=patient_id).first()
    if patient is None:
        return []
    now = now or timezone.now()
    open_for = timedelta(hours=settings.ASSISTANT_CHECKIN_OPEN_HOURS)
    last_day = max(settings.ASSISTANT_CHECKIN_DAYS)
    made: list[CheckIn] = []
    for encounter in encounter_resources(patient=patient, fhir_ids=encounter_ids):
        if encounter.get("status") in VOIDED:
            _withdraw(patient, str(encounter["id"]))
            continue
        discharged = discharge_of(encounter)
        if discharged is None or discharged > now:
            continue
        today = now.astimezone(_zone()).date()
        if (today - discharged.astimezone(_zone()).date()).days > last_day:
            continue
        for day, due_at in due_dates(discharged):
            if due_at + open_for <= now:
                continue  # its window has passed already: the patient is not asked late
            checkin = _create_once(
                patient, str(encounter["id"]), day, due_at, due_at + open_for, now
            )
            if checkin is not None:
                made.append(checkin)
    return made


def _create_once(
    patient: Patient,
    encounter_id: str,
    day: int,
    due_at: datetime,
    closes_at: datetime,
    now: datetime,
) -> CheckIn | None:
    checkin = CheckIn(
        patient=patient,
        encounter_id=encounter_id,
        day=day,
        due_at=due_at,
        closes_at=closes_at,
        created_at=now,
    )
    try:
        with transaction.atomic():
            checkin.save(force_insert=True)
            record(
                action=Action.CHECKIN_SCHEDULED,
                patient_id=patient.pk,
                object_type="CheckIn",
                object_id=checkin.pk,
            )
    except IntegrityError:
        return None  # made by an earlier sync (the unique constraint)
    return checkin


def _withdraw(patient: Patient, encounter_id: str) -> None:
    """The EHR voided the stay: its check-ins still waiting are withdrawn (kept, not asked)."""
    with transaction.atomic():
        waiting = list(
            CheckIn.objects.select_for_update()
            .filter(patient=patient, encounter_id=encounter_id, status=CheckInStatus.PENDING)
            .defer("response")
        )
        for checkin in waiting:
            checkin.status = CheckInStatus.WITHDRAWN
            checkin.save(update_fields=["status"])
            record(
                action=Action.CHECKIN_WITHDRAWN,
                patient_id=patient.pk,
                object_type="CheckIn",
                object_id=checkin.pk,
            )


def encounters_synced(
    sender: Any, *, patient_id: uuid.UUID, encounter_ids: list[str], **kwargs: Any
) -> None:
    """Receiver of records.signals.encounters_synced (connected in AssistantConfig.ready)."""
    checkins_schedule(patient_id=patient_id, encounter_ids=encounter_ids)


# --- The patient's check-ins -----------------------------------------------------------


def due_checkins(*, actor: Actor, patient_id: uuid.UUID | None) -> list[CheckIn]:
    """The open check-ins of the actor's own record, oldest first, for the "waiting" notice.

    Only a patient's own (a proxy, or a patient looking at someone else's record, gets
    none). Nothing is recorded: like the unread-message count, it says that something
    waits, not what; opening one records ``assistant.checkin_viewed``.
    """
    if actor.role != Role.PATIENT or patient_id is None or patient_id != actor.patient_id:
        return []
    now = timezone.now()
    return list(
        CheckIn.objects.filter(
            patient_id=patient_id,
            status=CheckInStatus.PENDING,
            due_at__lte=now,
            closes_at__gt=now,
        )
        .defer("response")
        .order_by("due_at")
    )


def _own_checkin(actor: Actor, checkin_id: uuid.UUID, *, lock: bool = False) -> CheckIn:
    """The check-in, if it is the actor's own; 404 alike for missing and not yours."""
    if actor.role != Role.PATIENT or actor.patient_id is None:
        raise Http404("No such check-in.")
    patient = access_patient(actor=actor, patient_id=actor.patient_id)
    rows = CheckIn.objects.filter(pk=checkin_id, patient=patient)
    checkin = (rows.select_for_update() if lock else rows).first()
    if checkin is None:
        raise Http404("No such check-in.")
    return checkin


@dataclass(frozen=True)
class CheckInPage:
    checkin: CheckIn
    state: str  # "open", "not_yet", "answered", "missed" or "withdrawn"
    red_flags: list[str]  # the symptom questions answered yes (answered check-ins)
    followup_booked: bool | None  # the answer, once answered
    written_flag: bool = False  # a red flag in the free text

    @property
    def red_flag_labels(self) -> list[str]:
        return [questionnaire.red_flag_label(kind) for kind in self.red_flags]

    @property
    def emergency(self) -> bool:
        return bool(self.red_flags) or self.written_flag


def checkin_page(
    *, actor: Actor, checkin_id: uuid.UUID, context: AuditContext | None = None
) -> CheckInPage:
    checkin = _own_checkin(actor, checkin_id)
    record(
        action=Action.CHECKIN_VIEWED,
        actor=actor,
        context=context,
        patient_id=checkin.patient_id,
        object_type="CheckIn",
        object_id=checkin.pk,
    )
    return _page(checkin, timezone.now())


def _page(checkin: CheckIn, now: datetime) -> CheckInPage:
    if checkin.status == CheckInStatus.ANSWERED:
        response = checkin.response or {}
        booked = questionnaire.answers_of(response).get(questionnaire.FOLLOWUP_BOOKED)
        written = questionnaire.written_red_flag_of(response) is not None
        return CheckInPage(
            checkin, "answered", questionnaire.red_flags_of(response), booked, written
        )
    if checkin.status == CheckInStatus.WITHDRAWN:
        return CheckInPage(checkin, "withdrawn", [], None)
    if checkin.status == CheckInStatus.MISSED or now >= checkin.closes_at:
        return CheckInPage(checkin, "missed", [], None)
    if now < checkin.due_at:
        return CheckInPage(checkin, "not_yet", [], None)
    return CheckInPage(checkin, "open", [], None)


def checkin_answer(
    *,
    actor: Actor,
    checkin_id: uuid.UUID,
    answers: dict[str, str],
    context: AuditContext | None = None,
) -> CheckInPage:
    """Store the patient's answers; a red flag raises an urgent care-team alert.

    ``answers``: the cleaned CheckInForm (linkId → "yes"/"no", a code, or text);
    only with a red flag may some be missing (the patient is sent to emergency care
    rather than back to the form; the response's status is then "stopped").
    Answering twice (a resubmitted form) changes nothing and returns the first
    answer's page. ValidationError when the check-in is not open.
    """
    with transaction.atomic():
        checkin = _own_checkin(actor, checkin_id, lock=True)
        now = timezone.now()
        page = _page(checkin, now)
        if page.state == "answered":
            return page
        if page.state != "open":
            raise ValidationError(
                "This check-in is not open yet."
                if page.state == "not_yet"
                else "This check-in is closed. If you need help, call your clinic."
            )
        response = questionnaire.response_from(
            answers, authored=now, subject_fhir_id=checkin.patient.fhir_id or ""
        )
        flags = questionnaire.red_flags_of(response)
        written = questionnaire.written_red_flag_of(response)
        if response["status"] != "completed" and not (flags or written):
            raise ValidationError("Please answer every question.")
        checkin.response = response
        checkin.status = CheckInStatus.ANSWERED
        checkin.answered_at = now
        checkin.answered_by = actor  # type: ignore[assignment]
        checkin.save(update_fields=["response", "status", "answered_at", "answered_by"])
        record(
            action=Action.CHECKIN_ANSWERED,
            actor=actor,
            context=context,
            patient_id=checkin.patient_id,
            object_type="CheckIn",
            object_id=checkin.pk,
        )
        if flags or written:
            # For the care team's alert page only (encrypted there): which answers, and
            # the words that raised a flag in the free text.
            detail = [questionnaire.red_flag_label(kind) for kind in flags]
            if written is not None:
                detail.append(f'wrote "{written.phrase}"')
            alert_raise(
                patient_id=checkin.patient_id,
                kind=AlertKind.CHECKIN_RED_FLAG,
                priority=AlertPriority.URGENT,
                red_flag_kind=flags[0] if flags else written.kind if written else "",
                detail="; ".join(detail),
                source_id=checkin.pk,
                actor=actor,
                context=context,
            )
    return _page(checkin, now)

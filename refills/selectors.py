"""Reads of refill requests; each takes the acting user and returns only what they may see.

``refills_page`` takes the patient's id and resolves the patient through
``portal.access.access_patient`` (404 alike for missing and not yours);
``refill_page`` takes the request's id and goes through ``refills.scope``;
``queue_page`` lists the clinician's care teams' open requests. Each records
exactly one audit event. tests/refills/test_selectors_safe_path.py proves them.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db.models import Max
from django.http import Http404
from django.utils import timezone

from audit.actions import Action, Severity
from audit.context import AuditContext
from audit.services import record
from messaging.escalation import working_day_hours, working_hours_between
from patients.models import CareTeam, Patient, PatientDemographics
from portal.access import (
    CLINICAL_ROLES,
    PATIENT_SIDE_ROLES,
    Actor,
    access_patient,
    clinic_today,
    proxy_grant,
    via_break_glass,
)
from portal.crypto.selectors import preload_keys
from records.selectors import medication_request_resources
from refills.models import (
    OPEN_STATUSES,
    Pharmacy,
    PreferredPharmacy,
    RefillEvent,
    RefillItem,
    RefillRequest,
)
from refills.rules import ClinicRules, Eligibility, Offer, eligibility
from refills.scope import may_request_for, request_for
from refills.vocabulary import REFUSAL_REASONS


@dataclass(frozen=True)
class RequestSummary:
    request: RefillRequest
    items: list[RefillItem]

    @property
    def open(self) -> bool:
        return self.request.open


@dataclass(frozen=True)
class RefillsPage:
    patient: Patient
    medicines: list[Eligibility]  # the active prescriptions, each with what may be asked
    requests: list[RequestSummary]
    pharmacies: list[Pharmacy]
    preferred_pharmacy_id: int | None
    may_request: bool

    @property
    def requestable(self) -> list[Eligibility]:
        return [m for m in self.medicines if m.offer != Offer.NONE]


@dataclass(frozen=True)
class RefillPage:
    request: RefillRequest
    items: list[RefillItem]
    events: list[RefillEvent]
    history: list[RequestSummary]  # staff only: the patient's other requests
    demographics: PatientDemographics | None  # staff only: whose request it is
    break_glass: bool
    high_risk: set[str]  # item ids whose approval asks for a fresh second factor


@dataclass(frozen=True)
class QueueRow:
    item: RefillItem
    demographics: PatientDemographics | None
    overdue: bool


@dataclass(frozen=True)
class QueuePage:
    rows: list[QueueRow]


def refills_page(
    *, actor: Actor, patient_id: uuid.UUID, context: AuditContext | None = None
) -> RefillsPage:
    """The patient's prescriptions with what may be asked for each, and their requests."""
    patient = access_patient(actor=actor, patient_id=patient_id)
    proxy = proxy_grant(actor=actor, patient_id=patient.pk) is not None
    medicines = medicine_eligibility(patient=patient, proxy=proxy)
    requests = _summaries(patient, hidden=_hidden_from(actor, patient))
    preferred = (
        PreferredPharmacy.objects.filter(patient=patient)
        .values_list("pharmacy_id", flat=True)
        .first()
    )
    record(
        action=Action.REFILL_LIST,
        actor=actor,
        context=context,
        patient_id=patient.pk,
        object_type="RefillRequest,MedicationRequest",
        severity=_severity(actor, patient),
    )
    return RefillsPage(
        patient=patient,
        medicines=medicines,
        requests=requests,
        pharmacies=list(Pharmacy.objects.filter(active=True)),
        preferred_pharmacy_id=preferred,
        may_request=may_request_for(actor, patient.pk),
    )


def refill_page(
    *, actor: Actor, request_id: uuid.UUID, context: AuditContext | None = None
) -> RefillPage:
    request = request_for(actor=actor, request_id=request_id)
    patient = request.patient
    preload_keys([patient.pk])
    hidden = _hidden_from(actor, patient)
    items = [
        i
        for i in request.items.order_by("created_at", "id").select_related("decided_by")
        if i.medication_request_id not in hidden
    ]
    if not items:  # every medicine of it is confidential, and the reader a proxy
        raise Http404("No such request.")
    staff = actor.role in CLINICAL_ROLES
    rules = ClinicRules.load()
    record(
        action=Action.REFILL_VIEW,
        actor=actor,
        context=context,
        patient_id=patient.pk,
        object_type="RefillRequest",
        object_id=request.pk,
        severity=_severity(actor, patient),
    )
    return RefillPage(
        request=request,
        items=items,
        events=[
            e
            for e in request.events.select_related("actor")
            if e.item_id is None or e.item_id in {i.pk for i in items}
        ],
        history=[s for s in _summaries(patient) if s.request.pk != request.pk] if staff else [],
        demographics=PatientDemographics.objects.filter(patient=patient).first() if staff else None,
        break_glass=via_break_glass(actor=actor, patient=patient),
        high_risk={str(i.pk) for i in items if i.rxnorm in rules.high_risk},
    )


def queue_page(*, actor: Actor, context: AuditContext | None = None) -> QueuePage:
    """Open requests of the actor's care teams' patients, oldest first (200 rows).

    Emergency-access patients are opened by id, not listed (as in messaging's pool).
    """
    if actor.role not in CLINICAL_ROLES:
        return QueuePage(rows=[])
    patients = CareTeam.objects.filter(members=actor.pk).values("patients")
    items = list(
        RefillItem.objects.filter(status__in=OPEN_STATUSES, patient__in=patients)
        .select_related("request", "request__assigned_to")
        .order_by("created_at", "id")[:200]
    )
    patient_ids = {i.patient_id for i in items}
    preload_keys(list(patient_ids))
    names = {
        d.patient_id: d for d in PatientDemographics.objects.filter(patient_id__in=patient_ids)
    }
    now = timezone.now()
    rows = [QueueRow(i, names.get(i.patient_id), _overdue(i.created_at, now)) for i in items]
    record(
        action=Action.REFILL_QUEUE,
        actor=actor,
        context=context,
        object_type="refill_queue",
        object_id=len(rows),
    )
    return QueuePage(rows=rows)


def medicine_eligibility(*, patient: Patient, proxy: bool = False) -> list[Eligibility]:
    """Each active prescription of the patient with what may be asked (no check, no event:
    callers have resolved the patient and record their own event)."""
    resources = medication_request_resources(patient=patient, proxy=proxy)
    items = RefillItem.objects.filter(patient=patient)
    open_ids = set(
        items.filter(status__in=OPEN_STATUSES).values_list("medication_request_id", flat=True)
    )
    last_asked = dict(
        items.values_list("medication_request_id").annotate(last=Max("created_at")).order_by()
    )
    rules, today = ClinicRules.load(), clinic_today()
    found = [
        eligibility(r, today=today, rules=rules, open_ids=open_ids, last_asked=last_asked)
        for r in resources
        if r.get("status") == "active"
    ]
    return sorted(found, key=lambda e: e.medicine.lower())


def medicine_notes(sender: object, *, patient: Patient, proxy: bool, **kwargs: object) -> dict:
    """records.signals.medications_shown: the medicines page's "refill online" column."""
    return {e.medication_request_id: e for e in medicine_eligibility(patient=patient, proxy=proxy)}


def reason_label(code: str) -> str:
    return REFUSAL_REASONS.get(code, "")


def _hidden_from(actor: Actor, patient: Patient) -> set[str]:
    """The prescriptions a proxy may not see (labelled confidential by the EHR: records/labels.py):
    requests for them are left out of a proxy's pages as the prescriptions are."""
    if proxy_grant(actor=actor, patient_id=patient.pk) is None:
        return set()
    every = {r.get("id") for r in medication_request_resources(patient=patient)}
    shown = {r.get("id") for r in medication_request_resources(patient=patient, proxy=True)}
    return {str(i) for i in every - shown}


def _summaries(
    patient: Patient, hidden: set[str] | frozenset[str] = frozenset()
) -> list[RequestSummary]:
    preload_keys([patient.pk])
    requests = list(
        RefillRequest.objects.filter(patient=patient)
        .select_related("pharmacy")
        .prefetch_related("items")
        .order_by("-created_at")[:50]
    )
    summaries = [
        RequestSummary(r, [i for i in r.items.all() if i.medication_request_id not in hidden])
        for r in requests
    ]
    return [s for s in summaries if s.items]


def _overdue(since: datetime, now: datetime) -> bool:
    """Open for more than REFILLS_OVERDUE_BUSINESS_DAYS of the clinic's working days."""
    limit = settings.REFILLS_OVERDUE_BUSINESS_DAYS * working_day_hours()
    return working_hours_between(since, now) >= limit


def _severity(actor: Actor, patient: Patient) -> Severity:
    if actor.role in PATIENT_SIDE_ROLES:
        return Severity.INFO
    return Severity.HIGH if via_break_glass(actor=actor, patient=patient) else Severity.INFO

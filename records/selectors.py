"""Reads of patient data; each takes the acting user and returns only what they may see.

Every function that returns a patient's data takes ``actor`` and the patient's
id, resolves the patient through ``portal.access.access_patient`` itself (404
alike for missing and not yours; an emergency grant counts, and makes the
event high severity), records the view or download event itself, and returns
what the page shows. Callers pass the request's ``AuditContext`` for the row.
tests/records/test_selectors_safe_path.py finds these functions by their
signature and proves each one.
"""

import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from itertools import chain

from django.db.models import Count
from django.http import Http404

from appointments.fhir import appointment_resources
from audit.actions import Action, Severity
from audit.context import AuditContext
from audit.services import record
from messaging.fhir import communication_resources
from patients.models import BreakGlassGrant, CareTeam, Patient, PatientDemographics, ProxyGrant

# The staff directory lookup lives in the core (appointments uses it too); re-exported
# for the directory page.
from patients.selectors import DEMOGRAPHICS_ROLES as DEMOGRAPHICS_ROLES
from patients.selectors import demographics_by_mrn as demographics_by_mrn
from portal.access import (
    PATIENT_SIDE_ROLES,
    access_patient,
    clinical_patients,
    proxy_grant,
    via_break_glass,
)
from portal.crypto.selectors import preload_keys
from records.charts import trend_chart
from records.labels import is_confidential
from records.models import FhirRecord, ResourceType, SyncState
from records.presenters import (
    TREND_KEY_LENGTH,
    Item,
    LabResult,
    LabTest,
    Visit,
    active_first,
    entered_in_error,
    is_active,
    lab_result,
    lab_tests,
    latest_first,
    open_rows,
    unattached_notes,
    visits,
)
from records.signals import medications_shown
from records.types import SHORT_NAMES

OBSERVATION = ResourceType.OBSERVATION
DIAGNOSTIC_REPORT = ResourceType.DIAGNOSTIC_REPORT
ENCOUNTER = ResourceType.ENCOUNTER
CONDITION = ResourceType.CONDITION
MEDICATION_REQUEST = ResourceType.MEDICATION_REQUEST
MEDICATION_STATEMENT = ResourceType.MEDICATION_STATEMENT
ALLERGY = ResourceType.ALLERGY_INTOLERANCE
IMMUNIZATION = ResourceType.IMMUNIZATION
DOCUMENT = ResourceType.DOCUMENT_REFERENCE
MEDICATIONS = [MEDICATION_REQUEST, MEDICATION_STATEMENT]
SUMMARY_TYPES = [OBSERVATION, CONDITION, *MEDICATIONS, ALLERGY, ENCOUNTER]
ALL_TYPES = [
    OBSERVATION,
    DIAGNOSTIC_REPORT,
    ENCOUNTER,
    CONDITION,
    *MEDICATIONS,
    ALLERGY,
    IMMUNIZATION,
    DOCUMENT,
]


def patient_list(*, actor) -> list[Patient]:
    """The patients on the actor's care teams (emergency grants are opened by id, not listed)."""
    return list(
        clinical_patients(actor).filter(care_teams__members=actor).distinct().order_by("created_at")
    )


# --- The patient's records from the EHR ----------------------------------------------
# One function per page, for both audiences: the patient (their own id) and the
# clinicians who may see them. Each resolves the patient itself, builds what the
# page shows, and records the page's one view event, so no caller can get the rows
# without the access check and the audit row. Rows of a type are loaded whole and
# sorted after decrypting (the clinical date is encrypted; see
# records.models.FhirRecord).


@dataclass(frozen=True)
class Subject:
    """Whose record a page shows, and how the actor reaches it."""

    patient: Patient
    own: bool  # the patient-side pages (the patient's own, or a proxy's)
    break_glass: bool
    # Clinicians' and proxies' pages name the patient on every page.
    demographics: PatientDemographics | None = None
    # The actor acts for this patient (records/labels.py: confidential rows stay out).
    proxy: ProxyGrant | None = None


@dataclass(frozen=True)
class RecordPage:
    """What every record page shows besides its rows."""

    subject: Subject
    last_synced: datetime | None


@dataclass(frozen=True)
class SummaryPage(RecordPage):
    counts: dict[str, int]
    latest_labs: list[LabResult]
    unreadable_labs: list[LabResult]
    problems: list[Item]
    medications: list[Item]
    allergies: list[Item]
    last_visit: Item | None


@dataclass(frozen=True)
class LabsPage(RecordPage):
    results: list[LabResult]
    tests: list[LabTest]
    test_key: str
    reports: list[Item]


@dataclass(frozen=True)
class TrendPage(RecordPage):
    test: LabResult
    results: list[LabResult]
    chart: object


@dataclass(frozen=True)
class VisitsPage(RecordPage):
    visits: list[Visit]
    other_notes: list[Item]


@dataclass(frozen=True)
class MedicationsPage(RecordPage):
    medications: list[Item]
    # What other features say about each prescription, by FHIR id (records/signals.py:
    # refills answers "can be refilled online, or why not" on the patient's own page).
    notes: dict[str, object]


@dataclass(frozen=True)
class AllergiesPage(RecordPage):
    allergies: list[Item]


@dataclass(frozen=True)
class ImmunizationsPage(RecordPage):
    immunizations: list[Item]


@dataclass(frozen=True)
class ProblemsPage(RecordPage):
    problems: list[Item]


@dataclass(frozen=True)
class ChartPage:
    patient: Patient
    demographics: PatientDemographics | None
    care_teams: list[CareTeam]
    break_glass: bool
    grant: BreakGlassGrant | None


def chart_page(*, actor, patient_id: uuid.UUID, context: AuditContext | None = None) -> ChartPage:
    """A clinician's chart of one patient (the staff shell around the record pages)."""
    patient = access_patient(actor=actor, patient_id=patient_id)
    page = ChartPage(
        patient=patient,
        demographics=_demographics_of(patient),
        care_teams=list(CareTeam.objects.filter(patients=patient).order_by("name")),
        break_glass=via_break_glass(actor=actor, patient=patient),
        grant=patient.break_glass_grants.filter(clinician=actor).order_by("-expires_at").first(),
    )
    record(
        action=Action.RECORD_VIEW,
        actor=actor,
        context=context,
        patient_id=patient.pk,
        object_type="chart",
        severity=Severity.HIGH if page.break_glass else Severity.INFO,
    )
    return page


SUMMARY_LATEST_TESTS = 6


def summary_page(
    *, actor, patient_id: uuid.UUID, context: AuditContext | None = None
) -> SummaryPage:
    subject = _subject(actor=actor, patient_id=patient_id)
    items = _items(subject, SUMMARY_TYPES)
    results = [lab_result(i) for i in latest_first(items[OBSERVATION])]
    meds = active_first(items[MEDICATION_REQUEST] + items[MEDICATION_STATEMENT])
    encounters = latest_first(items[ENCOUNTER])
    return SummaryPage(
        counts=_counts(subject),
        latest_labs=[t.latest for t in lab_tests(results)][:SUMMARY_LATEST_TESTS],
        unreadable_labs=[r for r in results if r.unreadable is not None],
        problems=[
            c
            for c in active_first(items[CONDITION], "clinical_status")
            if is_active(c, "clinical_status")
        ],
        medications=[m for m in meds if is_active(m)],
        allergies=[
            a
            for a in active_first(items[ALLERGY], "clinical_status")
            if is_active(a, "clinical_status")
        ],
        last_visit=encounters[0] if encounters else None,
        **_viewed(actor, subject, SUMMARY_TYPES, context),
    )


def labs_page(
    *, actor, patient_id: uuid.UUID, test_key: str = "", context: AuditContext | None = None
) -> LabsPage:
    """Lab results, latest first; only one test's when ``test_key`` names one of them."""
    subject = _subject(actor=actor, patient_id=patient_id)
    items = _items(subject, [OBSERVATION, DIAGNOSTIC_REPORT])
    results = [lab_result(i) for i in latest_first(items[OBSERVATION])]
    tests = lab_tests(results)
    if test_key and test_key in {t.key for t in tests}:
        results = [r for r in results if r.key == test_key]
    else:
        test_key = ""
    return LabsPage(
        results=results,
        tests=tests,
        test_key=test_key,
        reports=latest_first(items[DIAGNOSTIC_REPORT]),
        **_viewed(actor, subject, [OBSERVATION, DIAGNOSTIC_REPORT], context),
    )


def trend_page(
    *, actor, patient_id: uuid.UUID, key: str, context: AuditContext | None = None
) -> TrendPage:
    """One test's results over time and its chart; 404 when the patient has no such test."""
    subject = _subject(actor=actor, patient_id=patient_id)
    results = []
    if len(key) == TREND_KEY_LENGTH:
        results = [
            r
            for r in _lab_results(subject.patient, proxy=subject.proxy is not None)
            if r.key == key
        ]
    if not results:
        raise Http404("No such test.")
    return TrendPage(
        test=results[0],
        results=results,
        chart=trend_chart(results),
        **_viewed(actor, subject, [OBSERVATION], context),
    )


def visits_page(*, actor, patient_id: uuid.UUID, context: AuditContext | None = None) -> VisitsPage:
    subject = _subject(actor=actor, patient_id=patient_id)
    items = _items(subject, [ENCOUNTER, CONDITION, DOCUMENT])
    return VisitsPage(
        visits=visits(items[ENCOUNTER], items[CONDITION], items[DOCUMENT]),
        other_notes=unattached_notes(items[ENCOUNTER], items[DOCUMENT]),
        **_viewed(actor, subject, [ENCOUNTER, CONDITION, DOCUMENT], context),
    )


def medications_page(
    *, actor, patient_id: uuid.UUID, context: AuditContext | None = None
) -> MedicationsPage:
    subject = _subject(actor=actor, patient_id=patient_id)
    items = _items(subject, MEDICATIONS)
    notes: dict[str, object] = {}
    if subject.own:
        for _receiver, answer in medications_shown.send(
            sender=MedicationsPage, patient=subject.patient, proxy=subject.proxy is not None
        ):
            notes.update(answer or {})
    return MedicationsPage(
        medications=active_first(items[MEDICATION_REQUEST] + items[MEDICATION_STATEMENT]),
        notes=notes,
        **_viewed(actor, subject, MEDICATIONS, context),
    )


def medication_request_resources(*, patient: Patient, proxy: bool = False) -> list[dict]:
    """The patient's stored MedicationRequests as the EHR sent them (decrypted).

    For other features (refills) after their own access check and audit event:
    this records nothing and checks nothing. ``proxy`` leaves out resources the
    EHR labelled confidential, as the pages do.
    """
    preload_keys([patient.pk])
    rows = FhirRecord.objects.filter(patient_id=patient.pk, resource_type=MEDICATION_REQUEST).only(
        "id", "patient_id", "resource_type", "fhir_id", "resource"
    )
    found = []
    for row in rows:
        resource = row.resource
        if not isinstance(resource, dict) or (proxy and is_confidential(resource)):
            continue
        if resource.get("status") == "entered-in-error":
            continue
        found.append(resource)
    return found


def encounter_resources(*, patient: Patient, fhir_ids: Iterable[str]) -> list[dict]:
    """The patient's stored Encounters with these EHR ids, as the EHR sent them (decrypted).

    For other features (the assistant's check-ins, on records.signals.encounters_synced)
    that act for the system, not for a user: this records nothing and checks nothing.
    """
    preload_keys([patient.pk])
    rows = FhirRecord.objects.filter(
        patient_id=patient.pk, resource_type=ENCOUNTER, fhir_id__in=list(fhir_ids)
    ).only("id", "patient_id", "resource_type", "fhir_id", "resource")
    return [row.resource for row in rows if isinstance(row.resource, dict)]


def allergies_page(
    *, actor, patient_id: uuid.UUID, context: AuditContext | None = None
) -> AllergiesPage:
    subject = _subject(actor=actor, patient_id=patient_id)
    items = _items(subject, [ALLERGY])
    return AllergiesPage(
        allergies=active_first(items[ALLERGY], "clinical_status"),
        **_viewed(actor, subject, [ALLERGY], context),
    )


def immunizations_page(
    *, actor, patient_id: uuid.UUID, context: AuditContext | None = None
) -> ImmunizationsPage:
    subject = _subject(actor=actor, patient_id=patient_id)
    items = _items(subject, [IMMUNIZATION])
    return ImmunizationsPage(
        immunizations=latest_first(items[IMMUNIZATION]),
        **_viewed(actor, subject, [IMMUNIZATION], context),
    )


def problems_page(
    *, actor, patient_id: uuid.UUID, context: AuditContext | None = None
) -> ProblemsPage:
    subject = _subject(actor=actor, patient_id=patient_id)
    items = _items(subject, [CONDITION])
    return ProblemsPage(
        problems=active_first(items[CONDITION], "clinical_status"),
        **_viewed(actor, subject, [CONDITION], context),
    )


# --- Downloads ------------------------------------------------------------------------


def full_record(*, actor, patient_id: uuid.UUID, context: AuditContext | None = None) -> dict:
    """Everything the PDF shows, in the pages' orders; records the PDF download."""
    patient = access_patient(actor=actor, patient_id=patient_id)
    _downloaded(actor, patient, "pdf", context)
    proxy = proxy_grant(actor=actor, patient_id=patient.pk) is not None
    items = _record_items(patient, ALL_TYPES, proxy=proxy)
    return {
        "demographics": _demographics_of(patient),
        "counts": {t: len(v) for t, v in items.items() if v} if proxy else _record_counts(patient),
        "results": [lab_result(i) for i in latest_first(items[OBSERVATION])],
        "reports": latest_first(items[DIAGNOSTIC_REPORT]),
        "problems": active_first(items[CONDITION], "clinical_status"),
        "medications": active_first(items[MEDICATION_REQUEST] + items[MEDICATION_STATEMENT]),
        "allergies": active_first(items[ALLERGY], "clinical_status"),
        "immunizations": latest_first(items[IMMUNIZATION]),
        "visits": visits(items[ENCOUNTER], items[CONDITION], items[DOCUMENT]),
        "other_notes": unattached_notes(items[ENCOUNTER], items[DOCUMENT]),
    }


def bundle_resources(
    *, actor, patient_id: uuid.UUID, context: AuditContext | None = None
) -> Iterator[tuple[str, str, object]]:
    """(type, id, resource as sent) of every stored resource, in a stable order, then the
    patient's messages as Communications (messaging.fhir); records the Bundle download.
    The check and the event happen at the call, not at iteration."""
    patient = access_patient(actor=actor, patient_id=patient_id)
    _downloaded(actor, patient, "bundle", context)
    proxy = proxy_grant(actor=actor, patient_id=patient.pk) is not None
    # Messages go in the patient's own download only: a proxy's is the record alone.
    return chain(
        _bundle_rows(patient, proxy=proxy),
        () if proxy else communication_resources(actor=actor, patient_id=patient.pk),
    )


# --- Helpers: below the access check, never called with an unchecked patient ------------


def _subject(*, actor, patient_id: uuid.UUID) -> Subject:
    """The patient, if the actor may see them (404 alike for missing and not yours)."""
    patient = access_patient(actor=actor, patient_id=patient_id)
    if actor.role in PATIENT_SIDE_ROLES:  # their own record, or one they act for
        grant = proxy_grant(actor=actor, patient_id=patient.pk)
        if grant is None:
            return Subject(patient, own=True, break_glass=False)
        return Subject(
            patient,
            own=True,
            break_glass=False,
            demographics=_demographics_of(patient),
            proxy=grant,
        )
    return Subject(
        patient,
        own=False,
        break_glass=via_break_glass(actor=actor, patient=patient),
        demographics=_demographics_of(patient),
    )


def _viewed(actor, subject: Subject, types: list[str], context: AuditContext | None) -> dict:
    """Record the page's one view event; returns the fields every record page has."""
    # Clinicians' pages also show the patient's demographics (the banner).
    shown = [*types, "Patient"] if subject.demographics is not None else types
    record(
        action=Action.RECORD_VIEW,
        actor=actor,
        context=context,
        patient_id=subject.patient.pk,
        object_type=audit_object_type(shown),
        severity=Severity.HIGH if subject.break_glass else Severity.INFO,
    )
    return {"subject": subject, "last_synced": last_synced(patient=subject.patient, types=types)}


def _downloaded(actor, patient: Patient, kind: str, context: AuditContext | None) -> None:
    record(
        action=Action.RECORD_DOWNLOAD,
        actor=actor,
        context=context,
        patient_id=patient.pk,
        object_type=kind,
        severity=Severity.HIGH if via_break_glass(actor=actor, patient=patient) else Severity.INFO,
    )


def audit_object_type(types: list[str]) -> str:
    """The resource types a page shows, as the audit row names them (60 characters at most)."""
    full = ",".join(types)
    if len(full) <= AUDIT_OBJECT_TYPE_MAX:
        return full
    return ",".join(SHORT_NAMES.get(t, t) for t in types)[:AUDIT_OBJECT_TYPE_MAX]


AUDIT_OBJECT_TYPE_MAX = 60


def _demographics_of(patient: Patient) -> PatientDemographics | None:
    return PatientDemographics.objects.filter(patient=patient).first()


def _record_items(
    patient: Patient, types: Iterable[str], *, proxy: bool = False
) -> dict[str, list[Item]]:
    """The patient's stored resources of these types, decrypted, by type.

    ``proxy``: the reader acts for the patient; resources the EHR labelled
    confidential are left out (read from each stored resource: records/labels.py).
    """
    types = list(types)
    preload_keys([patient.pk])
    # patient_id, not patient: a filter on the instance makes Django assign it to
    # every row it loads (the ForeignKey descriptor), a third of a 500-row page.
    columns = ["id", "patient_id", "resource_type", "fhir_id", "display"]
    rows = FhirRecord.objects.filter(patient_id=patient.pk, resource_type__in=types).only(
        *columns, *(["resource"] if proxy else [])
    )
    if proxy:
        rows = [row for row in rows if not _confidential(row)]
    by_type: dict[str, list[Item]] = {t: [] for t in types}
    for item in open_rows(list(rows)):
        if not entered_in_error(item):
            by_type[item.resource_type].append(item)
    return by_type


def _confidential(row: FhirRecord) -> bool:
    """Labelled confidential, or unreadable (then it cannot be shown to be ordinary)."""
    resource = row.resource
    return not isinstance(resource, dict) or is_confidential(resource)


def _items(subject: Subject, types: Iterable[str]) -> dict[str, list[Item]]:
    return _record_items(subject.patient, types, proxy=subject.proxy is not None)


def _counts(subject: Subject) -> dict[str, int]:
    """How many of each type the patient has; for a proxy, of what they may see."""
    if subject.proxy is None:
        return _record_counts(subject.patient)
    return {t: len(v) for t, v in _items(subject, ALL_TYPES).items() if v}


def _lab_results(patient: Patient, *, proxy: bool = False) -> list[LabResult]:
    items = _record_items(patient, [OBSERVATION], proxy=proxy)[OBSERVATION]
    return [lab_result(i) for i in latest_first(items)]


def _record_counts(patient: Patient) -> dict[str, int]:
    """How many resources of each type are stored (metadata, no decryption)."""
    rows = (
        FhirRecord.objects.filter(patient=patient)
        .values_list("resource_type")
        .annotate(n=Count("id"))
        .order_by()
    )
    return dict(rows)


def _bundle_rows(patient: Patient, *, proxy: bool = False) -> Iterator[tuple[str, str, object]]:
    preload_keys([patient.pk])
    rows = (
        FhirRecord.objects.filter(patient=patient)
        .only("id", "patient_id", "resource_type", "fhir_id", "resource")
        .order_by("resource_type", "fhir_id")
    )
    for row in rows.iterator(chunk_size=200):
        if proxy and _confidential(row):
            continue
        yield row.resource_type, row.fhir_id, row.resource
    # The portal's own scheduling (Schedule, Slot, Appointment), after the EHR's resources.
    yield from appointment_resources(patient)


def last_synced(*, patient: Patient, types: Iterable[str]) -> datetime | None:
    """When the oldest of these types was last synced; None when one never has.

    Sync metadata, not the patient's data: records.sync asks it too.
    """
    types = set(types)
    times = dict(
        SyncState.objects.filter(patient=patient, resource_type__in=types).values_list(
            "resource_type", "last_synced_at"
        )
    )
    if set(times) != types or None in times.values():
        return None
    return min(times.values())

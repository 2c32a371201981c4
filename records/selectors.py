"""Reads of patient data; each takes the acting user and returns only what they may see."""

from collections.abc import Iterable, Iterator

from django.db.models import Count

from patients.models import CareTeam, Patient, PatientDemographics
from portal.access import Role, clinical_patients, via_break_glass
from portal.crypto.blind_index import blind_index
from portal.crypto.selectors import preload_keys
from records.charts import trend_chart
from records.models import FhirRecord, ResourceType, SyncState
from records.presenters import (
    TREND_KEY_LENGTH,
    Item,
    LabResult,
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


def chart_context(*, actor, patient: Patient) -> dict:
    return {
        "patient": patient,
        "demographics": demographics_of(patient=patient),
        "care_teams": list(CareTeam.objects.filter(patients=patient).order_by("name")),
        "break_glass": via_break_glass(actor=actor, patient=patient),
        "grant": patient.break_glass_grants.filter(clinician=actor).order_by("-expires_at").first(),
    }


# Roles that may look up who a patient is (name, birth date, contact), without
# any clinical data: billing for statements, the front desk for schedules.
DEMOGRAPHICS_ROLES = frozenset({Role.BILLING, Role.FRONT_DESK})


def demographics_by_mrn(*, actor, mrn: str) -> PatientDemographics | None:
    """One patient's demographics by exact MRN (blind index: the MRN itself is not stored)."""
    if actor.role not in DEMOGRAPHICS_ROLES:
        return None
    return (
        PatientDemographics.objects.filter(mrn_index=blind_index(mrn, purpose="mrn"))
        .select_related("patient")
        .first()
    )


def demographics_of(*, patient: Patient) -> PatientDemographics | None:
    return PatientDemographics.objects.filter(patient=patient).first()


# --- The patient's records from the EHR ----------------------------------------------
# One code path for both audiences: the views resolve the patient (the signed-in
# patient themself, or access_patient() for a clinician) and these build what a
# page shows. Rows of a type are loaded whole and sorted after decrypting (the
# clinical date is encrypted; see records.models.FhirRecord).


def record_items(*, actor, patient: Patient, types: Iterable[str]) -> dict[str, list[Item]]:
    """The patient's stored resources of these types, decrypted, by type."""
    types = list(types)
    preload_keys([patient.pk])
    # patient_id, not patient: a filter on the instance makes Django assign it to
    # every row it loads (the ForeignKey descriptor), a third of a 500-row page.
    rows = FhirRecord.objects.filter(patient_id=patient.pk, resource_type__in=types).only(
        "id", "patient_id", "resource_type", "fhir_id", "display"
    )
    by_type: dict[str, list[Item]] = {t: [] for t in types}
    for item in open_rows(list(rows)):
        if not entered_in_error(item):
            by_type[item.resource_type].append(item)
    return by_type


def last_synced(*, patient: Patient, types: Iterable[str]):
    """When the oldest of these types was last synced; None when one never has."""
    types = set(types)
    times = dict(
        SyncState.objects.filter(patient=patient, resource_type__in=types).values_list(
            "resource_type", "last_synced_at"
        )
    )
    if set(times) != types or None in times.values():
        return None
    return min(times.values())


def record_counts(*, patient: Patient) -> dict[str, int]:
    """How many resources of each type are stored (metadata, no decryption)."""
    rows = (
        FhirRecord.objects.filter(patient=patient)
        .values_list("resource_type")
        .annotate(n=Count("id"))
        .order_by()
    )
    return dict(rows)


def lab_results(*, actor, patient: Patient) -> list[LabResult]:
    items = record_items(actor=actor, patient=patient, types=[OBSERVATION])[OBSERVATION]
    return [lab_result(i) for i in latest_first(items)]


def labs_context(*, actor, patient: Patient, test_key: str = "") -> dict:
    items = record_items(actor=actor, patient=patient, types=[OBSERVATION, DIAGNOSTIC_REPORT])
    results = [lab_result(i) for i in latest_first(items[OBSERVATION])]
    tests = lab_tests(results)
    if test_key and test_key in {t.key for t in tests}:
        results = [r for r in results if r.key == test_key]
    else:
        test_key = ""
    return {
        "results": results,
        "tests": tests,
        "test_key": test_key,
        "reports": latest_first(items[DIAGNOSTIC_REPORT]),
    }


def trend_context(*, actor, patient: Patient, key: str) -> dict | None:
    """One test's results over time and its chart; None when the patient has no such test."""
    if len(key) != TREND_KEY_LENGTH:
        return None
    results = [r for r in lab_results(actor=actor, patient=patient) if r.key == key]
    if not results:
        return None
    return {"test": results[0], "results": results, "chart": trend_chart(results)}


def visits_context(*, actor, patient: Patient) -> dict:
    items = record_items(actor=actor, patient=patient, types=[ENCOUNTER, CONDITION, DOCUMENT])
    return {
        "visits": visits(items[ENCOUNTER], items[CONDITION], items[DOCUMENT]),
        "other_notes": unattached_notes(items[ENCOUNTER], items[DOCUMENT]),
    }


def medications_context(*, actor, patient: Patient) -> dict:
    items = record_items(actor=actor, patient=patient, types=MEDICATIONS)
    return {"medications": active_first(items[MEDICATION_REQUEST] + items[MEDICATION_STATEMENT])}


def allergies_context(*, actor, patient: Patient) -> dict:
    items = record_items(actor=actor, patient=patient, types=[ALLERGY])
    return {"allergies": active_first(items[ALLERGY], "clinical_status")}


def immunizations_context(*, actor, patient: Patient) -> dict:
    items = record_items(actor=actor, patient=patient, types=[IMMUNIZATION])
    return {"immunizations": latest_first(items[IMMUNIZATION])}


def problems_context(*, actor, patient: Patient) -> dict:
    items = record_items(actor=actor, patient=patient, types=[CONDITION])
    return {"problems": active_first(items[CONDITION], "clinical_status")}


SUMMARY_LATEST_TESTS = 6


def summary_context(*, actor, patient: Patient) -> dict:
    items = record_items(actor=actor, patient=patient, types=SUMMARY_TYPES)
    results = [lab_result(i) for i in latest_first(items[OBSERVATION])]
    meds = active_first(items[MEDICATION_REQUEST] + items[MEDICATION_STATEMENT])
    encounters = latest_first(items[ENCOUNTER])
    return {
        "counts": record_counts(patient=patient),
        "latest_labs": [t.latest for t in lab_tests(results)][:SUMMARY_LATEST_TESTS],
        "unreadable_labs": [r for r in results if r.unreadable is not None],
        "problems": [
            c
            for c in active_first(items[CONDITION], "clinical_status")
            if is_active(c, "clinical_status")
        ],
        "medications": [m for m in meds if is_active(m)],
        "allergies": [
            a
            for a in active_first(items[ALLERGY], "clinical_status")
            if is_active(a, "clinical_status")
        ],
        "last_visit": encounters[0] if encounters else None,
    }


def full_record(*, actor, patient: Patient) -> dict:
    """Everything the PDF shows, in the pages' orders."""
    items = record_items(actor=actor, patient=patient, types=ALL_TYPES)
    return {
        "demographics": demographics_of(patient=patient),
        "counts": record_counts(patient=patient),
        "results": [lab_result(i) for i in latest_first(items[OBSERVATION])],
        "reports": latest_first(items[DIAGNOSTIC_REPORT]),
        "problems": active_first(items[CONDITION], "clinical_status"),
        "medications": active_first(items[MEDICATION_REQUEST] + items[MEDICATION_STATEMENT]),
        "allergies": active_first(items[ALLERGY], "clinical_status"),
        "immunizations": latest_first(items[IMMUNIZATION]),
        "visits": visits(items[ENCOUNTER], items[CONDITION], items[DOCUMENT]),
        "other_notes": unattached_notes(items[ENCOUNTER], items[DOCUMENT]),
    }


def bundle_resources(*, actor, patient: Patient) -> Iterator[tuple[str, str, object]]:
    """(type, id, resource as sent) of every stored resource, in a stable order."""
    preload_keys([patient.pk])
    rows = (
        FhirRecord.objects.filter(patient=patient)
        .only("id", "patient_id", "resource_type", "fhir_id", "resource")
        .order_by("resource_type", "fhir_id")
    )
    for row in rows.iterator(chunk_size=200):
        yield row.resource_type, row.fhir_id, row.resource

"""Records for the page tests, stored the real way: through records.ingest.ingest()."""

import copy
from decimal import Decimal
from typing import Any

from records.ingest import ingest
from tests.records import resources as r

GLUCOSE = ("2345-7", "Glucose [Mass/volume] in Serum or Plasma", "mg/dL")


def lab(
    fhir_id: str,
    *,
    value: Any,
    on: str,
    patient: str = r.PATIENT_FHIR_ID,
    test: tuple[str, str, str] | None = None,
    interpretation: str | None = None,
    low: Any = Decimal("4.0"),
    high: Any = Decimal("5.6"),
) -> dict[str, Any]:
    """An HbA1c (or ``test``: code, name, unit) result on a date, flagged as told."""
    resource = r.lab(fhir_id, patient=patient, value=value)
    resource["effectiveDateTime"] = on
    if test is not None:
        code, name, unit = test
        resource["code"] = {
            "coding": [{"system": "http://loinc.org", "code": code, "display": name}],
            "text": name,
        }
        resource["valueQuantity"]["unit"] = resource["valueQuantity"]["code"] = unit
        for bound in ("low", "high"):
            resource["referenceRange"][0][bound]["unit"] = unit
            resource["referenceRange"][0][bound]["code"] = unit
        del resource["referenceRange"][0]["text"]
    resource["referenceRange"][0]["low"]["value"] = low
    resource["referenceRange"][0]["high"]["value"] = high
    if interpretation is None:
        del resource["interpretation"]
    else:
        resource["interpretation"][0]["coding"][0]["code"] = interpretation
        resource["interpretation"][0]["coding"][0]["display"] = {
            "H": "High",
            "L": "Low",
            "N": "Normal",
        }.get(interpretation, interpretation)
    return resource


def medication_request(
    fhir_id: str, *, name: str, status: str = "active", on: str = "2026-09-01"
) -> dict[str, Any]:
    return {
        "resourceType": "MedicationRequest",
        "id": fhir_id,
        "meta": {"versionId": "1", "lastUpdated": "2026-09-01T10:00:00Z"},
        "status": status,
        "intent": "order",
        "medicationCodeableConcept": {"text": name},
        "subject": {"reference": f"Patient/{r.PATIENT_FHIR_ID}"},
        "authoredOn": on,
        "requester": {"display": "Dr Carol Chen"},
        "dosageInstruction": [{"text": "1 tablet twice a day with meals"}],
    }


def medication_statement(
    fhir_id: str, *, name: str, status: str = "active", on: str = "2026-05-01"
) -> dict[str, Any]:
    return {
        "resourceType": "MedicationStatement",
        "id": fhir_id,
        "meta": {"versionId": "1", "lastUpdated": "2026-05-01T10:00:00Z"},
        "status": status,
        "medicationCodeableConcept": {"text": name},
        "subject": {"reference": f"Patient/{r.PATIENT_FHIR_ID}"},
        "effectiveDateTime": on,
        "dosage": [{"text": "As needed"}],
    }


def diagnostic_report(fhir_id: str = "report-1") -> dict[str, Any]:
    return {
        "resourceType": "DiagnosticReport",
        "id": fhir_id,
        "meta": {"versionId": "1", "lastUpdated": "2026-10-02T10:00:00Z"},
        "status": "final",
        "code": {"text": "Diabetes panel"},
        "subject": {"reference": f"Patient/{r.PATIENT_FHIR_ID}"},
        "effectiveDateTime": "2026-10-01T08:15:00+00:00",
        "conclusion": "HbA1c above target.",
        "result": [{"reference": "Observation/obs-hba1c-3"}],
    }


def resolved(resource: dict[str, Any], fhir_id: str, name: str) -> dict[str, Any]:
    """A copy of a condition or allergy that is no longer active."""
    copied = copy.deepcopy(resource)
    copied["id"] = fhir_id
    copied["code"] = {"text": name}
    system = copied["clinicalStatus"]["coding"][0]["system"]
    copied["clinicalStatus"] = {"coding": [{"system": system, "code": "resolved"}]}
    return copied


HBA1C_SERIES = [
    ("obs-hba1c-1", Decimal("6.4"), "2026-02-01T08:00:00+00:00", "H"),
    ("obs-hba1c-2", Decimal("5.2"), "2026-06-01T08:00:00+00:00", None),
    ("obs-hba1c-3", Decimal("7.10"), "2026-10-01T08:15:00+00:00", "H"),
]


def seed(patient, *, notes: bool = True) -> None:
    """A small real-looking record: labs of two tests, a visit with diagnosis and note,
    problems, medicines, an allergy and an immunization."""
    patient.fhir_id = r.PATIENT_FHIR_ID
    patient.save()
    labs = [lab(i, value=v, on=on, interpretation=flag) for i, v, on, flag in HBA1C_SERIES]
    labs.append(
        lab(
            "obs-glucose-1", value=62, on="2026-09-15T07:30:00+00:00", test=GLUCOSE, low=70, high=99
        )
    )
    store(patient, "Observation", labs)
    store(patient, "DiagnosticReport", [diagnostic_report()])
    store(
        patient,
        "Condition",
        [r.condition(), resolved(r.condition(), "cond-old-1", "Sprained ankle")],
    )
    store(patient, "Encounter", [r.encounter()])
    if notes:
        store(patient, "DocumentReference", [r.visit_note()])
    store(
        patient,
        "MedicationRequest",
        [
            medication_request(
                "medreq-old", name="Glipizide 5 mg", status="stopped", on="2020-01-01"
            ),
            medication_request("medreq-1", name="Metformin 500 mg"),
        ],
    )
    store(
        patient, "MedicationStatement", [medication_statement("medstmt-1", name="Ibuprofen 200 mg")]
    )
    store(patient, "AllergyIntolerance", [r.allergy()])
    store(patient, "Immunization", [r.immunization()])


def store(patient, resource_type: str, resources: list[dict[str, Any]]) -> None:
    report = ingest(
        patient=patient,
        resource_type=resource_type,
        resources=resources,
        requested_patient_fhir_id=patient.fhir_id,
    )
    assert report.stored == len(resources), (resource_type, report)

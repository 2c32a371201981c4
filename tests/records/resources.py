"""Hand-built FHIR R4 resources, shaped like a real EHR's (LOINC, SNOMED, CVX codes).

Decimal values are ``Decimal``, as the FHIR client parses them (so "7.10" stays 7.10).
"""

import base64
import copy
from decimal import Decimal
from typing import Any

PATIENT_FHIR_ID = "pat-alice-1"
OTHER_FHIR_ID = "pat-mallory-2"


def _meta(version: str, updated: str) -> dict[str, str]:
    return {"versionId": version, "lastUpdated": updated}


def lab(
    fhir_id: str = "obs-hba1c-1",
    *,
    patient: str = PATIENT_FHIR_ID,
    version: str = "1",
    updated: str = "2026-10-02T09:30:00+00:00",
    code_text: str = "Hemoglobin A1c/Hemoglobin.total in Blood",
    value: Decimal | int = Decimal("7.2"),
    unit: str = "%",
) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": fhir_id,
        "meta": _meta(version, updated),
        "status": "final",
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                        "code": "laboratory",
                        "display": "Laboratory",
                    }
                ]
            }
        ],
        "code": {
            "coding": [{"system": "http://loinc.org", "code": "4548-4", "display": code_text}],
            "text": code_text,
        },
        "subject": {"reference": f"Patient/{patient}"},
        "effectiveDateTime": "2026-10-01T08:15:00+00:00",
        "issued": "2026-10-02T09:30:00.000+00:00",
        "valueQuantity": {
            "value": value,
            "unit": unit,
            "system": "http://unitsofmeasure.org",
            "code": "%",
        },
        "interpretation": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation",
                        "code": "H",
                        "display": "High",
                    }
                ]
            }
        ],
        "referenceRange": [
            {
                "low": {
                    "value": Decimal("4.0"),
                    "unit": "%",
                    "system": "http://unitsofmeasure.org",
                    "code": "%",
                },
                "high": {
                    "value": Decimal("5.6"),
                    "unit": "%",
                    "system": "http://unitsofmeasure.org",
                    "code": "%",
                },
                "text": "4.0-5.6 %",
            }
        ],
    }


def condition(fhir_id: str = "cond-dm2-1", *, patient: str = PATIENT_FHIR_ID) -> dict[str, Any]:
    return {
        "resourceType": "Condition",
        "id": fhir_id,
        "meta": _meta("3", "2026-09-12T10:00:00Z"),
        "clinicalStatus": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                    "code": "active",
                }
            ]
        },
        "verificationStatus": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/condition-ver-status",
                    "code": "confirmed",
                }
            ]
        },
        "code": {
            "coding": [
                {
                    "system": "http://snomed.info/sct",
                    "code": "44054006",
                    "display": "Diabetes mellitus type 2",
                }
            ],
            "text": "Type 2 diabetes",
        },
        "subject": {"reference": f"Patient/{patient}"},
        "onsetDateTime": "2019-04-03",
        "recordedDate": "2019-04-05",
    }


def allergy(fhir_id: str = "allergy-pcn-1", *, patient: str = PATIENT_FHIR_ID) -> dict[str, Any]:
    return {
        "resourceType": "AllergyIntolerance",
        "id": fhir_id,
        "meta": _meta("1", "2026-01-20T14:00:00Z"),
        "clinicalStatus": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical",
                    "code": "active",
                }
            ]
        },
        "type": "allergy",
        "category": ["medication"],
        "criticality": "high",
        "code": {
            "coding": [
                {"system": "http://snomed.info/sct", "code": "764146007", "display": "Penicillin"}
            ],
            "text": "Penicillin",
        },
        "patient": {"reference": f"Patient/{patient}"},
        "recordedDate": "2015-06-01",
        "reaction": [
            {
                "manifestation": [
                    {
                        "coding": [
                            {
                                "system": "http://snomed.info/sct",
                                "code": "247472004",
                                "display": "Hives",
                            }
                        ]
                    }
                ],
                "severity": "moderate",
            }
        ],
    }


def immunization(fhir_id: str = "imm-flu-1", *, patient: str = PATIENT_FHIR_ID) -> dict[str, Any]:
    return {
        "resourceType": "Immunization",
        "id": fhir_id,
        "meta": _meta("1", "2026-10-15T11:00:00Z"),
        "status": "completed",
        "vaccineCode": {
            "coding": [
                {
                    "system": "http://hl7.org/fhir/sid/cvx",
                    "code": "158",
                    "display": "influenza, injectable, quadrivalent",
                }
            ],
            "text": "Influenza vaccine",
        },
        "patient": {"reference": f"Patient/{patient}"},
        "occurrenceDateTime": "2026-10-15",
        "lotNumber": "AAJN11K",
        "doseQuantity": {
            "value": Decimal("0.5"),
            "unit": "mL",
            "system": "http://unitsofmeasure.org",
            "code": "mL",
        },
    }


def encounter(fhir_id: str = "enc-1", *, patient: str = PATIENT_FHIR_ID) -> dict[str, Any]:
    return {
        "resourceType": "Encounter",
        "id": fhir_id,
        "meta": _meta("2", "2026-10-01T12:00:00Z"),
        "status": "finished",
        "class": {
            "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
            "code": "AMB",
            "display": "ambulatory",
        },
        "type": [{"text": "Diabetes follow-up visit"}],
        "subject": {"reference": f"Patient/{patient}"},
        "period": {"start": "2026-10-01T08:00:00+00:00", "end": "2026-10-01T08:40:00+00:00"},
        "reasonCode": [{"text": "Review of blood sugar control"}],
        "diagnosis": [{"condition": {"reference": "Condition/cond-dm2-1"}}],
    }


def visit_note(
    fhir_id: str = "note-1",
    *,
    patient: str = PATIENT_FHIR_ID,
    encounter_id: str = "enc-1",
    text: str = "Sugars improving. Continue metformin; recheck HbA1c in 3 months.",
) -> dict[str, Any]:
    return {
        "resourceType": "DocumentReference",
        "id": fhir_id,
        "meta": _meta("1", "2026-10-01T12:05:00Z"),
        "status": "current",
        "type": {
            "coding": [
                {"system": "http://loinc.org", "code": "11506-3", "display": "Progress note"}
            ]
        },
        "subject": {"reference": f"Patient/{patient}"},
        "date": "2026-10-01T08:45:00+00:00",
        "author": [{"display": "Dr. Carol Reyes"}],
        "description": "Diabetes follow-up",
        "content": [
            {
                "attachment": {
                    "contentType": "text/plain; charset=utf-8",
                    "data": base64.b64encode(text.encode()).decode(),
                }
            }
        ],
        "context": {"encounter": [{"reference": f"Encounter/{encounter_id}"}]},
    }


def newer(resource: dict[str, Any], version: str, updated: str, **changes: Any) -> dict[str, Any]:
    copied = copy.deepcopy(resource)
    copied["meta"] = _meta(version, updated)
    copied.update(changes)
    return copied

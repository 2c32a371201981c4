"""US Core-shaped data: extensions on primitive values are kept, never quarantined.

The resources follow the shapes of US Core's published examples (Patient
"example" with race, ethnicity and birth sex; lab and smoking-status
Observations; Condition, AllergyIntolerance, Immunization, MedicationRequest,
Encounter, DocumentReference), with the positions FHIR allows for an extension
on a primitive: ``_birthDate``, ``_status``, ``_valueCode`` inside an
extension, and a data-absent-reason where a value is unknown.
"""

import base64
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from patients.models import PatientDemographics
from portal.crypto.scope import key_scope
from records.models import FhirRecord, Quarantine
from records.presenters import lab_result, open_rows
from records.sync import sync_patient
from tests.conftest import sign_in_fully
from tests.records import resources as r

pytestmark = pytest.mark.django_db

US_CORE = "http://hl7.org/fhir/us/core/StructureDefinition"
PATIENT_REF = {"reference": f"Patient/{r.PATIENT_FHIR_ID}"}


def absent(code: str = "unknown") -> dict[str, Any]:
    """A data-absent-reason, as the ``_element`` of a primitive value."""
    return {
        "extension": [
            {
                "url": "http://hl7.org/fhir/StructureDefinition/data-absent-reason",
                "valueCode": code,
            }
        ]
    }


def without(resource: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in resource.items() if k != key}


def us_core_patient(**changes: Any) -> dict[str, Any]:
    """US Core's Patient "example" (Amy V. Shaw), linked to the test patient's FHIR id."""
    resource = {
        "resourceType": "Patient",
        "id": r.PATIENT_FHIR_ID,
        "meta": {"versionId": "3", "lastUpdated": "2026-09-01T10:00:00Z"},
        "extension": [
            {
                "url": f"{US_CORE}/us-core-race",
                "extension": [
                    {
                        "url": "ombCategory",
                        "valueCoding": {
                            "system": "urn:oid:2.16.840.1.113883.6.238",
                            "code": "2106-3",
                            "display": "White",
                        },
                    },
                    {
                        "url": "detailed",
                        "valueCoding": {
                            "system": "urn:oid:2.16.840.1.113883.6.238",
                            "code": "1586-7",
                            "display": "Shoshone",
                        },
                    },
                    {"url": "text", "valueString": "Mixed"},
                ],
            },
            {
                "url": f"{US_CORE}/us-core-ethnicity",
                "extension": [
                    {
                        "url": "ombCategory",
                        "valueCoding": {
                            "system": "urn:oid:2.16.840.1.113883.6.238",
                            "code": "2135-2",
                            "display": "Hispanic or Latino",
                        },
                    },
                    {"url": "text", "valueString": "Hispanic or Latino"},
                ],
            },
            {"url": f"{US_CORE}/us-core-birthsex", "valueCode": "F"},
        ],
        "identifier": [
            {
                "use": "usual",
                "type": {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/v2-0203",
                            "code": "MR",
                            "display": "Medical Record Number",
                        }
                    ],
                    "text": "Medical Record Number",
                },
                "system": "http://hospital.smarthealthit.org",
                "value": "1032702",
            }
        ],
        "active": True,
        "name": [
            {
                "family": "Shaw",
                "given": ["Amy", "V.", None],
                "_given": [None, None, absent("masked")],
            }
        ],
        "telecom": [
            {"system": "phone", "value": "555-555-5555", "use": "home"},
            {"system": "email", "_value": absent("asked-declined")},
        ],
        "gender": "female",
        "birthDate": "1987-02-20",
        "_birthDate": {
            "extension": [
                {
                    "url": "http://hl7.org/fhir/StructureDefinition/patient-birthTime",
                    "valueDateTime": "1987-02-20T09:30:00-05:00",
                }
            ]
        },
        "address": [
            {
                "line": ["49 Meadow St"],
                "city": "Mounds",
                "state": "OK",
                "postalCode": "74047",
                "country": "US",
            }
        ],
    }
    return {**resource, **changes}


class OneEhr:
    """A FhirClient stand-in that serves fixed search results per type."""

    def __init__(self, served: dict[str, list[dict[str, Any]]]) -> None:
        self.served = served

    def search(self, resource_type: str, params: dict[str, str]) -> list[dict[str, Any]]:
        return self.served.get(resource_type, [])

    def close(self) -> None:
        pass


@pytest.fixture
def patient(alice):
    alice.patient.fhir_id = r.PATIENT_FHIR_ID
    alice.patient.save()
    return alice.patient


def sync(patient, **served: list[dict[str, Any]]):
    return sync_patient(patient=patient, client=OneEhr(served))


def demographics(patient) -> tuple:
    with key_scope():
        row = PatientDemographics.objects.get(patient=patient)
        return row.given_name, row.family_name, row.birth_date, row.mrn, row.contact


def displays(patient, resource_type: str) -> dict[str, dict[str, Any]]:
    with key_scope():
        rows = FhirRecord.objects.filter(patient=patient, resource_type=resource_type)
        return {row.fhir_id: row.display for row in rows}


# --- Patient -------------------------------------------------------------------------


def test_it_keeps_the_demographics_of_a_us_core_patient(patient):
    result = sync(patient, Patient=[us_core_patient()])

    assert result.demographics == "stored"
    assert not Quarantine.objects.exists()
    assert demographics(patient) == (
        "Amy V.",
        "Shaw",
        date(1987, 2, 20),
        "1032702",
        {"phone": "555-555-5555", "address": ["49 Meadow St", "74047 Mounds"]},
    )


@pytest.mark.parametrize(
    "birthsex",
    [
        {"url": f"{US_CORE}/us-core-birthsex", "_valueCode": absent("asked-declined")},
        {"url": f"{US_CORE}/us-core-birthsex", "valueCode": "UNK", "_valueCode": absent()},
    ],
    ids=["reason-only", "value-and-reason"],
)
def test_it_keeps_a_patient_whose_extension_value_has_an_extension(patient, birthsex):
    # The R4B Extension model has no ``_valueCode``: this Patient used to be quarantined.
    resource = us_core_patient()
    resource["extension"] = [*resource["extension"][:2], birthsex]

    result = sync(patient, Patient=[resource])

    assert result.demographics == "stored"
    assert not Quarantine.objects.exists()
    assert demographics(patient)[:2] == ("Amy V.", "Shaw")


def test_it_keeps_a_patient_whose_birth_date_is_absent_with_a_reason(patient):
    resource = us_core_patient(_birthDate=absent())
    del resource["birthDate"]

    result = sync(patient, Patient=[resource])

    assert result.demographics == "stored"
    assert demographics(patient)[2] is None


def test_it_still_quarantines_a_patient_with_a_malformed_value_extension(patient):
    resource = us_core_patient()
    resource["extension"][2]["_valueCode"] = {"extension": "not a list"}

    result = sync(patient, Patient=[resource])

    assert result.demographics == "invalid"
    assert Quarantine.objects.get(resource_type="Patient").detail.startswith("invalid:")


# --- clinical types --------------------------------------------------------------------


def us_core_lab() -> dict[str, Any]:
    """US Core's "serum-total-bilirubin" shape, with extensions on its primitives."""
    return {
        "resourceType": "Observation",
        "id": "serum-total-bilirubin",
        "meta": {"versionId": "1", "lastUpdated": "2026-09-02T08:00:00Z"},
        "extension": [
            {
                "url": "http://example.org/fhir/StructureDefinition/specimen-condition",
                "valueCode": "hemolyzed",
                "_valueCode": {
                    "extension": [
                        {
                            "url": "http://hl7.org/fhir/StructureDefinition/originalText",
                            "valueString": "slightly hemolysed",
                        }
                    ]
                },
            }
        ],
        "status": "final",
        "_status": {
            "extension": [
                {
                    "url": "http://example.org/fhir/StructureDefinition/status-source",
                    "valueCode": "lis",
                }
            ]
        },
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                        "code": "laboratory",
                        "display": "Laboratory",
                    }
                ],
                "text": "Laboratory",
            }
        ],
        "code": {
            "coding": [
                {
                    "system": "http://loinc.org",
                    "code": "1975-2",
                    "display": "Bilirubin, serum",
                }
            ],
            "text": "Bilirubin, total",
        },
        "subject": PATIENT_REF,
        "effectiveDateTime": "2026-09-02T07:30:00Z",
        "valueQuantity": {
            "value": Decimal("8.6"),
            "unit": "mg/dL",
            "system": "http://unitsofmeasure.org",
            "code": "mg/dL",
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
                "high": {
                    "value": Decimal("1.8"),
                    "unit": "mg/dL",
                    "system": "http://unitsofmeasure.org",
                    "code": "mg/dL",
                }
            }
        ],
    }


def us_core_lab_without_value() -> dict[str, Any]:
    """A result with no value: dataAbsentReason, and a status whose reason is given."""
    resource = us_core_lab()
    del resource["valueQuantity"], resource["interpretation"]
    resource["id"] = "bilirubin-not-done"
    resource["dataAbsentReason"] = {
        "coding": [
            {
                "system": "http://terminology.hl7.org/CodeSystem/data-absent-reason",
                "code": "error",
                "display": "Error",
            }
        ]
    }
    resource["_status"] = absent("error")
    return resource


def test_it_stores_lab_results_with_extensions_on_their_primitives(patient):
    result = sync(patient, Observation=[us_core_lab(), us_core_lab_without_value()])

    report = result.reports["Observation"]
    assert (report.stored, report.quarantined) == (2, 0)
    shown = displays(patient, "Observation")
    assert shown["serum-total-bilirubin"]["status"] == "final"
    with key_scope():
        rows = FhirRecord.objects.filter(patient=patient, fhir_id="serum-total-bilirubin")
        lab = lab_result(open_rows(list(rows))[0])
    assert (lab.name, lab.value, lab.unit, lab.flag_label) == (
        "Bilirubin, total",
        "8.6",
        "mg/dL",
        "High",
    )
    assert shown["bilirubin-not-done"]["code"] == "Bilirubin, total"
    assert "value" not in shown["bilirubin-not-done"]


def us_core_condition() -> dict[str, Any]:
    return {
        "resourceType": "Condition",
        "id": "example",
        "meta": {"versionId": "1", "lastUpdated": "2026-09-03T08:00:00Z"},
        "clinicalStatus": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                    "code": "active",
                }
            ],
            "text": "active",
        },
        "verificationStatus": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/condition-ver-status",
                    "code": "confirmed",
                }
            ],
            "text": "confirmed",
        },
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/condition-category",
                        "code": "problem-list-item",
                        "display": "Problem List Item",
                    }
                ]
            }
        ],
        "code": {
            "coding": [
                {
                    "system": "http://snomed.info/sct",
                    "code": "442311008",
                    "display": "Liveborn born in hospital",
                }
            ],
            "text": "Single liveborn, born in hospital",
        },
        "subject": PATIENT_REF,
        "_onsetDateTime": absent(),
        "recordedDate": "2016-08-10",
        "_recordedDate": {"extension": absent()["extension"]},
    }


def test_it_stores_each_type_with_data_absent_reasons_on_primitives(patient):
    note = base64.b64encode(b"Seen for a check-up.").decode()
    served = {
        "Condition": [us_core_condition()],
        "AllergyIntolerance": [
            {
                **r.allergy("allergy-us-core"),
                "_criticality": absent(),
                "_recordedDate": absent(),
            }
        ],
        "Immunization": [
            # occurrence[x] is required: here it is only its reason. The R4B model
            # used to refuse the whole Immunization for it.
            {
                **without(r.immunization("imm-us-core"), "occurrenceDateTime"),
                "_occurrenceDateTime": absent(),
                "_lotNumber": absent("masked"),
            }
        ],
        "MedicationRequest": [
            {
                "resourceType": "MedicationRequest",
                "id": "self-tylenol",
                "meta": {"versionId": "1", "lastUpdated": "2026-09-04T08:00:00Z"},
                "status": "active",
                "intent": "plan",
                "_intent": {"id": "intent-1"},
                "reportedBoolean": True,
                "medicationCodeableConcept": {
                    "coding": [
                        {
                            "system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                            "code": "1187314",
                            "display": "Tylenol PM Pill",
                        }
                    ],
                    "text": "Tylenol PM Pill",
                },
                "subject": PATIENT_REF,
                "_authoredOn": absent(),
                "dosageInstruction": [{"text": "Takes 1-2 tablets once daily at bedtime"}],
            }
        ],
        "Encounter": [
            {
                **r.encounter("enc-us-core"),
                "period": {"_start": absent(), "end": "2026-09-05T10:00:00Z"},
            }
        ],
        "DocumentReference": [
            {
                "resourceType": "DocumentReference",
                "id": "episode-summary",
                "meta": {"versionId": "1", "lastUpdated": "2026-09-05T08:00:00Z"},
                "status": "current",
                "type": {
                    "coding": [
                        {
                            "system": "http://loinc.org",
                            "code": "34133-9",
                            "display": "Summary of episode note",
                        }
                    ],
                    "text": "Summary of episode note",
                },
                "subject": PATIENT_REF,
                "_date": absent(),
                "content": [
                    {
                        "attachment": {
                            "contentType": "text/plain",
                            "data": note,
                            "_title": absent(),
                        }
                    }
                ],
            }
        ],
    }

    result = sync(patient, **served)

    assert {t: rep.quarantined for t, rep in result.reports.items() if rep.quarantined} == {}
    assert {t: result.reports[t].stored for t in served} == dict.fromkeys(served, 1)
    assert not Quarantine.objects.exists()
    condition = displays(patient, "Condition")["example"]
    assert (condition["code"], condition["clinical_status"], condition["effective"]) == (
        "Single liveborn, born in hospital",
        "active",
        "2016-08-10",
    )
    allergy = displays(patient, "AllergyIntolerance")["allergy-us-core"]
    assert (allergy["criticality"], allergy["clinical_status"]) == ("high", "active")
    immunization = displays(patient, "Immunization")["imm-us-core"]
    assert (immunization["code"], immunization["effective"], immunization["lot_number"]) == (
        "Influenza vaccine",
        "",
        "AAJN11K",
    )
    medication = displays(patient, "MedicationRequest")["self-tylenol"]
    assert (medication["medication"], medication["intent"], medication["effective"]) == (
        "Tylenol PM Pill",
        "plan",
        "",
    )
    assert displays(patient, "Encounter")["enc-us-core"]["end"] == "2026-09-05T10:00:00Z"
    assert displays(patient, "DocumentReference")["episode-summary"]["text"] == (
        "Seen for a check-up."
    )


def test_its_pages_show_what_us_core_data_says(client, alice, patient):
    sync(
        patient,
        Patient=[us_core_patient()],
        Observation=[us_core_lab()],
        Condition=[us_core_condition()],
    )
    sign_in_fully(client, alice)

    labs = client.get("/patient/records/labs/").content.decode()
    problems = client.get("/patient/records/problems/").content.decode()

    assert "Bilirubin, total" in labs
    assert "8.6" in labs
    assert "Single liveborn, born in hospital" in problems

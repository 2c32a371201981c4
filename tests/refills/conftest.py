"""Refills' cast: Carol (physician, prescriber) and Nina (nurse) treat Alice; nobody treats
Mallory. Alice's prescriptions are stored the real way (records.ingest)."""

import datetime as dt
from typing import Any

import pytest

from audit.context import AuditContext
from patients.models import CareTeam
from portal.access import clinic_today
from records.ingest import ingest
from refills import services
from refills.models import Pharmacy, Prescriber

CONTEXT = AuditContext(request_id="req-1", client_ip="192.0.2.7")
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
ALICE_FHIR = "pat-alice-1"
MALLORY_FHIR = "pat-mallory-1"


def prescription(
    fhir_id: str,
    *,
    rxnorm: str,
    name: str,
    patient: str = ALICE_FHIR,
    status: str = "active",
    repeats: int | None = 3,
    valid_days: int = 200,
    requester: str = "Dr Carol Chen",
) -> dict[str, Any]:
    today = clinic_today()
    resource: dict[str, Any] = {
        "resourceType": "MedicationRequest",
        "id": fhir_id,
        "meta": {"versionId": "1", "lastUpdated": "2026-09-01T10:00:00Z"},
        "status": status,
        "intent": "order",
        "medicationCodeableConcept": {
            "coding": [{"system": RXNORM, "code": rxnorm, "display": name.split()[0].lower()}],
            "text": name,
        },
        "subject": {"reference": f"Patient/{patient}"},
        "authoredOn": (today - dt.timedelta(days=100)).isoformat(),
        "requester": {"display": requester},
        "dosageInstruction": [{"text": "1 tablet a day"}],
        "dispenseRequest": {
            "validityPeriod": {
                "start": (today - dt.timedelta(days=100)).isoformat(),
                "end": (today + dt.timedelta(days=valid_days)).isoformat(),
            }
        },
    }
    if repeats is not None:
        resource["dispenseRequest"]["numberOfRepeatsAllowed"] = repeats
    return resource


ALICE_MEDICINES = [
    prescription("med-metformin", rxnorm="6809", name="Metformin 1000 mg oral tablet"),
    prescription("med-warfarin", rxnorm="11289", name="Warfarin 5 mg oral tablet"),
    prescription(
        "med-lisinopril", rxnorm="29046", name="Lisinopril 20 mg oral tablet", valid_days=-5
    ),
    prescription(
        "med-atorvastatin", rxnorm="83367", name="Atorvastatin 40 mg oral tablet", repeats=0
    ),
    prescription("med-oxycodone", rxnorm="7804", name="Oxycodone 5 mg oral tablet", repeats=0),
    prescription(
        "med-glipizide", rxnorm="4815", name="Glipizide 5 mg oral tablet", status="stopped"
    ),
]


def store(patient, fhir_id: str, resources: list[dict[str, Any]]) -> None:
    patient.fhir_id = fhir_id
    patient.save()
    ingest(
        patient=patient,
        resource_type="MedicationRequest",
        resources=resources,
        requested_patient_fhir_id=fhir_id,
    )


@pytest.fixture
def ward(alice, carol, nina):
    team = CareTeam.objects.create(name="Ward 3")
    team.members.add(carol, nina)
    team.patients.add(alice.patient)
    return team


@pytest.fixture
def pharmacy(db):
    return Pharmacy.objects.create(
        name="Corner Pharmacy", address="1 Main St", phone="555-0100", ncpdp_id="1234567"
    )


@pytest.fixture
def alice_medicines(ward, alice, carol, pharmacy):
    store(alice.patient, ALICE_FHIR, ALICE_MEDICINES)
    Prescriber.objects.create(user=carol, ehr_requester="Dr Carol Chen")


@pytest.fixture
def mallory_medicines(mallory):
    store(
        mallory.patient,
        MALLORY_FHIR,
        [prescription("med-mallory", rxnorm="6809", name="Metformin 500", patient=MALLORY_FHIR)],
    )


def ask(user, *ids: str, pharmacy=None, token=None, comment: str = "Running low"):
    import uuid

    return services.refill_request_create(
        actor=user,
        patient_id=user.patient_id,
        medication_request_ids=list(ids),
        pharmacy_id=(pharmacy or Pharmacy.objects.first()).pk,
        comment=comment,
        submit_token=token or uuid.uuid4(),
        context=CONTEXT,
    )


@pytest.fixture
def metformin_request(alice_medicines, alice):
    return ask(alice, "med-metformin")

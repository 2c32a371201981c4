"""HL7's official R4 examples, served by a real FHIR server, sync and render.

Every example of a shown type that names one of the example Patients is
fetched by the real sync (SMART token, paged per-patient searches), stored
without quarantine, and shows on the clinician's page for its type.
"""

import json
from collections import Counter
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils.html import escape

from patients.models import CareTeam, Patient, PatientDemographics
from portal.crypto.scope import key_scope
from portal.fhir import FhirClient
from records.demographics import from_fhir_patient
from records.models import FhirRecord, Quarantine
from records.sync import SYNCED_TYPES, sync_patient
from tests.conftest import sign_in_fully

pytestmark = pytest.mark.django_db

# The page that lists each type, and the display field that names an item.
PAGES = {
    "Observation": ("records:labs", "code"),
    "DiagnosticReport": ("records:labs", "code"),
    "Encounter": ("records:visits", "type"),
    "DocumentReference": ("records:visits", "type"),
    "Condition": ("records:problems", "code"),
    "MedicationRequest": ("records:medications", "medication"),
    "MedicationStatement": ("records:medications", "medication"),
    "AllergyIntolerance": ("records:allergies", "code"),
    "Immunization": ("records:immunizations", "code"),
}


def is_synced(resource: dict) -> bool:
    """Whether the portal asks for this example (of its type, the category it narrows to)."""
    narrowing = SYNCED_TYPES.get(resource["resourceType"])
    if narrowing is None:
        return False
    wanted = narrowing.get("category")
    return wanted is None or any(
        coding.get("code") == wanted
        for category in resource.get("category") or []
        for coding in category.get("coding") or []
    )


def as_sent(value):
    """The example's JSON with decimals as Decimal, the way the FHIR client parses them."""
    return json.loads(json.dumps(value), parse_float=Decimal)


@pytest.fixture
def synced_examples(ehr_server, carol):
    """Each example patient synced into the portal, on carol's care team."""
    team = CareTeam.objects.create(name="HL7 examples")
    team.members.add(carol)
    expected: dict[Patient, list[dict]] = {}
    with FhirClient(ehr_server.fhir_config(), smart=ehr_server.smart_config()) as client:
        for reference, resources in ehr_server.examples.items():
            patient = Patient.objects.create(fhir_id=reference.removeprefix("Patient/"))
            team.patients.add(patient)
            result = sync_patient(patient=patient, client=client)
            assert result.ok, (reference, result.failed)
            expected[patient] = [r for r in resources if is_synced(r)]
    return expected


def test_every_shown_example_is_stored_exactly_as_served(synced_examples):
    assert sum(len(items) for items in synced_examples.values()) > 20  # the set is really there
    for patient, resources in synced_examples.items():
        stored = {
            (row.resource_type, row.fhir_id): row
            for row in FhirRecord.objects.filter(patient=patient)
        }
        assert set(stored) == {(r["resourceType"], r["id"]) for r in resources}, patient.fhir_id
        for resource in resources:
            row = stored[(resource["resourceType"], resource["id"])]
            served = {k: as_sent(v) for k, v in resource.items() if k != "meta"}
            kept = {k: v for k, v in row.resource.items() if k != "meta"}
            assert kept == served, (resource["resourceType"], resource["id"])
    assert not Quarantine.objects.exists()


def test_each_example_patients_demographics_come_from_their_patient_resource(
    synced_examples, ehr_server
):
    expected = {
        patient: from_fhir_patient(ehr_server.examples[f"Patient/{patient.fhir_id}"][0])
        for patient in synced_examples
    }
    mrns = Counter(values["mrn"] for values in expected.values() if values["mrn"])
    with key_scope():
        rows = {row.patient: row for row in PatientDemographics.objects.all()}
    for patient, values in expected.items():
        if mrns[values["mrn"]] > 1:
            continue  # checked below
        row = rows[patient]
        assert (row.given_name, row.family_name, row.birth_date, row.mrn) == (
            values["given_name"],
            values["family_name"],
            values["birth_date"],
            values["mrn"],
        ), patient.fhir_id
    # Two examples ("example" and "xcda") share MRN 12345 under different systems: an MRN
    # is unique within its system, so both keep it; within one system it never repeats.
    for mrn in (m for m, n in mrns.items() if n > 1):
        holders = [p for p, v in expected.items() if v["mrn"] == mrn and p in rows]
        systems = [rows[p].mrn_system for p in holders]
        assert len(holders) >= 2, (mrn, systems)
        assert len(set(systems)) == len(systems), (mrn, systems)
        for holder in holders:
            assert (rows[holder].mrn, rows[holder].mrn_system) == (
                expected[holder]["mrn"],
                expected[holder]["mrn_system"],
            )


def test_every_shown_example_renders_on_its_page(synced_examples, client, carol):
    sign_in_fully(client, carol)
    for patient, resources in synced_examples.items():
        pages: dict[str, str] = {}
        for resource in resources:
            url_name, name_field = PAGES[resource["resourceType"]]
            if url_name not in pages:
                response = client.get(reverse(url_name, args=[patient.pk]))
                assert response.status_code == 200, (url_name, patient.fhir_id)
                pages[url_name] = response.content.decode()
            row = FhirRecord.objects.get(
                patient=patient, resource_type=resource["resourceType"], fhir_id=resource["id"]
            )
            name = row.display.get(name_field)
            if isinstance(name, list):  # an Encounter's types
                name = name[0] if name else row.display.get("class")
            if name:
                assert escape(name) in pages[url_name], (resource["resourceType"], resource["id"])

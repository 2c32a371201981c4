"""The demo patients' records have what the record pages show, and are valid FHIR."""

import base64
import datetime as dt
import json
from collections import Counter, defaultdict
from decimal import Decimal

import pytest

from ehr import demo_data
from portal.fhir import validate
from tests.ehr_fixtures import patient_reference

RESOURCES = demo_data.resources()


def of(resource_type: str, patient: str = demo_data.ALICE) -> list[dict]:
    return [
        r
        for r in RESOURCES
        if r["resourceType"] == resource_type and patient_reference(r) == f"Patient/{patient}"
    ]


def by_id() -> dict[str, dict]:
    return {f"{r['resourceType']}/{r['id']}": r for r in RESOURCES}


def codes(concept: dict) -> set[str]:
    return {coding["code"] for coding in concept["coding"]}


@pytest.mark.parametrize("resource", RESOURCES, ids=lambda r: f"{r['resourceType']}/{r['id']}")
def test_every_resource_is_valid_fhir_as_sent(resource):
    validate(json.loads(demo_data.dumps(resource), parse_float=Decimal))


def test_every_resource_names_its_patient_by_reference():
    patients = {f"Patient/{r['id']}" for r in RESOURCES if r["resourceType"] == "Patient"}

    assert patients == {
        f"Patient/{demo_data.ALICE}",
        f"Patient/{demo_data.MALLORY}",
        f"Patient/{demo_data.ROSA}",
        f"Patient/{demo_data.LEO}",
    }
    for resource in RESOURCES:
        if resource["resourceType"] != "Patient":
            assert patient_reference(resource) in patients, resource["id"]


def test_ids_are_unique_and_the_output_is_the_same_every_time():
    keys = list(by_id())

    assert len(keys) == len(set(keys))
    assert demo_data.dumps(demo_data.resources()) == demo_data.dumps(RESOURCES)


def test_it_writes_decimals_digit_for_digit():
    text = demo_data.dumps({"value": Decimal("7.10"), "low": Decimal("0.40"), "n": 3})

    assert text == '{"value":7.10,"low":0.40,"n":3}'
    assert '"value":7.10' in demo_data.dumps(RESOURCES)


def test_alice_has_several_dated_results_per_lab_test_with_ranges_and_flags():
    series = defaultdict(list)
    for observation in of("Observation"):
        if codes(observation["category"][0]) == {"laboratory"}:
            series[observation["code"]["coding"][0]["code"]].append(observation)

    hba1c = sorted(o["effectiveDateTime"] for o in series["4548-4"])
    assert len(series) >= 10
    assert len(hba1c) >= 5
    assert int(hba1c[-1][:4]) - int(hba1c[0][:4]) >= 1
    assert sum(len(results) >= 3 for results in series.values()) >= 9
    flags = Counter()
    for observation in (o for results in series.values() for o in results):
        assert observation["valueQuantity"]["system"] == "http://unitsofmeasure.org"
        assert observation["referenceRange"][0].keys() & {"low", "high"}
        flags.update(codes(observation["interpretation"][0]))
    assert flags.keys() == {"H", "L", "N"}


def test_alice_has_vital_signs():
    vitals = [o for o in of("Observation") if codes(o["category"][0]) == {"vital-signs"}]

    assert {o["code"]["coding"][0]["code"] for o in vitals} >= {"85354-9", "8867-4", "29463-7"}


def test_every_encounter_has_diagnoses_and_a_plain_text_visit_note():
    resources = by_id()
    for patient in (demo_data.ALICE, demo_data.MALLORY):
        notes = {
            note["context"]["encounter"][0]["reference"]: note
            for note in of("DocumentReference", patient)
        }
        for encounter in of("Encounter", patient):
            key = f"Encounter/{encounter['id']}"
            assert encounter["reasonCode"]
            assert encounter["period"]["start"] < encounter["period"]["end"]
            assert encounter["serviceProvider"]["display"]
            for diagnosis in encounter["diagnosis"]:
                assert resources[diagnosis["condition"]["reference"]]["resourceType"] == "Condition"
            attachment = notes[key]["content"][0]["attachment"]
            assert attachment["contentType"] == "text/plain"
            assert base64.b64decode(attachment["data"]).decode().strip()
            assert codes(notes[key]["type"]) <= {"11506-3", "18842-5"}


def test_alice_was_admitted_through_the_emergency_department_and_discharged_home():
    (stay,) = [e for e in of("Encounter") if e["class"]["code"] == "IMP"]
    (summary,) = [d for d in of("DocumentReference") if codes(d["type"]) == {"18842-5"}]

    assert codes(stay["hospitalization"]["dischargeDisposition"]) == {"home"}
    assert summary["context"]["encounter"][0]["reference"] == f"Encounter/{stay['id']}"


def test_conditions_are_problems_and_diagnoses_some_resolved():
    kinds = Counter()
    for condition in of("Condition"):
        kinds[(*codes(condition["category"][0]), *codes(condition["clinicalStatus"]))] += 1

    assert kinds[("problem-list-item", "active")] >= 3
    assert kinds[("encounter-diagnosis", "resolved")] >= 1


def test_medications_are_active_and_stopped_with_instructions():
    requests = of("MedicationRequest")

    assert {r["status"] for r in requests} >= {"active", "stopped", "completed"}
    assert all(r["dosageInstruction"][0]["text"] for r in requests)


def test_allergies_carry_reactions_severity_and_criticality():
    for patient in (demo_data.ALICE, demo_data.MALLORY):
        for allergy in of("AllergyIntolerance", patient):
            assert allergy["criticality"] in {"low", "high", "unable-to-assess"}
            assert allergy["reaction"][0]["severity"] in {"mild", "moderate", "severe"}
            assert allergy["reaction"][0]["manifestation"]


def test_immunizations_are_cvx_coded_over_several_years():
    immunizations = of("Immunization")

    assert all(
        i["vaccineCode"]["coding"][0]["system"] == "http://hl7.org/fhir/sid/cvx"
        for i in immunizations
    )
    assert len({i["occurrenceDateTime"][:4] for i in immunizations}) >= 4


def test_alice_has_the_richer_record():
    count = Counter(patient_reference(r) for r in RESOURCES)

    assert count[f"Patient/{demo_data.ALICE}"] > 2 * count[f"Patient/{demo_data.MALLORY}"]
    for resource_type in ("Encounter", "Condition", "MedicationRequest", "AllergyIntolerance"):
        assert of(resource_type, demo_data.MALLORY)


def test_a_seed_adds_alice_a_discharge_two_days_before_its_day_and_only_then():
    today = dt.date(2026, 11, 30)
    seeded = demo_data.resources(today=today)
    added = [r for r in seeded if r not in RESOURCES]
    (stay,) = [r for r in added if r["resourceType"] == "Encounter"]
    (summary,) = [r for r in added if r["resourceType"] == "DocumentReference"]
    known = {f"{r['resourceType']}/{r['id']}" for r in seeded}

    for resource in added:
        validate(json.loads(demo_data.dumps(resource), parse_float=Decimal))
        assert patient_reference(resource) == f"Patient/{demo_data.ALICE}"
    assert (stay["status"], stay["class"]["code"]) == ("finished", "IMP")
    assert stay["period"]["end"].startswith("2026-11-28T")
    assert stay["id"].endswith("20261128")  # a later seed replaces it, never moves it
    assert summary["context"]["encounter"][0]["reference"] == f"Encounter/{stay['id']}"
    assert all(d["condition"]["reference"] in known for d in stay["diagnosis"])
    assert len(seeded) == len({*known}) == len(RESOURCES) + 2
    assert demo_data.resources() == RESOURCES  # without a day: the fixed demo

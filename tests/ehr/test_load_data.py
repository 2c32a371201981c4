"""The load-test patients' records: valid FHIR, a trend for every lab test, their own ids."""

import json
from collections import Counter
from decimal import Decimal

import pytest

from ehr import demo_data, load_data, seed
from portal.fhir import validate
from tests.ehr_fixtures import patient_reference

RESOURCES = load_data.resources()


@pytest.mark.parametrize("n", [1, 26, load_data.COUNT])
def test_every_resource_of_a_load_test_patient_is_valid_fhir_as_sent(n):
    for resource in load_data.chart(n):
        validate(json.loads(demo_data.dumps(resource), parse_float=Decimal))


def test_there_are_fifty_patients_with_ids_of_their_own():
    patients = [r["id"] for r in RESOURCES if r["resourceType"] == "Patient"]
    assert patients == [load_data.fhir_id(n) for n in range(1, 51)]
    keys = [(r["resourceType"], r["id"]) for r in RESOURCES]
    assert len(keys) == len(set(keys))
    assert not set(keys) & {(r["resourceType"], r["id"]) for r in demo_data.resources()}


def test_every_resource_names_its_own_patient():
    for n in (1, load_data.COUNT):
        for resource in load_data.chart(n)[1:]:
            assert patient_reference(resource) == f"Patient/{load_data.fhir_id(n)}"


def test_every_lab_test_has_a_trend_and_patients_differ():
    labs = [r for r in load_data.chart(3) if r["resourceType"] == "Observation"]
    per_test = Counter(r["code"]["coding"][0]["code"] for r in labs)
    assert len(per_test) == len(load_data.LABS)
    assert set(per_test.values()) == {len(load_data.LAB_DAYS)}
    values = {
        n: [r["valueQuantity"]["value"] for r in load_data.chart(n) if "valueQuantity" in r]
        for n in (1, 2)
    }
    assert values[1] != values[2]


def test_the_records_depend_on_nothing_but_the_patient_number():
    assert demo_data.dumps(load_data.resources()) == demo_data.dumps(RESOURCES)


def test_seeding_finds_what_it_stored_across_search_batches(ehr_server):
    # More patients than one search batch holds: a second seed writes nothing.
    wanted = [r for n in range(1, seed.SEARCH_BATCH + 3) for r in load_data.chart(n)]
    first = seed.seed(ehr_server.writer, wanted)

    again = seed.seed(ehr_server.writer, wanted)

    assert first["written"] == len(wanted)
    assert again == {"unchanged": len(wanted), "written": 0, "deleted": 0}

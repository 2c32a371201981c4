"""Searches the portal's sync relies on, against the real server."""

import time
from decimal import Decimal

import pytest

from ehr import demo_data, seed
from portal.fhir import FhirClient
from tests.ehr_fixtures import SHOWN_TYPES

LAB = "http://terminology.hl7.org/CodeSystem/observation-category|laboratory"


@pytest.fixture(scope="module")
def demo(ehr_server) -> list[dict]:
    resources = demo_data.resources()
    seed.seed(ehr_server.writer, resources)
    return resources


@pytest.fixture
def fhir(ehr_server):
    with FhirClient(ehr_server.fhir_config(), smart=ehr_server.smart_config()) as client:
        yield client


def ids(resources) -> list[str]:
    return [r["id"] for r in resources]


def observation(rid: str, patient: str, value: str = "5.0") -> dict:
    return {
        "resourceType": "Observation",
        "id": rid,
        "status": "final",
        "code": {"text": "Potassium"},
        "subject": {"reference": f"Patient/{patient}"},
        "valueQuantity": {"value": Decimal(value), "unit": "mmol/L"},
    }


def test_it_follows_next_links_through_every_page(fhir, demo):
    expected = [
        r["id"]
        for r in demo
        if r["resourceType"] == "Observation" and r["subject"]["reference"].endswith("-alice")
    ]

    found = ids(fhir.search("Observation", {"patient": demo_data.ALICE, "_count": "7"}))

    assert len(expected) > 7 * 10
    assert sorted(found) == sorted(expected)


@pytest.mark.parametrize("resource_type", SHOWN_TYPES)
def test_it_finds_each_example_patients_resources_by_patient(ehr_server, fhir, resource_type):
    for reference, group in ehr_server.examples.items():
        expected = sorted(r["id"] for r in group if r["resourceType"] == resource_type)

        by_reference = ids(fhir.search(resource_type, {"patient": reference}))
        by_id = ids(fhir.search(resource_type, {"patient": reference.removeprefix("Patient/")}))

        assert sorted(by_reference) == sorted(by_id) == expected, reference


def test_it_finds_only_laboratory_results_by_category(fhir, demo):
    labs = ids(fhir.search("Observation", {"patient": demo_data.ALICE, "category": "laboratory"}))
    with_system = ids(fhir.search("Observation", {"patient": demo_data.ALICE, "category": LAB}))
    vitals = ids(
        fhir.search("Observation", {"patient": demo_data.ALICE, "category": "vital-signs"})
    )

    assert labs
    assert vitals
    assert sorted(labs) == sorted(with_system)
    assert all("-lab-" in rid for rid in labs)
    assert not set(labs) & set(vitals)
    assert len(labs) + len(vitals) == len(
        ids(fhir.search("Observation", {"patient": demo_data.ALICE}))
    )


def test_it_finds_only_what_changed_after_a_last_updated_time(ehr_server, fhir):
    (first,) = ehr_server.load([observation("ehr-test-since-1", "ehr-test-since")])
    time.sleep(0.01)
    (second,) = ehr_server.load([observation("ehr-test-since-2", "ehr-test-since")])
    params = {"patient": "ehr-test-since"}

    after_first = ids(
        fhir.search("Observation", params | {"_lastUpdated": f"gt{first['meta']['lastUpdated']}"})
    )
    from_first = ids(
        fhir.search("Observation", params | {"_lastUpdated": f"ge{first['meta']['lastUpdated']}"})
    )
    after_second = ids(
        fhir.search("Observation", params | {"_lastUpdated": f"gt{second['meta']['lastUpdated']}"})
    )

    assert after_first == ["ehr-test-since-2"]
    assert sorted(from_first) == ["ehr-test-since-1", "ehr-test-since-2"]
    assert after_second == []


def test_it_gives_each_write_a_new_version_and_time(ehr_server, fhir):
    (first,) = ehr_server.load([observation("ehr-test-version", "ehr-test-version", "4.1")])
    time.sleep(0.01)
    (second,) = ehr_server.load([observation("ehr-test-version", "ehr-test-version", "4.2")])

    (found,) = fhir.search("Observation", {"_id": "ehr-test-version"})

    assert (first["meta"]["versionId"], second["meta"]["versionId"]) == ("1", "2")
    assert second["meta"]["lastUpdated"] > first["meta"]["lastUpdated"]
    assert found["meta"] == second["meta"]


def test_it_keeps_decimal_values_but_not_their_trailing_zeros(ehr_server, fhir):
    ehr_server.load([observation("ehr-test-decimal", "ehr-test-decimal", "7.10")])

    (found,) = fhir.search("Observation", {"_id": "ehr-test-decimal"})

    assert found["valueQuantity"]["value"] == Decimal("7.10")
    # sekmet parses JSON numbers as floats and writes them back: 7.10 comes out as 7.1.
    assert str(found["valueQuantity"]["value"]) == "7.1"


def test_seeding_twice_changes_nothing_the_second_time(ehr_server, fhir, demo):
    before = {r["id"]: r["meta"] for r in fhir.search("Condition", {"patient": demo_data.ALICE})}

    counts = seed.seed(ehr_server.writer, demo)

    after = {r["id"]: r["meta"] for r in fhir.search("Condition", {"patient": demo_data.ALICE})}
    assert counts == {"unchanged": len(demo), "written": 0, "deleted": 0}
    assert after == before


def test_seeding_rewrites_what_changed_and_deletes_what_went(ehr_server, fhir, demo):
    gone, changed = demo[-1], dict(demo[-2], status="entered-in-error")
    try:
        counts = seed.seed(ehr_server.writer, [*demo[:-2], changed])

        assert counts == {"unchanged": len(demo) - 2, "written": 1, "deleted": 1}
        assert not list(fhir.search(gone["resourceType"], {"_id": gone["id"]}))
    finally:
        assert seed.seed(ehr_server.writer, demo)["written"] == 2


def test_a_write_while_paging_skips_one_resource_and_repeats_another(ehr_server, fhir):
    # sekmet pages by offset over write order; see ehr/__init__.py for what a sync must do.
    batch = [observation(f"ehr-test-paging-{n}", "ehr-test-paging") for n in range(10)]
    ehr_server.load(batch)
    pages = fhir.search("Observation", {"patient": "ehr-test-paging", "_count": "5"})

    seen = [next(pages)["id"] for _ in range(5)]
    ehr_server.load([dict(batch[0], status="amended")])
    seen += ids(pages)

    assert len(seen) == 10
    assert seen.count("ehr-test-paging-0") == 2
    assert "ehr-test-paging-5" not in seen


def test_a_search_bundle_says_when_it_was_made(ehr_server):
    (stored,) = ehr_server.load([observation("ehr-test-made", "ehr-test-made")])
    url = f"{ehr_server.base_url}/Observation?patient=ehr-test-made"

    status, bundle = ehr_server.writer.request("GET", url)

    assert status == 200
    assert bundle["meta"]["lastUpdated"] >= stored["meta"]["lastUpdated"]


def test_it_ignores_an_unknown_parameter_and_the_client_skips_its_remark(fhir, demo):
    found = list(fhir.search("Observation", {"patient": demo_data.ALICE, "no-such": "1"}))

    # sekmet says so in an entry with search.mode "outcome"; that is no result.
    assert [r for r in found if r["resourceType"] == "OperationOutcome"] == []
    assert len(found) == len(list(fhir.search("Observation", {"patient": demo_data.ALICE})))

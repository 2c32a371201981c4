"""The registry of record types: every type has one entry, and displays have its stated shape."""

import typing

import pytest

from portal.fhir import validate
from records.types import REGISTRY, SHORT_NAMES, SYNCED_TYPES, ResourceType, display_of
from tests.records import builders
from tests.records import resources as r

EXAMPLES = {
    ResourceType.OBSERVATION: r.lab(),
    ResourceType.DIAGNOSTIC_REPORT: builders.diagnostic_report(),
    ResourceType.ENCOUNTER: r.encounter(),
    ResourceType.DOCUMENT_REFERENCE: r.visit_note(),
    ResourceType.CONDITION: r.condition(),
    ResourceType.MEDICATION_REQUEST: builders.medication_request("med-1", name="Metformin"),
    ResourceType.MEDICATION_STATEMENT: builders.medication_statement("med-2", name="Aspirin"),
    ResourceType.ALLERGY_INTOLERANCE: r.allergy(),
    ResourceType.IMMUNIZATION: r.immunization(),
}


def test_it_has_one_entry_per_resource_type():
    assert set(REGISTRY) == set(ResourceType)
    assert set(SYNCED_TYPES) == set(ResourceType)
    assert set(EXAMPLES) == set(ResourceType)


def test_it_gives_every_type_a_distinct_short_name_of_its_own():
    shorts = [t.short for t in REGISTRY.values()]
    assert len(set(shorts)) == len(shorts)
    assert SHORT_NAMES["Patient"] == "Patient"


@pytest.mark.parametrize("resource_type", list(ResourceType))
def test_it_maps_each_type_to_the_shape_its_display_states(resource_type):
    resource = EXAMPLES[resource_type]
    validate(resource)
    shape = typing.get_type_hints(REGISTRY[resource_type].display)["return"]

    display = display_of(resource_type, resource)

    assert (
        shape.__required_keys__
        <= set(display)
        <= shape.__required_keys__ | (shape.__optional_keys__)
    )
    assert {"status", "effective"} <= set(display)


@pytest.mark.parametrize("resource_type", list(ResourceType))
def test_it_names_the_patient_where_each_type_does(resource_type):
    element = REGISTRY[resource_type].patient_element
    assert EXAMPLES[resource_type][element] == {"reference": f"Patient/{r.PATIENT_FHIR_ID}"}

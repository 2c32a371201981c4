"""validate(): R4B models decide, and the reason names no values."""

import pytest

from portal.fhir import InvalidResource, validate

GLUCOSE = {
    "resourceType": "Observation",
    "id": "f001",
    "status": "final",
    "category": [
        {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                    "code": "laboratory",
                }
            ]
        }
    ],
    "code": {"coding": [{"system": "http://loinc.org", "code": "15074-8", "display": "Glucose"}]},
    "subject": {"reference": "Patient/f001"},
    "effectivePeriod": {"start": "2013-04-02T09:30:10+01:00"},
    "issued": "2013-04-03T15:30:10+01:00",
    "valueQuantity": {
        "value": 6.3,
        "unit": "mmol/l",
        "system": "http://unitsofmeasure.org",
        "code": "mmol/L",
    },
    "interpretation": [
        {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation",
                    "code": "H",
                }
            ]
        }
    ],
    "referenceRange": [
        {"low": {"value": 3.1, "unit": "mmol/l"}, "high": {"value": 6.2, "unit": "mmol/l"}}
    ],
}


def test_it_accepts_a_valid_observation():
    model = validate(GLUCOSE)

    assert model.get_resource_type() == "Observation"
    assert model.valueQuantity.unit == "mmol/l"


def test_it_rejects_a_malformed_observation_without_quoting_it():
    broken = GLUCOSE | {"valueQuantity": {"value": "Jane Doe", "unit": "mmol/l"}}

    with pytest.raises(InvalidResource) as caught:
        validate(broken)
    assert caught.value.reason.startswith("invalid:valueQuantity.value")
    assert "Jane" not in str(caught.value)


def test_it_rejects_a_missing_required_field():
    broken = {key: value for key, value in GLUCOSE.items() if key != "status"}

    with pytest.raises(InvalidResource, match="status"):
        validate(broken)


@pytest.mark.parametrize("resource_type", [None, "NotAResource", "../etc", "observation"])
def test_it_rejects_an_unknown_resource_type(resource_type):
    with pytest.raises(InvalidResource):
        validate({"resourceType": resource_type})


# --- extensions on primitive values (US Core) -------------------------------------------

ABSENT = {
    "extension": [
        {
            "url": "http://hl7.org/fhir/StructureDefinition/data-absent-reason",
            "valueCode": "unknown",
        }
    ]
}
FLU_SHOT = {
    "resourceType": "Immunization",
    "id": "imm-1",
    "status": "completed",
    "vaccineCode": {"text": "Influenza vaccine"},
    "patient": {"reference": "Patient/f001"},
}


def test_it_accepts_an_extension_on_an_extensions_value():
    birthsex = {
        "url": "http://hl7.org/fhir/us/core/StructureDefinition/us-core-birthsex",
        "_valueCode": ABSENT,
    }
    patient = {"resourceType": "Patient", "id": "p1", "extension": [birthsex]}

    assert validate(patient).get_resource_type() == "Patient"
    assert patient["extension"] == [birthsex]  # the input is left as sent


def test_it_accepts_a_required_choice_sent_only_as_its_reason_and_keeps_it_absent():
    immunization = FLU_SHOT | {"_occurrenceDateTime": ABSENT}

    model = validate(immunization)

    assert model.occurrenceDateTime is None  # no stand-in leaves validate()
    assert "occurrenceDateTime" not in immunization


def test_it_still_rejects_a_required_choice_that_is_missing():
    with pytest.raises(InvalidResource):
        validate(FLU_SHOT)


def test_it_rejects_a_malformed_extension_on_an_extensions_value_without_quoting_it():
    extension = {
        "url": "http://example.org/x",
        "valueString": "a",
        "_valueString": {"id": ["Jane Doe"]},
    }

    with pytest.raises(InvalidResource) as caught:
        validate({"resourceType": "Patient", "id": "p1", "extension": [extension]})
    assert "extension.0._valueString" in caught.value.reason
    assert "Jane" not in str(caught.value)

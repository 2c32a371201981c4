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

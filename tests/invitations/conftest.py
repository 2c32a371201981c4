import pytest

from audit.context import NO_CONTEXT
from invitations import services
from invitations.ehr import from_resource

MRN_SYSTEM = "https://clinic.example.org/mrn"


def patient_resource(
    fhir_id: str = "inv-pat-1",
    *,
    family: str = "Delgado",
    given: str = "Rosa",
    birth: str = "1954-11-02",
    mrn: str = "MRN-1",
    system: str = MRN_SYSTEM,
    email: str | None = None,
) -> dict:
    resource = {
        "resourceType": "Patient",
        "id": fhir_id,
        "identifier": [
            {
                "type": {
                    "coding": [
                        {"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}
                    ]
                },
                "system": system,
                "value": mrn,
            }
        ],
        "name": [{"use": "official", "family": family, "given": [given]}],
        "birthDate": birth,
        "address": [{"use": "home", "line": ["3 Placeholder Road"], "city": "Springfield"}],
    }
    if email:
        resource["telecom"] = [{"system": "email", "value": email}]
    return resource


@pytest.fixture
def issue(fran):
    """Invite a patient from a Patient resource, as the desk does after the EHR search."""

    def issue_(fhir_id: str = "inv-pat-1", *, resource: dict | None = None, **kwargs):
        found = from_resource(resource or patient_resource(fhir_id, **kwargs))
        assert found is not None
        return services.invite(actor=fran, context=NO_CONTEXT, found=found)

    return issue_

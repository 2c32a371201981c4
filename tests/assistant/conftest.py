"""The assistant's cast: Carol (physician) and Nina (nurse) treat Alice on Ward 3; Dave
treats nobody; Mallory is another patient nobody here treats."""

import pytest

from audit.context import AuditContext
from patients.models import CareTeam, PatientDemographics

CONTEXT = AuditContext(request_id="req-assistant-1", client_ip="192.0.2.9")


@pytest.fixture
def ward(alice, carol, nina):
    team = CareTeam.objects.create(name="Ward 3")
    team.members.add(carol, nina)
    team.patients.add(alice.patient)
    PatientDemographics.objects.create(
        patient=alice.patient, given_name="Alice", family_name="Anders"
    )
    return team

import pytest
import time_machine

from patients.models import CareTeam
from tests.appointments import builders


@pytest.fixture
def clinic(db, carol):
    """Carol sees patients Monday to Friday, 09:00-12:00 New York time, 30-minute visits."""
    place = builders.location()
    kind = builders.visit_type()
    builders.weekdays(carol, place, kind)
    return place, kind


@pytest.fixture
def monday():
    with time_machine.travel(builders.MONDAY, tick=False) as traveller:
        yield traveller


@pytest.fixture
def ward(alice, carol):
    team = CareTeam.objects.create(name="Ward 3")
    team.members.add(carol)
    team.patients.add(alice.patient)
    return team

"""`make run`'s demo: clinicians with hours for the next 90 days, and a booked visit."""

import datetime as dt
import io

import pytest
from django.core.management import call_command
from django.utils import timezone

from accounts.models import User
from appointments.models import Appointment, VisitType
from appointments.slots import open_slots

pytestmark = pytest.mark.django_db


def load(tmp_path):
    # The load-test patients (tests/accounts/test_load_demo.py) are beside the point here.
    call_command(
        "load_demo",
        accounts_file=str(tmp_path / "accounts.json"),
        load_patients=0,
        stdout=io.StringIO(),
    )


def test_it_gives_the_demo_clinicians_open_slots_and_alice_an_appointment(tmp_path):
    load(tmp_path)
    load(tmp_path)  # idempotent: nothing doubled

    now = timezone.now()
    for kind in VisitType.objects.all():
        slots = open_slots(visit_type=kind, earliest=now, latest=now + dt.timedelta(days=90))
        assert slots, kind.name
        assert slots[-1].starts_at > now + dt.timedelta(days=80)
    alice = User.objects.get(username="alice")
    (booked,) = Appointment.objects.filter(patient=alice.patient)
    assert booked.starts_at > now + dt.timedelta(days=7)

"""`make run`'s demo: after the first sync from the demo EHR (seeded today), alice has a due
check-in for her recent discharge, and only for it (her old pneumonia stay is long past)."""

import datetime as dt
import io

import pytest
from django.core.management import call_command

from accounts.models import User
from assistant import checkins
from assistant.models import CheckIn
from ehr import demo_data
from records.sync import sync_patient
from tests.fake_ehr import Reply, bundle
from tests.records.resources import _meta

pytestmark = pytest.mark.django_db

TODAY = dt.date(2026, 11, 30)


def demo_ehr(ehr, today: dt.date) -> None:
    """Serves alice's demo record (labs aside) as `make run`'s seed writes it on `today`."""
    mine = f"Patient/{demo_data.ALICE}"
    served = [
        {**r, "meta": _meta("1", f"{today}T06:00:00Z")}
        for r in demo_data.resources(today=today)
        if r["resourceType"] != "Observation"  # more than a page, and this server does not page
        and (
            r["id"] == demo_data.ALICE
            or (r.get("subject") or r.get("patient") or {}).get("reference") == mine
        )
    ]

    def app(request):
        resource_type = request.path.rsplit("/", 1)[-1]
        return Reply(body=bundle([r for r in served if r["resourceType"] == resource_type]))

    ehr.app = app


def test_alice_has_a_due_check_in_after_the_first_sync(
    tmp_path, ehr, fhir_client_for, time_machine, django_capture_on_commit_callbacks
):
    time_machine.move_to(dt.datetime.combine(TODAY, dt.time(7), dt.UTC), tick=False)
    call_command("load_demo", accounts_file=str(tmp_path / "accounts.json"), stdout=io.StringIO())
    alice = User.objects.get(username="alice")
    demo_ehr(ehr, TODAY)

    with django_capture_on_commit_callbacks(execute=True):
        result = sync_patient(patient=alice.patient, client=fhir_client_for(ehr))

    assert result.failed == {}
    (due,) = checkins.due_checkins(actor=alice, patient_id=alice.patient_id)
    assert due.day == 2
    assert due.encounter_id == f"{demo_data.ALICE}-enc-discharge-20261128"
    assert CheckIn.objects.filter(patient=alice.patient).count() == 3

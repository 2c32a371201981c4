"""Scheduling post-discharge check-ins from what the records sync brings: three for a finished
inpatient or emergency stay, none again on a re-sync, none for anything else."""

import datetime as dt

import pytest

from assistant import checkin_tasks, checkins
from assistant.models import CheckIn, CheckInStatus
from audit.actions import Action
from records.sync import sync_patient
from tests.assistant.checkin_helpers import AFTER, DISCHARGED, UTC, discharged, stay
from tests.audit_helpers import events
from tests.fake_ehr import Reply, bundle
from tests.records import resources as r

pytestmark = pytest.mark.django_db


@pytest.fixture
def patient(alice):
    alice.patient.fhir_id = r.PATIENT_FHIR_ID
    alice.patient.save()
    return alice.patient


def serving(ehr, encounters):
    def app(request):
        if request.path.endswith("/Encounter"):
            return Reply(body=bundle(encounters))
        return Reply(body=bundle([]))

    ehr.app = app


def sync(patient, ehr, fhir_client_for, capture):
    with capture(execute=True):
        return sync_patient(patient=patient, client=fhir_client_for(ehr))


def scheduled(patient) -> list[tuple[str, int, dt.datetime, dt.datetime]]:
    return list(
        CheckIn.objects.filter(patient=patient)
        .order_by("day")
        .values_list("encounter_id", "day", "due_at", "closes_at")
    )


def test_a_synced_discharge_schedules_three_check_ins_from_the_start_of_each_day(
    patient, ehr, fhir_client_for, django_capture_on_commit_callbacks, time_machine, settings
):
    settings.PORTAL_TIME_ZONE = "America/New_York"  # 15:00 UTC is 10:00 there, on the 20th
    time_machine.move_to(AFTER, tick=False)
    serving(ehr, [stay()])

    sync(patient, ehr, fhir_client_for, django_capture_on_commit_callbacks)

    def midnight_in_new_york(day: int) -> dt.datetime:
        return dt.datetime(2026, 11, day, 5, 0, tzinfo=UTC)  # EST is UTC-5

    open_for = dt.timedelta(hours=96)
    assert scheduled(patient) == [
        ("enc-stay-1", 2, midnight_in_new_york(22), midnight_in_new_york(22) + open_for),
        ("enc-stay-1", 7, midnight_in_new_york(27), midnight_in_new_york(27) + open_for),
        (
            "enc-stay-1",
            14,
            dt.datetime(2026, 12, 4, 5, 0, tzinfo=UTC),
            dt.datetime(2026, 12, 8, 5, 0, tzinfo=UTC),
        ),
    ]
    assert set(CheckIn.objects.values_list("status", flat=True)) == {CheckInStatus.PENDING}
    made = events(action=Action.CHECKIN_SCHEDULED)
    assert sorted(e.object_id for e in made) == sorted(str(c.pk) for c in CheckIn.objects.all())
    assert {(e.patient_id, e.object_type, e.actor_id) for e in made} == {
        (patient.pk, "CheckIn", None)
    }


def test_a_re_sync_adds_none_even_when_the_stay_changed(
    patient, ehr, fhir_client_for, django_capture_on_commit_callbacks, time_machine
):
    time_machine.move_to(AFTER, tick=False)
    serving(ehr, [stay()])
    sync(patient, ehr, fhir_client_for, django_capture_on_commit_callbacks)
    first = scheduled(patient)

    sync(patient, ehr, fhir_client_for, django_capture_on_commit_callbacks)  # unchanged
    serving(ehr, [stay(version="2", updated="2026-11-20T17:00:00Z")])
    sync(patient, ehr, fhir_client_for, django_capture_on_commit_callbacks)  # changed

    assert scheduled(patient) == first
    assert len(events(action=Action.CHECKIN_SCHEDULED)) == 3


@pytest.mark.parametrize(
    "encounter",
    [
        stay(klass="AMB"),  # a clinic visit
        stay(klass="VR"),  # a video visit
        stay(status="in-progress", end=None),  # still in hospital
        stay(status="in-progress"),  # an end planned, not finished
        stay(status="cancelled"),
        stay(end=None),  # finished, but no end to count from
    ],
    ids=["ambulatory", "virtual", "in-progress", "planned-end", "cancelled", "no-end"],
)
def test_a_visit_or_an_unfinished_stay_schedules_none(
    patient, ehr, fhir_client_for, django_capture_on_commit_callbacks, time_machine, encounter
):
    time_machine.move_to(AFTER, tick=False)
    serving(ehr, [encounter])

    sync(patient, ehr, fhir_client_for, django_capture_on_commit_callbacks)

    assert scheduled(patient) == []


@pytest.mark.parametrize("klass", ["IMP", "ACUTE", "NONAC", "EMER", "OBSENC"])
def test_every_inpatient_and_emergency_class_counts(patient, klass):
    assert len(discharged(patient, klass=klass)) == 3


def test_an_old_discharge_schedules_none_and_a_recent_one_only_what_is_still_open(patient):
    assert discharged(patient, at=DISCHARGED + dt.timedelta(days=15)) == []

    made = discharged(patient, at=DISCHARGED + dt.timedelta(days=8), fhir_id="enc-stay-2")

    # Day 2 closed on day 6; day 7 is open, day 14 to come.
    assert [c.day for c in made] == [7, 14]


def test_it_counts_a_date_only_end_from_that_day(patient, settings):
    settings.PORTAL_TIME_ZONE = "UTC"

    made = discharged(patient, end="2026-11-20")

    assert made[0].due_at == dt.datetime(2026, 11, 22, tzinfo=UTC)


def test_it_reads_only_the_given_encounters_of_the_given_patient(patient, mallory):
    discharged(patient)
    CheckIn.objects.all().delete()

    # Alice's stay, asked about for mallory, or another id for alice: nothing.
    assert (
        checkins.checkins_schedule(
            patient_id=mallory.patient_id, encounter_ids=["enc-stay-1"], now=AFTER
        )
        == []
    )
    assert (
        checkins.checkins_schedule(patient_id=patient.pk, encounter_ids=["enc-other"], now=AFTER)
        == []
    )
    assert not CheckIn.objects.exists()


@pytest.mark.parametrize("status", ["entered-in-error", "cancelled"])
def test_a_stay_the_ehr_voids_withdraws_its_waiting_check_ins_but_keeps_answered_ones(
    patient, ehr, fhir_client_for, django_capture_on_commit_callbacks, time_machine, status
):
    time_machine.move_to(AFTER, tick=False)
    serving(ehr, [stay()])
    sync(patient, ehr, fhir_client_for, django_capture_on_commit_callbacks)
    CheckIn.objects.filter(day=2).update(status=CheckInStatus.ANSWERED)

    serving(ehr, [stay(status=status, version="2", updated="2026-11-20T17:00:00Z")])
    sync(patient, ehr, fhir_client_for, django_capture_on_commit_callbacks)

    assert dict(CheckIn.objects.values_list("day", "status")) == {
        2: CheckInStatus.ANSWERED,
        7: CheckInStatus.WITHDRAWN,
        14: CheckInStatus.WITHDRAWN,
    }
    assert len(events(action=Action.CHECKIN_WITHDRAWN)) == 2
    assert checkin_tasks.checkins_sweep(now=DISCHARGED + dt.timedelta(days=20)).escalated == 0

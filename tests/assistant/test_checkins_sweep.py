"""The periodic sweep: one notice per due check-in (no PHI), one routine alert for a check-in
unanswered 48 hours after it became due, and check-ins past their window marked missed."""

import datetime as dt

import pytest
from django.core import mail
from django.db import connection

from assistant import checkin_tasks, checkins
from assistant.models import AlertKind, AlertPriority, CareAlert, CheckIn, CheckInStatus
from audit.actions import Action
from tests.assistant.checkin_helpers import answers, discharged
from tests.audit_helpers import events
from tests.records import resources as r

pytestmark = pytest.mark.django_db

UTC = dt.UTC
DUE = dt.datetime(2026, 11, 22, tzinfo=UTC)  # day 2 (PORTAL_TIME_ZONE is UTC in tests)


@pytest.fixture
def day_2(alice, ward):
    alice.patient.fhir_id = r.PATIENT_FHIR_ID
    alice.patient.save()
    return discharged(alice.patient)[0]


def queued_notices() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT args->>'checkin_id' FROM procrastinate_jobs "
            "WHERE task_name = 'assistant.send_checkin_notice' ORDER BY id"
        )
        return [row[0] for row in cursor.fetchall()]


def test_it_queues_one_notice_when_a_check_in_becomes_due(day_2):
    assert checkin_tasks.checkins_sweep(now=DUE - dt.timedelta(minutes=1)).notified == 0
    assert queued_notices() == []

    assert checkin_tasks.checkins_sweep(now=DUE + dt.timedelta(minutes=5)).notified == 1
    assert checkin_tasks.checkins_sweep(now=DUE + dt.timedelta(minutes=20)).notified == 0

    assert queued_notices() == [str(day_2.pk)]
    assert CheckIn.objects.get(pk=day_2.pk).notified_at == DUE + dt.timedelta(minutes=5)


def test_the_notice_carries_no_phi(day_2, alice):
    checkin_tasks.checkins_sweep(now=DUE)

    assert checkin_tasks.send_checkin_notice_now(str(day_2.pk))

    (sent,) = mail.outbox
    assert sent.to == [alice.email]
    assert sent.subject == "A check-in is waiting in the portal"
    assert f"/patient/assistant/checkins/{day_2.pk}/" in sent.body
    text = (sent.subject + sent.body).lower()
    for phi in ("alice", "anders", "hospital", "pneumonia", "canary", "discharge", "day 2", "enc-"):
        assert phi not in text, phi


def test_no_notice_goes_to_an_answered_check_in_or_a_patient_without_an_account(day_2, alice):
    checkin_tasks.checkins_sweep(now=DUE)
    CheckIn.objects.filter(pk=day_2.pk).update(status=CheckInStatus.ANSWERED)
    assert not checkin_tasks.send_checkin_notice_now(str(day_2.pk))

    CheckIn.objects.filter(pk=day_2.pk).update(status=CheckInStatus.PENDING)
    alice.is_active = False
    alice.save()
    assert not checkin_tasks.send_checkin_notice_now(str(day_2.pk))
    assert mail.outbox == []


def test_no_answer_for_48_hours_raises_exactly_one_routine_alert(day_2, alice):
    assert checkin_tasks.checkins_sweep(now=DUE + dt.timedelta(hours=47, minutes=59)).escalated == 0
    assert not CareAlert.objects.exists()

    for minutes in (0, 15, 30):
        checkin_tasks.checkins_sweep(now=DUE + dt.timedelta(hours=48, minutes=minutes))

    (alert,) = CareAlert.objects.all()
    assert (alert.patient_id, alert.kind, alert.priority, alert.source_id) == (
        alice.patient_id,
        AlertKind.CHECKIN_UNANSWERED,
        AlertPriority.ROUTINE,
        day_2.pk,
    )
    assert alert.detail == ""
    assert CheckIn.objects.get(pk=day_2.pk).escalated_at == DUE + dt.timedelta(hours=48)


def test_an_answered_check_in_raises_no_unanswered_alert(day_2, alice, time_machine):
    time_machine.move_to(DUE + dt.timedelta(hours=1), tick=False)
    checkins.checkin_answer(actor=alice, checkin_id=day_2.pk, answers=answers())

    report = checkin_tasks.checkins_sweep(now=DUE + dt.timedelta(hours=49))

    assert report.escalated == 0
    assert not CareAlert.objects.filter(kind=AlertKind.CHECKIN_UNANSWERED).exists()


def test_a_check_in_past_its_window_is_marked_missed_not_deleted(day_2):
    # The worker was down for the whole window: its first run is at the close.
    report = checkin_tasks.checkins_sweep(now=day_2.closes_at)

    assert report.missed == 1
    assert CheckIn.objects.get(pk=day_2.pk).status == CheckInStatus.MISSED
    assert CheckIn.objects.count() == 3
    # A worker that was down for the whole window still tells the care team, once.
    assert CareAlert.objects.filter(source_id=day_2.pk).count() == 1
    assert [e.object_id for e in events(action=Action.CHECKIN_MISSED)] == [str(day_2.pk)]
    # Not notified once closed: nobody is asked to answer a closed check-in.
    assert queued_notices() == []

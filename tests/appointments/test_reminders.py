"""Reminders: at each offset once, without PHI, none for cancelled appointments, and a worker
killed mid-run neither loses nor repeats one."""

import datetime as dt
import os
import signal
import subprocess
import sys
from urllib.parse import quote

import pytest
import time_machine
from django.core import mail
from django.db import connection
from django.utils import timezone

from appointments import tasks
from appointments.models import Appointment
from appointments.services import SlotChoice, appointment_book, appointment_cancel

UTC = dt.UTC
FRIDAY_9 = dt.datetime(2026, 1, 9, 14, 0, tzinfo=UTC)


@pytest.fixture
def booked(monday, clinic, carol, alice):
    place, kind = clinic
    return appointment_book(
        actor=alice,
        patient_id=alice.patient_id,
        choice=SlotChoice(carol.pk, place.pk, kind.pk, FRIDAY_9),
        reason="Embarrassing rash",
    )


def queued_reminders() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT args->>'appointment_id' FROM procrastinate_jobs "
            "WHERE task_name = 'appointments.send_reminder' ORDER BY id"
        )
        return [row[0] for row in cursor.fetchall()]


def test_it_queues_each_offset_once_when_it_comes(booked):
    at = FRIDAY_9 - dt.timedelta(hours=73)
    with time_machine.travel(at, tick=False):
        assert tasks.due_reminders(at) == 0
    at = FRIDAY_9 - dt.timedelta(hours=71)
    assert tasks.due_reminders(at) == 1
    assert tasks.due_reminders(at) == 0  # run again: nothing new
    assert tasks.due_reminders(FRIDAY_9 - dt.timedelta(hours=23)) == 1
    assert tasks.due_reminders(FRIDAY_9 - dt.timedelta(hours=1)) == 0
    assert queued_reminders() == [str(booked.pk)] * 2
    assert Appointment.objects.get(pk=booked.pk).reminders_sent == [24, 72]


def test_it_sends_one_reminder_when_several_offsets_came_at_once(booked):
    assert tasks.due_reminders(FRIDAY_9 - dt.timedelta(hours=10)) == 1
    assert queued_reminders() == [str(booked.pk)]


def test_it_reminds_no_cancelled_appointment(booked, alice):
    appointment_cancel(
        actor=alice, patient_id=alice.patient_id, appointment_id=booked.pk, reason="Better"
    )
    assert tasks.due_reminders(FRIDAY_9 - dt.timedelta(hours=10)) == 0
    assert queued_reminders() == []


def test_the_mail_says_nothing_clinical_and_skips_an_appointment_cancelled_since(
    booked, alice, settings
):
    tasks._send(str(booked.pk))
    (message,) = mail.outbox
    assert message.to == [alice.email]
    text = message.subject + message.body
    for secret in ("rash", "Carol", "Main Street", "Follow-up", "09:00", "Jan"):
        assert secret not in text
    assert f"{settings.PORTAL_BASE_URL}/patient/appointments/" in message.body
    appointment_cancel(
        actor=alice, patient_id=alice.patient_id, appointment_id=booked.pk, reason="Better"
    )
    tasks._send(str(booked.pk))
    assert len(mail.outbox) == 1


def test_a_run_that_dies_between_appointments_neither_loses_nor_repeats_one(
    booked, clinic, carol, mallory, monkeypatch
):
    place, kind = clinic
    other = appointment_book(
        actor=mallory,
        patient_id=mallory.patient_id,
        choice=SlotChoice(carol.pk, place.pk, kind.pk, FRIDAY_9 + dt.timedelta(minutes=30)),
        reason="",
    )
    at = FRIDAY_9 - dt.timedelta(hours=71)
    real = tasks._remind
    calls = []

    def dies_on_the_second(pk, now, offsets):
        calls.append(pk)
        if len(calls) == 2:
            raise SystemExit("worker killed")
        return real(pk, now, offsets)

    monkeypatch.setattr(tasks, "_remind", dies_on_the_second)
    with pytest.raises(SystemExit):
        tasks.due_reminders(at)
    monkeypatch.setattr(tasks, "_remind", real)
    # The restarted worker's next run: the one not reminded is, the one reminded is not.
    assert tasks.due_reminders(at) == 1
    assert sorted(queued_reminders()) == sorted([str(booked.pk), str(other.pk)])


# A worker process that queues reminders one appointment at a time and pauses after
# each committed one, so the test can SIGKILL it between two of them.
WORKER = """
import sys, time
import django
django.setup()
from django.utils import timezone
from appointments import tasks
real = tasks._remind
def slow(pk, now, offsets):
    done = real(pk, now, offsets)
    print("reminded" if done else "skipped", flush=True)
    time.sleep(60)
    return done
tasks._remind = slow
tasks.due_reminders(timezone.now())
"""


def _database_url() -> str:
    db = connection.settings_dict
    user, password = quote(db["USER"] or "", safe=""), quote(db["PASSWORD"] or "", safe="")
    host = db["HOST"] or "localhost"
    return f"postgres://{user}:{password}@{host}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.mark.usefixtures("committed")
def test_a_worker_process_killed_mid_run_neither_loses_nor_repeats_a_reminder(clinic, carol, alice):
    place, kind = clinic
    soon = timezone.now() + dt.timedelta(hours=10)
    booked = [
        Appointment.objects.create(
            patient=alice.patient,
            clinician=carol,
            location=place,
            visit_type=kind,
            starts_at=soon + dt.timedelta(hours=i),
            ends_at=soon + dt.timedelta(hours=i, minutes=30),
            blocked_until=soon + dt.timedelta(hours=i, minutes=30),
            booked_by=alice,
        )
        for i in range(3)
    ]
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "DJANGO_SETTINGS_MODULE": "portal.settings",
    }
    env.pop("DATABASE_URL_FILE", None)
    worker = subprocess.Popen(
        [sys.executable, "-c", WORKER], env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        assert worker.stdout.readline().strip() == "reminded"
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
    assert len(queued_reminders()) == 1  # what the killed worker committed stays

    assert tasks.due_reminders(timezone.now()) == 2  # the restarted worker's run
    assert tasks.due_reminders(timezone.now()) == 0
    assert sorted(queued_reminders()) == sorted(str(a.pk) for a in booked)

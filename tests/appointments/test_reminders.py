"""Reminders: at each offset once, without PHI, none for cancelled appointments, and a worker
killed mid-run neither loses nor repeats one."""

import datetime as dt

import pytest
import time_machine
from django.core import mail
from django.db import connection

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


def test_a_worker_killed_mid_run_neither_loses_nor_repeats_a_reminder(
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

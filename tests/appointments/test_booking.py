"""Booking, rescheduling and cancelling: the clinic's rules, and no double booking under load."""

import datetime as dt
import threading

import pytest
import time_machine
from django.db import IntegrityError, connection, transaction
from django.http import Http404

from appointments.models import Appointment, VisitType
from appointments.services import (
    BookingRefused,
    SlotChoice,
    SlotTaken,
    appointment_book,
    appointment_cancel,
    appointment_reschedule,
)
from audit.actions import Action
from tests.appointments import builders
from tests.audit_helpers import events
from tests.conftest import UserFactory

UTC = dt.UTC
# Monday 2026-01-05 is "now" (06:00 New York); Tuesday 09:00 EST is 14:00 UTC.
TUESDAY_9 = dt.datetime(2026, 1, 6, 14, 0, tzinfo=UTC)


def choice(clinic, carol, starts_at=TUESDAY_9) -> SlotChoice:
    place, kind = clinic
    return SlotChoice(carol.pk, place.pk, kind.pk, starts_at)


def book(actor, patient, clinic, carol, starts_at=TUESDAY_9, reason="Knee pain again"):
    return appointment_book(
        actor=actor,
        patient_id=patient.pk,
        choice=choice(clinic, carol, starts_at),
        reason=reason,
    )


def test_it_books_an_open_slot_with_an_encrypted_reason_and_one_event(monday, clinic, carol, alice):
    before = len(events())
    appointment = book(alice, alice.patient, clinic, carol)
    assert (appointment.starts_at, appointment.status) == (TUESDAY_9, Appointment.Status.BOOKED)
    assert appointment.ends_at == TUESDAY_9 + dt.timedelta(minutes=30)
    stored = Appointment.objects.get(pk=appointment.pk)
    assert stored.reason == "Knee pain again"
    with connection.cursor() as cursor:
        cursor.execute("SELECT reason FROM appointments_appointment WHERE id = %s", [stored.pk])
        assert b"Knee" not in bytes(cursor.fetchone()[0])
    (event,) = events()[before:]
    assert (event.action, event.patient_id, event.object_id) == (
        Action.APPOINTMENT_BOOK,
        alice.patient_id,
        str(appointment.pk),
    )


@pytest.mark.parametrize(
    ("starts_at", "message"),
    [
        (dt.datetime(2026, 1, 5, 10, 0, tzinfo=UTC), "has passed"),
        (dt.datetime(2026, 4, 10, 13, 0, tzinfo=UTC), "up to 90 days ahead"),
        (dt.datetime(2026, 1, 6, 14, 7, tzinfo=UTC), "not offered"),  # tampered time
        (dt.datetime(2026, 1, 10, 14, 0, tzinfo=UTC), "not offered"),  # a Saturday
    ],
)
def test_it_refuses_times_outside_the_rules_and_writes_nothing(
    monday, clinic, carol, alice, starts_at, message
):
    before = len(events())
    with pytest.raises(BookingRefused, match=message):
        book(alice, alice.patient, clinic, carol, starts_at=starts_at)
    assert not Appointment.objects.exists()
    assert events()[before:] == []


def test_it_refuses_a_slot_inside_the_minimum_notice(clinic, carol, alice):
    # Monday 08:00 EST: the 09:00 slot is one hour away, the notice is two.
    with time_machine.travel(dt.datetime(2026, 1, 5, 13, 0, tzinfo=UTC), tick=False):
        with pytest.raises(BookingRefused, match="at least 2 hours' notice"):
            book(
                alice,
                alice.patient,
                clinic,
                carol,
                starts_at=dt.datetime(2026, 1, 5, 14, 0, tzinfo=UTC),
            )
        # 10:00 is two hours away: allowed.
        book(
            alice,
            alice.patient,
            clinic,
            carol,
            starts_at=dt.datetime(2026, 1, 5, 15, 0, tzinfo=UTC),
        )


def test_it_applies_the_notice_across_midnight_in_the_locations_zone(carol, alice):
    """At 23:30 New York time, a 00:30 slot the next day is one hour away (not 'tomorrow')."""
    place = builders.location()
    kind = builders.visit_type(name="Night clinic")
    builders.weekdays(carol, place, kind, start=dt.time(0), end=dt.time(3), days=[1])
    monday_2330 = dt.datetime(2026, 1, 6, 4, 30, tzinfo=UTC)
    with time_machine.travel(monday_2330, tick=False):
        for early in (
            dt.datetime(2026, 1, 6, 5, 0, tzinfo=UTC),
            dt.datetime(2026, 1, 6, 5, 30, tzinfo=UTC),
        ):
            with pytest.raises(BookingRefused, match="notice"):
                appointment_book(
                    actor=alice,
                    patient_id=alice.patient_id,
                    choice=SlotChoice(carol.pk, place.pk, kind.pk, early),
                    reason="",
                )
        appointment_book(
            actor=alice,
            patient_id=alice.patient_id,
            choice=SlotChoice(
                carol.pk, place.pk, kind.pk, dt.datetime(2026, 1, 6, 6, 30, tzinfo=UTC)
            ),
            reason="",
        )


def test_it_refuses_self_booking_of_a_visit_type_the_patient_may_not_book(
    monday, clinic, carol, alice
):
    _place, kind = clinic
    kind.self_book = VisitType.SelfBook.ESTABLISHED
    kind.save()
    with pytest.raises(BookingRefused, match="cannot be booked online"):
        book(alice, alice.patient, clinic, carol)
    kind.self_book = VisitType.SelfBook.STAFF_ONLY
    kind.save()
    with pytest.raises(BookingRefused, match="cannot be booked online"):
        book(alice, alice.patient, clinic, carol)
    assert not Appointment.objects.exists()


def test_it_lets_an_established_patient_book_their_clinician(monday, clinic, carol, alice, ward):
    _place, kind = clinic
    kind.self_book = VisitType.SelfBook.ESTABLISHED
    kind.save()
    assert book(alice, alice.patient, clinic, carol).pk


def test_it_answers_404_for_booking_for_another_patient(monday, clinic, carol, alice, mallory):
    with pytest.raises(Http404):
        book(mallory, alice.patient, clinic, carol)
    assert not Appointment.objects.exists()


def test_it_says_just_taken_and_offers_the_nearest_free_slots(
    monday, clinic, carol, alice, mallory
):
    book(alice, alice.patient, clinic, carol)
    with pytest.raises(SlotTaken) as taken:
        book(mallory, mallory.patient, clinic, carol)
    offered = [s.starts_at for s in taken.value.alternatives]
    assert TUESDAY_9 not in offered
    assert TUESDAY_9 + dt.timedelta(minutes=30) in offered
    assert len(offered) == 3


def test_the_database_refuses_an_overlap_even_without_the_service(monday, clinic, carol, alice):
    place, kind = clinic
    book(alice, alice.patient, clinic, carol)
    with (
        pytest.raises(IntegrityError, match="appointments_no_double_booking"),
        transaction.atomic(),
    ):
        Appointment.objects.create(
            patient=alice.patient,
            clinician=carol,
            location=place,
            visit_type=kind,
            starts_at=TUESDAY_9 + dt.timedelta(minutes=15),
            ends_at=TUESDAY_9 + dt.timedelta(minutes=45),
            blocked_until=TUESDAY_9 + dt.timedelta(minutes=45),
            booked_by=alice,
        )


def test_it_cancels_within_the_cutoff_with_a_reason(monday, clinic, carol, alice):
    appointment = book(
        alice, alice.patient, clinic, carol, starts_at=dt.datetime(2026, 1, 7, 14, 0, tzinfo=UTC)
    )
    appointment_cancel(
        actor=alice,
        patient_id=alice.patient_id,
        appointment_id=appointment.pk,
        reason="Feeling better",
    )
    stored = Appointment.objects.get(pk=appointment.pk)
    assert (stored.status, stored.cancel_reason) == (Appointment.Status.CANCELLED, "Feeling better")
    assert events(Action.APPOINTMENT_CANCEL)[-1].object_id == str(appointment.pk)


def test_it_refuses_a_patients_cancel_after_the_cutoff_but_not_the_front_desks(
    monday, clinic, carol, alice, fran
):
    today_10 = dt.datetime(2026, 1, 5, 15, 0, tzinfo=UTC)  # four hours away: inside 24
    appointment = book(alice, alice.patient, clinic, carol, starts_at=today_10)
    with pytest.raises(BookingRefused, match="call the clinic"):
        appointment_cancel(
            actor=alice, patient_id=alice.patient_id, appointment_id=appointment.pk, reason="x"
        )
    assert Appointment.objects.get(pk=appointment.pk).status == Appointment.Status.BOOKED
    appointment_cancel(
        actor=fran, patient_id=alice.patient_id, appointment_id=appointment.pk, reason="Phoned"
    )
    assert Appointment.objects.get(pk=appointment.pk).status == Appointment.Status.CANCELLED


def test_it_answers_404_for_cancelling_someone_elses_appointment(
    monday, clinic, carol, alice, mallory
):
    appointment = book(alice, alice.patient, clinic, carol)
    with pytest.raises(Http404):
        appointment_cancel(
            actor=mallory, patient_id=mallory.patient_id, appointment_id=appointment.pk, reason="x"
        )
    assert Appointment.objects.get(pk=appointment.pk).status == Appointment.Status.BOOKED


def test_it_reschedules_as_one_swap_keeping_the_reason(monday, clinic, carol, alice):
    old = book(
        alice, alice.patient, clinic, carol, starts_at=dt.datetime(2026, 1, 8, 14, 0, tzinfo=UTC)
    )
    # The new time overlaps the old one's: possible only because the swap is one step.
    new_time = dt.datetime(2026, 1, 8, 14, 30, tzinfo=UTC)
    new = appointment_reschedule(
        actor=alice,
        patient_id=alice.patient_id,
        appointment_id=old.pk,
        choice=choice(clinic, carol, new_time),
    )
    assert Appointment.objects.get(pk=old.pk).status == Appointment.Status.RESCHEDULED
    stored = Appointment.objects.get(pk=new.pk)
    assert (stored.starts_at, stored.reason, stored.replaces_id) == (
        new_time,
        "Knee pain again",
        old.pk,
    )


def test_a_failed_reschedule_leaves_the_old_booking_in_place(monday, clinic, carol, alice, mallory):
    old = book(
        alice, alice.patient, clinic, carol, starts_at=dt.datetime(2026, 1, 8, 14, 0, tzinfo=UTC)
    )
    taken = dt.datetime(2026, 1, 8, 15, 0, tzinfo=UTC)
    book(mallory, mallory.patient, clinic, carol, starts_at=taken)
    with pytest.raises(SlotTaken):
        appointment_reschedule(
            actor=alice,
            patient_id=alice.patient_id,
            appointment_id=old.pk,
            choice=choice(clinic, carol, taken),
        )
    assert Appointment.objects.get(pk=old.pk).status == Appointment.Status.BOOKED
    assert Appointment.objects.filter(patient=alice.patient).count() == 1


# --- Concurrency: separate connections, really committed ---------------------------------

RACERS = 20


def _race(attempts):
    """Run the attempts at once, each in its own thread (its own database connection)."""
    barrier = threading.Barrier(len(attempts))
    outcomes: list[object] = [None] * len(attempts)

    def run(i, attempt):
        try:
            barrier.wait()
            outcomes[i] = attempt()
        except Exception as error:
            outcomes[i] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, a)) for i, a in enumerate(attempts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return outcomes


@pytest.mark.usefixtures("committed")
def test_twenty_concurrent_bookings_of_one_slot_give_exactly_one_appointment(monday, clinic, carol):
    patients = [UserFactory(username=f"racer{i}") for i in range(RACERS)]
    outcomes = _race([lambda p=p: book(p, p.patient, clinic, carol) for p in patients])
    winners = [o for o in outcomes if isinstance(o, Appointment)]
    losers = [o for o in outcomes if isinstance(o, SlotTaken)]
    assert (len(winners), len(losers)) == (1, RACERS - 1), outcomes
    assert all(loser.alternatives for loser in losers)
    assert Appointment.objects.filter(starts_at=TUESDAY_9).count() == 1


@pytest.mark.usefixtures("committed")
def test_a_reschedule_racing_bookings_for_the_same_slot_has_one_winner(
    monday, clinic, carol, alice
):
    old = book(
        alice, alice.patient, clinic, carol, starts_at=dt.datetime(2026, 1, 8, 14, 0, tzinfo=UTC)
    )
    target = dt.datetime(2026, 1, 9, 14, 0, tzinfo=UTC)
    others = [UserFactory(username=f"racer{i}") for i in range(5)]
    attempts = [
        lambda: appointment_reschedule(
            actor=alice,
            patient_id=alice.patient_id,
            appointment_id=old.pk,
            choice=choice(clinic, carol, target),
        ),
        *[lambda p=p: book(p, p.patient, clinic, carol, starts_at=target) for p in others],
    ]
    outcomes = _race(attempts)
    assert sum(isinstance(o, Appointment) for o in outcomes) == 1, outcomes
    assert all(isinstance(o, Appointment | SlotTaken) for o in outcomes), outcomes
    assert (
        Appointment.objects.filter(starts_at=target, status=Appointment.Status.BOOKED).count() == 1
    )
    # Alice holds exactly one booking either way: the old one or the new one.
    assert (
        Appointment.objects.filter(patient=alice.patient, status=Appointment.Status.BOOKED).count()
        == 1
    )

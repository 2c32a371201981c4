"""The waitlist: a cancellation offers the slot to patients waiting for an earlier one;
the first to accept wins, the others see "no longer available"."""

import datetime as dt

import pytest
from django.http import Http404

from appointments.models import Appointment, WaitlistOffer
from appointments.services import (
    OfferGone,
    SlotChoice,
    appointment_book,
    appointment_cancel,
    waitlist_join,
    waitlist_offer_accept,
)
from audit.actions import Action
from tests.appointments.test_booking import _race
from tests.audit_helpers import events
from tests.conftest import UserFactory, sign_in_fully

UTC = dt.UTC
WEDNESDAY_9 = dt.datetime(2026, 1, 7, 14, 0, tzinfo=UTC)
FRIDAY_9 = dt.datetime(2026, 1, 9, 14, 0, tzinfo=UTC)


def book(user, clinic, carol, starts_at, reason=""):
    place, kind = clinic
    return appointment_book(
        actor=user,
        patient_id=user.patient_id,
        choice=SlotChoice(carol.pk, place.pk, kind.pk, starts_at),
        reason=reason,
    )


@pytest.fixture
def waiting(monday, clinic, carol, alice, mallory):
    """Mallory holds Wednesday 09:00; Alice has Friday 09:00 and waits for earlier."""
    early = book(mallory, clinic, carol, WEDNESDAY_9)
    later = book(alice, clinic, carol, FRIDAY_9, reason="Knee pain")
    waitlist_join(actor=alice, patient_id=alice.patient_id, appointment_id=later.pk)
    return early, later


def test_a_cancellation_offers_the_slot_to_the_waitlist_with_a_mail_without_phi(
    waiting, mallory, alice, mailoutbox
):
    early, _later = waiting
    appointment_cancel(
        actor=mallory, patient_id=mallory.patient_id, appointment_id=early.pk, reason="Away"
    )
    (offer,) = WaitlistOffer.objects.all()
    assert (offer.starts_at, offer.entry.patient_id) == (WEDNESDAY_9, alice.patient_id)
    assert events(Action.WAITLIST_OFFER)[-1].patient_id == alice.patient_id
    from appointments.tasks import _send_offer

    _send_offer(str(offer.pk))
    (message,) = mailoutbox
    assert f"/patient/appointments/offers/{offer.pk}/" in message.body
    assert "Knee" not in message.body
    assert "Carol" not in message.body


def test_accepting_moves_the_appointment_and_keeps_its_reason(waiting, mallory, alice):
    early, later = waiting
    appointment_cancel(
        actor=mallory, patient_id=mallory.patient_id, appointment_id=early.pk, reason="Away"
    )
    offer = WaitlistOffer.objects.get()
    moved = waitlist_offer_accept(actor=alice, patient_id=alice.patient_id, offer_id=offer.pk)
    assert (moved.starts_at, moved.reason) == (WEDNESDAY_9, "Knee pain")
    assert Appointment.objects.get(pk=later.pk).status == Appointment.Status.RESCHEDULED
    offer.refresh_from_db()
    assert offer.status == WaitlistOffer.Status.ACCEPTED


def test_another_patient_cannot_accept_someone_elses_offer(waiting, mallory):
    early, _ = waiting
    appointment_cancel(
        actor=mallory, patient_id=mallory.patient_id, appointment_id=early.pk, reason="Away"
    )
    offer = WaitlistOffer.objects.get()
    with pytest.raises(Http404):
        waitlist_offer_accept(actor=mallory, patient_id=mallory.patient_id, offer_id=offer.pk)


def test_an_offer_taken_by_someone_else_is_no_longer_available(
    waiting, mallory, alice, clinic, carol, client
):
    early, later = waiting
    appointment_cancel(
        actor=mallory, patient_id=mallory.patient_id, appointment_id=early.pk, reason="Away"
    )
    offer = WaitlistOffer.objects.get()
    book(mallory, clinic, carol, WEDNESDAY_9)  # Mallory changes her mind first
    with pytest.raises(OfferGone, match="no longer available"):
        waitlist_offer_accept(actor=alice, patient_id=alice.patient_id, offer_id=offer.pk)
    assert Appointment.objects.get(pk=later.pk).status == Appointment.Status.BOOKED
    sign_in_fully(client, alice)
    page = client.get(f"/patient/appointments/offers/{offer.pk}/")
    assert "This time is no longer available." in page.content.decode()


@pytest.mark.usefixtures("committed")
def test_the_first_of_several_waitlisted_patients_to_accept_wins(monday, clinic, carol, mallory):
    early = book(mallory, clinic, carol, WEDNESDAY_9)
    waiters = [UserFactory(username=f"waiter{i}") for i in range(5)]
    for i, waiter in enumerate(waiters):
        mine = book(waiter, clinic, carol, FRIDAY_9 + dt.timedelta(minutes=30 * i))
        waitlist_join(actor=waiter, patient_id=waiter.patient_id, appointment_id=mine.pk)
    appointment_cancel(
        actor=mallory, patient_id=mallory.patient_id, appointment_id=early.pk, reason="Away"
    )
    offers = {o.entry.patient_id: o for o in WaitlistOffer.objects.select_related("entry")}
    assert len(offers) == len(waiters)
    outcomes = _race(
        [
            lambda w=w: waitlist_offer_accept(
                actor=w, patient_id=w.patient_id, offer_id=offers[w.patient_id].pk
            )
            for w in waiters
        ]
    )
    assert sum(isinstance(o, Appointment) for o in outcomes) == 1, outcomes
    assert sum(isinstance(o, OfferGone) for o in outcomes) == len(waiters) - 1, outcomes
    assert Appointment.objects.filter(starts_at=WEDNESDAY_9, status="booked").count() == 1
    wednesday = WaitlistOffer.objects.filter(starts_at=WEDNESDAY_9)
    assert sorted(wednesday.values_list("status", flat=True)) == ["accepted"] + ["gone"] * 4


def test_a_patient_joins_the_waitlist_and_takes_an_offer_from_the_pages(
    client, monday, clinic, carol, alice, mallory
):
    early = book(mallory, clinic, carol, WEDNESDAY_9)
    later = book(alice, clinic, carol, FRIDAY_9)
    sign_in_fully(client, alice)
    joined = client.post(f"/patient/appointments/{later.pk}/waitlist/", follow=True)
    assert "We will offer you an earlier time" in joined.content.decode()
    appointment_cancel(
        actor=mallory, patient_id=mallory.patient_id, appointment_id=early.pk, reason="Away"
    )
    listing = client.get("/patient/appointments/")
    (offer,) = listing.context["page"].offers
    taken = client.post(f"/patient/appointments/offers/{offer.id}/", follow=True)
    assert "moved to the earlier time" in taken.content.decode()
    assert Appointment.objects.get(patient=alice.patient, status="booked").starts_at == WEDNESDAY_9

"""The state machine, fed understood messages built by hand (the language part has its own
tests): it offers real open slots, asks for what is missing, confirms exactly what it will
do, acts only on a "yes" to the open question, and only through the feature services."""

import uuid
from zoneinfo import ZoneInfo

import pytest

from appointments.models import Appointment
from assistant import dialogue, replies, services, states
from assistant.models import Conversation
from audit.actions import Action
from messaging.models import Message, Thread
from refills.models import RefillRequest
from tests.assistant.conftest import CONTEXT, conversation_with, heard, next_weekday, who
from tests.audit_helpers import events, last_event

pytestmark = pytest.mark.usefixtures("clinic_zone")


def say(actor, understanding, text="(typed)", state=None):
    return dialogue.respond(who(actor), state or states.fresh(), understanding, text)


def press(actor, state, choice, **draft):
    """The patient presses a button under the open question (through the service)."""
    conversation = Conversation.objects.filter(started_by=actor, ended_at=None).first()
    if conversation is None:
        conversation = conversation_with(actor, state)
    else:
        conversation.state = state
        conversation.save()
    done = services.conversation_answer(
        actor=actor,
        patient_id=actor.patient_id,
        pending_id=state.get("pending_id", ""),
        choice=choice,
        draft=draft or None,
        context=CONTEXT,
    )
    done.refresh_from_db()
    return done.state, [t.text for t in done.turns.all()][-1]


# --- Booking -------------------------------------------------------------------------------


def test_it_offers_the_open_slots_on_the_day_and_part_of_day_asked(clinic, ward, alice):
    tuesday = next_weekday(1)
    outcome = say(
        alice,
        heard(
            "book_appointment",
            date=tuesday.isoformat(),
            part_of_day="afternoon",
            clinician="Dr Carol Chen",
        ),
    )
    state = outcome.state
    assert (state["step"], state["kind"]) == ("choose", "slot_book")
    labels = [o["label"] for o in state["options"]]
    assert labels[0].startswith(f"Tue {tuesday.day} {tuesday:%b} 13:00, Dr Carol Chen")
    assert len(labels) == 4
    assert all("New patient visit" in label for label in labels)
    assert outcome.said[0].startswith(replies.CHOOSE_SLOT)


def test_a_day_and_time_go_straight_to_a_confirmation_that_says_what_will_happen(
    clinic, ward, alice, carol
):
    tuesday = next_weekday(1)
    outcome = say(
        alice,
        heard("book_appointment", date=tuesday.isoformat(), time="15:00", time_relation="at"),
    )
    assert outcome.state["step"] == "confirm"
    assert outcome.said == [
        f"Book Dr Carol Chen, Tue {tuesday.day} {tuesday:%b} 15:00 "
        "(clinic time, America/New_York), in person?"
    ]
    assert not Appointment.objects.exists()  # nothing until "Yes"
    state, said = press(alice, outcome.state, "yes")
    (booked,) = Appointment.objects.all()
    assert (booked.patient_id, booked.clinician_id) == (alice.patient_id, carol.pk)
    local = booked.starts_at.astimezone(ZoneInfo("America/New_York"))
    assert (local.date(), local.hour, local.minute) == (tuesday, 15, 0)
    assert said.startswith("Done: you are booked with Dr Carol Chen")
    assert state == {"step": "idle"}
    booked_event = last_event(Action.APPOINTMENT_BOOK)
    confirmed = last_event(Action.ASSISTANT_CONFIRMED)
    assert booked_event.request_id == confirmed.request_id == CONTEXT.request_id
    assert booked_event.actor_id == alice.pk


def test_a_time_that_is_not_free_offers_the_nearest_free_ones(clinic, ward, alice):
    tuesday = next_weekday(1)
    outcome = say(
        alice,
        heard("book_appointment", date=tuesday.isoformat(), time="18:30", time_relation="at"),
    )
    assert outcome.said[0].startswith(replies.NEAREST_SLOTS)
    times = [o["label"].split(",")[0] for o in outcome.state["options"]]
    assert times[-1] == f"Tue {tuesday.day} {tuesday:%b} 15:30"


def test_it_asks_for_the_day_and_then_offers_slots_for_it(clinic, ward, alice):
    outcome = say(alice, heard("book_appointment", clinician="Dr Dave Okafor"))
    assert outcome.state["step"] == "ask_day"
    assert outcome.said == [replies.ASK_DAY]
    wednesday = next_weekday(2)
    then = say(alice, heard("other", date=wednesday.isoformat()), state=outcome.state)
    assert then.state["step"] == "choose"
    assert all("Dr Dave Okafor" in o["label"] for o in then.state["options"])


def test_no_books_nothing_and_is_recorded(clinic, ward, alice):
    tuesday = next_weekday(1)
    outcome = say(
        alice, heard("book_appointment", date=tuesday.isoformat(), time="10:00", time_relation="at")
    )
    state, said = press(alice, outcome.state, "no")
    assert said == replies.DECLINED
    assert state == {"step": "idle"}
    assert not Appointment.objects.exists()
    assert len(events(Action.ASSISTANT_DECLINED)) == 1
    assert not events(Action.ASSISTANT_CONFIRMED)


def test_a_replayed_yes_books_once(clinic, ward, alice):
    tuesday = next_weekday(1)
    outcome = say(
        alice, heard("book_appointment", date=tuesday.isoformat(), time="10:00", time_relation="at")
    )
    conversation = conversation_with(alice, outcome.state)
    answer = {
        "actor": alice,
        "patient_id": alice.patient_id,
        "pending_id": outcome.state["pending_id"],
        "choice": "yes",
        "context": CONTEXT,
    }
    services.conversation_answer(**answer)
    services.conversation_answer(**answer)  # the double submit, or the back button
    assert Appointment.objects.count() == 1
    conversation.refresh_from_db()
    assert [t.text for t in conversation.turns.all()][-1] == replies.STALE
    assert len(events(Action.ASSISTANT_CONFIRMED)) == 1


def test_a_yes_to_an_earlier_question_does_not_act_on_the_new_one(clinic, ward, alice):
    tuesday = next_weekday(1)
    first = say(
        alice, heard("book_appointment", date=tuesday.isoformat(), time="10:00", time_relation="at")
    )
    second = say(
        alice,
        heard("book_appointment", date=tuesday.isoformat(), time="11:00", time_relation="at"),
        state=first.state,
    )
    conversation_with(alice, second.state)
    services.conversation_answer(
        actor=alice,
        patient_id=alice.patient_id,
        pending_id=first.state["pending_id"],
        choice="yes",
        context=CONTEXT,
    )
    assert not Appointment.objects.exists()


def test_a_choice_outside_the_offered_ones_is_refused(clinic, ward, alice):
    tuesday = next_weekday(1)
    outcome = say(alice, heard("book_appointment", date=tuesday.isoformat()))
    state, said = press(alice, outcome.state, "17")
    assert said.startswith(replies.BAD_CHOICE)
    assert state == outcome.state
    state, said = press(alice, outcome.state, "yes")  # no yes to a choice
    assert said.startswith(replies.BAD_CHOICE)
    assert not Appointment.objects.exists()


# --- Cancelling and moving -------------------------------------------------------------------


@pytest.fixture
def booked(clinic, ward, alice):
    tuesday = next_weekday(1, at_least=5)
    outcome = say(
        alice, heard("book_appointment", date=tuesday.isoformat(), time="10:00", time_relation="at")
    )
    press(alice, outcome.state, "yes")
    Conversation.objects.all().delete()
    return Appointment.objects.get()


def test_it_cancels_the_one_upcoming_appointment_after_a_yes(booked, alice):
    outcome = say(alice, heard("cancel_appointment"))
    assert outcome.said[0].startswith("Cancel your visit with Dr Carol Chen, Tue")
    press(alice, outcome.state, "yes")
    booked.refresh_from_db()
    assert booked.status == Appointment.Status.CANCELLED
    assert last_event(Action.APPOINTMENT_CANCEL).request_id == CONTEXT.request_id


def test_it_moves_an_appointment_to_a_chosen_slot(booked, alice):
    thursday = next_weekday(3, at_least=5)
    outcome = say(
        alice, heard("reschedule_appointment", date=thursday.isoformat(), part_of_day="morning")
    )
    assert outcome.state["kind"] == "slot_move"
    state, said = press(alice, outcome.state, "1")
    assert said.startswith("Move your visit with Dr Carol Chen from Tue")
    assert f"to Thu {thursday.day} {thursday:%b} 09:30" in said
    press(alice, state, "yes")
    booked.refresh_from_db()
    assert booked.status == Appointment.Status.RESCHEDULED
    moved = Appointment.objects.get(replaces=booked)
    assert moved.status == Appointment.Status.BOOKED


def test_moving_without_a_day_asks_for_one(booked, alice):
    outcome = say(alice, heard("reschedule_appointment"))
    assert (outcome.state["step"], outcome.said) == ("ask_day", [replies.ASK_NEW_DAY])


def test_with_nothing_upcoming_it_says_so(clinic, ward, alice):
    assert say(alice, heard("cancel_appointment")).said == [replies.NO_UPCOMING]


def test_it_lists_the_upcoming_appointments_in_clinic_time(booked, alice):
    (said,) = say(alice, heard("list_appointments")).said
    assert "Your upcoming appointments (clinic time, America/New_York):" in said
    assert "10:00: Follow-up visit with Dr Carol Chen, Main Street Clinic" in said


# --- Refills -------------------------------------------------------------------------------


def test_it_asks_for_a_named_refill_once_after_a_yes(alice_medicines, alice, pharmacy):
    outcome = say(alice, heard("request_refill", medication="Metformin 1000 mg oral tablet"))
    # No preferred pharmacy yet: the one in the directory is offered.
    assert outcome.state["kind"] == "pharmacy"
    state, said = press(alice, outcome.state, "0")
    assert said == (
        "Ask your care team for a refill of Metformin 1000 mg oral tablet, "
        "sent to Corner Pharmacy, 1 Main St?"
    )
    pending = state["pending_id"]
    press(alice, state, "yes")
    (request,) = RefillRequest.objects.all()
    assert request.submit_token == uuid.UUID(pending)
    assert [i.medication_request_id for i in request.items.all()] == ["med-metformin"]
    assert request.pharmacy == pharmacy
    assert last_event(Action.REFILL_REQUEST).request_id == CONTEXT.request_id
    press(alice, state, "yes")  # replayed
    assert RefillRequest.objects.count() == 1


def test_a_medicine_that_cannot_be_refilled_online_is_explained(alice_medicines, alice):
    (said,) = say(alice, heard("request_refill", medication="Oxycodone 5 mg oral tablet")).said
    assert said.startswith("Oxycodone 5 mg oral tablet cannot be requested online:")
    assert not RefillRequest.objects.exists()


def test_without_a_medicine_it_offers_the_requestable_ones_only(alice_medicines, alice):
    outcome = say(alice, heard("request_refill"))
    labels = [o["label"] for o in outcome.state["options"]]
    assert "Metformin 1000 mg oral tablet" in labels
    assert "Oxycodone 5 mg oral tablet" not in labels
    assert "Glipizide 5 mg oral tablet" not in labels  # stopped


def test_it_tells_where_the_refill_requests_stand(alice_medicines, alice):
    outcome = say(alice, heard("request_refill", medication="Warfarin 5 mg oral tablet"))
    state, _ = press(alice, outcome.state, "0")
    press(alice, state, "yes")
    (said,) = say(alice, heard("refill_status")).said
    assert "Warfarin 5 mg oral tablet: Requested" in said


# --- Messages, bills, the menu ------------------------------------------------------------------


def test_a_clinical_question_becomes_a_draft_the_patient_edits_and_sends(ward, alice):
    text = "is it ok to take ibuprofen with my pills?"
    outcome = say(alice, heard("message_care_team"), text=text)
    assert outcome.said == [replies.DRAFTED]
    assert outcome.state["data"] == {"subject": replies.DRAFT_SUBJECT, "body": text}
    assert not Thread.objects.exists()
    press(alice, outcome.state, "send", subject="Pain relief", body=text + " (edited)")
    (thread,) = Thread.objects.all()
    assert (thread.subject, thread.topic, thread.patient_id) == (
        "Pain relief",
        "medical",
        alice.patient_id,
    )
    assert Message.objects.get(thread=thread).body == text + " (edited)"
    assert last_event(Action.MESSAGE_SEND).request_id == CONTEXT.request_id


def test_an_emptied_draft_is_not_sent(ward, alice):
    outcome = say(alice, heard("message_care_team"), text="question")
    state, said = press(alice, outcome.state, "send", subject="x", body="   ")
    assert said == replies.DRAFT_EMPTY
    assert state["step"] == "draft"
    assert not Thread.objects.exists()


def test_it_shows_the_balance(ward, alice):
    (said,) = say(alice, heard("billing")).said
    assert said == "Your balance due is 0.00 USD. See your bills: /patient/bills/"


def test_anything_else_gets_the_menu(ward, alice):
    assert say(alice, heard("other")).said == [replies.MENU]


def test_after_a_time_offers_only_later_slots_that_day_nearest_first(clinic, ward, alice):
    tuesday = next_weekday(1)
    outcome = say(
        alice,
        heard("book_appointment", date=tuesday.isoformat(), time="14:00", time_relation="after"),
    )
    times = [o["label"].split(",")[0] for o in outcome.state["options"]]
    day = f"Tue {tuesday.day} {tuesday:%b}"
    assert times == [f"{day} 14:00", f"{day} 14:30", f"{day} 15:00", f"{day} 15:30"]


def test_another_request_while_asking_for_a_day_starts_that_one(booked, alice):
    asking = say(alice, heard("book_appointment"))
    assert asking.state["step"] == "ask_day"
    friday = next_weekday(4)
    outcome = say(alice, heard("cancel_appointment", date=friday.isoformat()), state=asking.state)
    assert outcome.state["kind"] == "cancel"
    assert outcome.said[0].startswith("Cancel your visit with Dr Carol Chen")


def test_typing_instead_of_pressing_a_button_repeats_the_question(clinic, ward, alice):
    tuesday = next_weekday(1)
    outcome = say(
        alice, heard("book_appointment", date=tuesday.isoformat(), time="10:00", time_relation="at")
    )
    again = say(alice, heard("other"), text="yes please", state=outcome.state)
    assert again.state == outcome.state  # the same question, the same id: nothing done
    assert again.said[0].startswith(replies.BAD_CHOICE)
    assert "Book Dr Carol Chen" in again.said[0]
    assert not Appointment.objects.exists()

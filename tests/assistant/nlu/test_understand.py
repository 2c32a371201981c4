"""understand(): the public interface the chat codes against, on the issue's examples."""

import datetime as dt
import logging
import socket

import pytest

from assistant.nlu import INTENTS, RedFlag, Understanding, classifier, red_flag, understand
from assistant.nlu.data import HELD_OUT_FILES
from assistant.nlu.evaluate import read_jsonl

SUNDAY = dt.datetime(2026, 11, 29, 10, 0)  # noqa: DTZ001 (local clinic time, naive by contract)
MEDICATIONS = ["metformin 500 mg tablet", "lisinopril 10 mg tablet"]
CLINICIANS = ["Dr Carol Chen", "Dr Sam Patel"]


def test_it_books_dr_chen_next_tuesday_afternoon():
    got = understand("can I see dr chen next tuesday afternoon", now=SUNDAY, clinicians=CLINICIANS)
    assert got == Understanding(
        intent="book_appointment",
        slots={"date": "2026-12-01", "part_of_day": "afternoon", "clinician": "Dr Carol Chen"},
        red_flag=None,
    )


def test_it_reads_next_tuesday_after_3_as_a_time_and_a_relation():
    got = understand("next Tuesday after 3", now=SUNDAY)
    assert dict(got.slots) == {"date": "2026-12-01", "time": "15:00", "time_relation": "after"}


def test_it_matches_a_misspelt_medicine_to_the_exact_list_entry():
    got = understand("refill my metfromin", now=SUNDAY, medications=MEDICATIONS)
    assert got.intent == "request_refill"
    assert dict(got.slots) == {"medication": "metformin 500 mg tablet"}


def test_it_gives_no_medication_slot_for_a_medicine_not_on_the_list():
    got = understand("refill my atorvastatin", now=SUNDAY, medications=MEDICATIONS)
    assert got.intent == "request_refill"
    assert "medication" not in got.slots


def test_it_treats_chest_pain_as_an_emergency_before_anything_else():
    got = understand("I have chest pain, can I book tomorrow", now=SUNDAY)
    assert got.intent == "emergency"
    assert got.red_flag == RedFlag(kind="chest_pain", phrase="chest pain")
    assert dict(got.slots) == {}


def test_an_emergency_keeps_only_the_medicine_it_names():
    got = understand(
        "I took too many metformin since this morning", now=SUNDAY, medications=MEDICATIONS
    )
    assert got.intent == "emergency"
    assert dict(got.slots) == {"medication": "metformin 500 mg tablet"}


def test_it_books_a_checkup_when_chest_pain_is_denied():
    got = understand("no chest pain, just want to book a checkup", now=SUNDAY)
    assert got.intent == "book_appointment"
    assert got.red_flag is None


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("I need to move my appointment to friday", "reschedule_appointment"),
        ("please cancel my visit on the 3rd", "cancel_appointment"),
        ("when is my next appointment", "list_appointments"),
        ("has my lisinopril refill been approved yet", "refill_status"),
        ("can you ask my doctor if I can take ibuprofen", "message_care_team"),
        ("how much do I owe", "billing"),
        ("hello there", "other"),
        ("can you book me a flight to paris", "other"),
        ("cancel my netflix subscription", "other"),
        ("book", "book_appointment"),
    ],
)
def test_it_tells_the_intents_apart(text, intent):
    assert understand(text, now=SUNDAY, medications=MEDICATIONS).intent == intent


def test_every_answer_is_one_of_the_intents_and_flags_only_emergencies():
    odd = ["", "   ", "?!", "\U0001f600 book \U0001f600", "caf\u00e9 next tuesday", "x" * 5000]
    for text in ["hi", "refill", "I can't breathe", "cancel", "blah blah", *odd]:
        got = understand(text, now=SUNDAY, medications=MEDICATIONS, clinicians=CLINICIANS)
        assert got.intent in INTENTS
        assert (got.red_flag is not None) == (got.intent == "emergency")
        assert (red_flag(text) is not None) == (got.intent == "emergency")


def test_the_fast_scorer_agrees_with_the_pipeline():
    texts = [row["text"] for path in HELD_OUT_FILES for row in read_jsonl(path)]
    predicted = classifier.model().predict([classifier.clean(text) for text in texts])
    assert [classifier.classify(text) for text in texts] == list(predicted)


def test_understanding_opens_no_socket(monkeypatch):
    classifier.model.cache_clear()
    classifier._scorer.cache_clear()  # training from the committed data happens under the guard

    def refuse(*args, **kwargs):
        raise AssertionError("understand() tried to open a connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    for text in [
        "can I see dr chen next tuesday afternoon",
        "refill my metfromin",
        "move it to dec 31st at half past 2",
        "the 31st of february",
        "I have chest pain",
    ]:
        understand(text, now=SUNDAY, medications=MEDICATIONS, clinicians=CLINICIANS)


def test_understanding_logs_nothing(caplog):
    caplog.set_level(logging.DEBUG)
    classifier.model.cache_clear()
    classifier._scorer.cache_clear()
    for text in [
        "I have chest pain",
        "refill my metfromin",
        "book dec 3 at 2pm",
        "the 31st of february",
    ]:
        understand(text, now=SUNDAY, medications=MEDICATIONS)
    assert caplog.records == []

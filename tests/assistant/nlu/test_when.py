"""Dates and times, relative to a fixed local now."""

import datetime as dt

import pytest

from assistant.nlu import understand

SUNDAY = dt.datetime(2026, 11, 29, 10, 0)  # noqa: DTZ001 (local clinic time by contract)
FRIDAY_20TH = dt.datetime(2026, 11, 20, 9, 0)  # noqa: DTZ001
NEW_YEARS_EVE_EVE = dt.datetime(2026, 12, 30, 15, 0)  # noqa: DTZ001
END_OF_FEBRUARY = dt.datetime(2026, 2, 27, 16, 0)  # noqa: DTZ001 (a Friday)


def slots(text, now=SUNDAY):
    return dict(understand(text, now=now).slots)


@pytest.mark.parametrize(
    ("text", "date"),
    [
        ("tomorrow", "2026-11-30"),
        ("the day after tomorrow", "2026-12-01"),
        ("today", "2026-11-29"),
        ("this afternoon", "2026-11-29"),
        ("monday", "2026-11-30"),
        ("next tuesday", "2026-12-01"),
        ("this friday", "2026-12-04"),
        ("sunday", "2026-12-06"),  # a weekday is the next one after today
        ("tuesday next week", "2026-12-01"),
        ("in two weeks", "2026-12-13"),
        ("in 3 days", "2026-12-02"),
        ("the 14th", "2026-12-14"),
        ("the 30th", "2026-11-30"),
        ("dec 3", "2026-12-03"),
        ("3rd of december", "2026-12-03"),
        ("jan 5", "2027-01-05"),
        ("12/10", "2026-12-10"),
        ("2026-12-24", "2026-12-24"),
        ("in a fortnight", "2026-12-13"),
        ("december third", "2026-12-03"),
        ("the twenty first of december", "2026-12-21"),
        ("monday or tuesday", "2026-11-30"),
    ],
)
def test_it_reads_dates_from_a_sunday(text, date):
    assert slots(f"book me in {text}")["date"] == date


def test_the_14th_when_today_is_the_20th_is_next_month():
    assert slots("the 14th", now=FRIDAY_20TH)["date"] == "2026-12-14"


def test_a_weekday_rolls_over_the_year_end():
    assert slots("friday", now=NEW_YEARS_EVE_EVE)["date"] == "2027-01-01"
    assert slots("the 5th", now=NEW_YEARS_EVE_EVE)["date"] == "2027-01-05"
    assert slots("in 2 weeks", now=NEW_YEARS_EVE_EVE)["date"] == "2027-01-13"


def test_a_day_the_month_lacks_goes_to_the_next_month_that_has_it():
    assert slots("the 30th", now=END_OF_FEBRUARY)["date"] == "2026-03-30"
    assert slots("monday", now=END_OF_FEBRUARY)["date"] == "2026-03-02"
    assert slots("the 28th", now=END_OF_FEBRUARY)["date"] == "2026-02-28"


def test_of_two_dates_it_keeps_the_one_not_given_up():
    assert slots("change it from monday to wednesday")["date"] == "2026-12-02"
    assert slots("instead of the 9th can i come on the 11th")["date"] == "2026-12-11"
    assert slots("I can't do thursday, can we make it friday")["date"] == "2026-12-04"


@pytest.mark.parametrize(
    ("text", "time", "relation"),
    [
        ("next Tuesday after 3", "15:00", "after"),
        ("this friday at 2pm", "14:00", "at"),
        ("at 10", "10:00", "at"),
        ("at 8", "08:00", "at"),
        ("before 4", "16:00", "before"),
        ("around 11am", "11:00", "around"),
        ("at 3:45pm", "15:45", "at"),
        ("half past 2", "14:30", "at"),
        ("at noon", "12:00", "at"),
        ("10ish", "10:00", "around"),
        ("evening at 7", "19:00", "at"),
    ],
)
def test_it_reads_times_in_clinic_hours(text, time, relation):
    got = slots(text)
    assert (got["time"], got["time_relation"]) == (time, relation)


def test_it_names_the_part_of_the_day():
    assert slots("tomorrow morning") == {"date": "2026-11-30", "part_of_day": "morning"}
    assert slots("thursday afternoon")["part_of_day"] == "afternoon"


@pytest.mark.parametrize(
    "text", ["my 10 mg tablets", "in 2 weeks", "I have 3 kids", "room 12", "the 14th"]
)
def test_numbers_that_are_not_times_give_no_time(text):
    assert "time" not in slots(text)


def test_a_message_without_a_date_gives_none():
    assert slots("I'd like an appointment please") == {}


def test_the_nth_of_next_month_skips_this_months():
    early_november = dt.datetime(2026, 11, 2, 10, 0)  # noqa: DTZ001
    assert slots("the 5th", now=early_november)["date"] == "2026-11-05"
    assert slots("the 5th of next month", now=early_november)["date"] == "2026-12-05"


def test_ordinary_ordinals_are_not_dates():
    assert "date" not in slots("the first available appointment")
    assert "date" not in slots("I'd like a second opinion")


def test_when_a_symptom_began_is_not_a_date():
    assert "date" not in slots("my knee has been sore since tuesday")
    assert "date" not in slots("my sugars were high this morning")
    assert slots("sore since monday, can I come in friday")["date"] == "2026-12-04"


@pytest.mark.parametrize(
    ("text", "date"),
    [("dec-3", "2026-12-03"), ("on 3-Dec-2026", "2026-12-03"), ("december, 3", "2026-12-03")],
)
def test_dateparser_reads_month_phrases_our_rules_do_not(text, date):
    assert slots(text)["date"] == date


def test_a_weekday_beside_a_month_day_only_repeats_it():
    assert slots("7th december monday")["date"] == "2026-12-07"
    assert "date" not in slots("sometime in december")

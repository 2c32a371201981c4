"""Medicines and clinicians: matched, typos included, against the caller's lists only."""

import datetime as dt

import pytest

from assistant.nlu import understand

NOW = dt.datetime(2026, 11, 29, 10, 0)  # noqa: DTZ001 (local clinic time by contract)
MEDICATIONS = [
    "metformin 500 mg tablet",
    "lisinopril 10 mg tablet",
    "albuterol 90 mcg inhaler",
    "insulin glargine 100 units/mL pen",
]


def medication(text, medications=MEDICATIONS):
    return understand(text, now=NOW, medications=medications).slots.get("medication")


@pytest.mark.parametrize(
    ("text", "entry"),
    [
        ("refill my metformin", "metformin 500 mg tablet"),
        ("refill my metfromin", "metformin 500 mg tablet"),
        ("need more lisinipril", "lisinopril 10 mg tablet"),
        ("LISINOPRIL please", "lisinopril 10 mg tablet"),
        ("my inhaler is empty", "albuterol 90 mcg inhaler"),
        ("need more insulin", "insulin glargine 100 units/mL pen"),
    ],
)
def test_it_names_the_exact_list_entry(text, entry):
    assert medication(text) == entry


def test_an_unknown_medicine_gives_no_slot():
    assert medication("refill my atorvastatin") is None
    assert medication("refill my zoloft") is None


def test_a_medicine_not_on_this_patients_list_gives_no_slot():
    # no global drug list: metformin is a medicine, but not this patient's
    assert medication("refill my metformin", ["lisinopril 10 mg tablet"]) is None


def test_of_two_strengths_the_named_dose_wins():
    both = ["metformin 500 mg tablet", "metformin 1000 mg tablet"]
    assert medication("refill my metformin 1000", both) == "metformin 1000 mg tablet"
    assert medication("refill my metformin 500mg", both) == "metformin 500 mg tablet"


def test_an_ehr_display_name_is_matched_by_its_first_word():
    entries = ["Metformin Hydrochloride 500 MG Oral Tablet", "Lisinopril 10 MG Oral Tablet"]
    assert medication("need more metformin", entries) == entries[0]
    assert medication("lisinopril please", entries) == entries[1]


def test_no_list_gives_no_slot():
    assert medication("refill my metformin", []) is None


def test_short_words_do_not_match_by_accident():
    assert medication("can I get more of my meds") is None


def test_it_matches_a_clinician_by_either_name_or_a_typo():
    clinicians = ["Dr Carol Chen", "Dr Sam Patel"]
    for text, who in [
        ("can I see dr chen", "Dr Carol Chen"),
        ("with carol please", "Dr Carol Chen"),
        ("book dr patell", "Dr Sam Patel"),
    ]:
        assert understand(text, now=NOW, clinicians=clinicians).slots["clinician"] == who
    assert "clinician" not in understand("dr smith", now=NOW, clinicians=clinicians).slots


def test_a_name_that_is_an_everyday_word_needs_a_title_or_its_other_name():
    clinicians = ["Dr Will Young", "Dr Carol Chen"]
    assert (
        "clinician" not in understand("I will come tomorrow", now=NOW, clinicians=clinicians).slots
    )
    for text in ["can I see dr young", "with will young please", "dr will on monday"]:
        got = understand(text, now=NOW, clinicians=clinicians).slots
        assert got["clinician"] == "Dr Will Young"

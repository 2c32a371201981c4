"""The assistant's language understanding: local, offline, deterministic where it matters.

    understand(text, now=..., medications=[...], clinicians=[...]) -> Understanding

Red flags first (rules, assistant/nlu/redflags/); then the intent (a classifier trained
from our own utterances, assistant/nlu/classifier.py); then the slots the text names
(dates and times, assistant/nlu/when.py; medicines and clinicians from the lists given,
assistant/nlu/names.py). No network, no database, no logging of the text.
"""

import datetime as dt
from collections.abc import Sequence

from assistant.nlu.classifier import classify
from assistant.nlu.names import find_clinician, find_medication
from assistant.nlu.redflags import red_flag, without_red_flag_words
from assistant.nlu.types import INTENTS, RED_FLAG_KINDS, RedFlag, Understanding
from assistant.nlu.when import dateparser_date, find_date, find_part_of_day, find_time

__all__ = [
    "INTENTS",
    "RED_FLAG_KINDS",
    "RedFlag",
    "Understanding",
    "red_flag",
    "understand",
    "warm_up",
]


def slots(
    text: str,
    *,
    now: dt.datetime,
    medications: Sequence[str] = (),
    clinicians: Sequence[str] = (),
) -> dict[str, str]:
    """The slots the text names (see Understanding.slots)."""
    lowered = text.lower().replace("\u2019", "'").replace("'s ", " ").replace("'", "")
    lowered = " ".join(lowered.split())
    found: dict[str, str] = {}
    date = find_date(lowered, now)
    if date is not None:
        found["date"] = date.isoformat()
    part = find_part_of_day(lowered)
    if part:
        found["part_of_day"] = part
    time = find_time(lowered, part)
    if time:
        found["time"], found["time_relation"] = time
    medication = find_medication(text, medications)
    if medication:
        found["medication"] = medication
    clinician = find_clinician(text, clinicians)
    if clinician:
        found["clinician"] = clinician
    return found


def understand(
    text: str,
    *,
    now: dt.datetime,
    medications: Sequence[str] = (),
    clinicians: Sequence[str] = (),
) -> Understanding:
    """What the message asks for. `now` is naive local clinic time; so are the slots."""
    flag = red_flag(text)
    if flag is not None:
        # The chat stops at once: no visit to book, so no date or time ("since this
        # morning", "tonight" say when it started). A medicine named is kept for the alert.
        medication = find_medication(text, medications)
        return Understanding(
            intent="emergency",
            slots={"medication": medication} if medication else {},
            red_flag=flag,
        )
    return Understanding(
        intent=classify(without_red_flag_words(text)),
        slots=slots(text, now=now, medications=medications, clinicians=clinicians),
        red_flag=None,
    )


def warm_up() -> None:
    """Trains the classifier and loads dateparser's data now, not in a patient's request."""
    new_year = dt.datetime(2026, 1, 1)  # noqa: DTZ001 (local clinic time by contract)
    understand("book me in next tuesday at 3 or dec 3", now=new_year)
    dateparser_date("december 3", new_year)

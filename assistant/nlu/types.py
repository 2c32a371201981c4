"""What the assistant understood from one message: the shapes the chat codes against."""

from collections.abc import Mapping
from dataclasses import dataclass

INTENTS = (
    "book_appointment",
    "reschedule_appointment",
    "cancel_appointment",
    "list_appointments",
    "request_refill",
    "refill_status",
    "message_care_team",
    "billing",
    "emergency",
    "other",
)

# The red-flag kinds (assistant/nlu/redflags/rules.py holds their words).
RED_FLAG_KINDS = (
    "chest_pain",
    "breathing",
    "stroke",
    "bleeding",
    "anaphylaxis",
    "self_harm",
    "overdose",
    "unconscious",
    "seizure",
    "severe_distress",  # "call an ambulance", "I think I'm dying", "unbearable pain"
)


@dataclass(frozen=True)
class RedFlag:
    kind: str  # one of RED_FLAG_KINDS
    # The matched words, for the care team's alert only: never logged, never in an audit row.
    phrase: str


@dataclass(frozen=True)
class Understanding:
    intent: str  # one of INTENTS
    # Only what the text names: "date" (YYYY-MM-DD), "time" (HH:MM, 24 h), "medication" and
    # "clinician" (the exact entry of the list given), "time_relation" (at/after/before/around),
    # "part_of_day" (morning/afternoon/evening).
    slots: Mapping[str, str]
    red_flag: RedFlag | None  # set if and only if intent == "emergency"

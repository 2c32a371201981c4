"""The shape of a conversation's state (assistant/dialogue.py runs it): its steps, the
answers a button may give, and the outcome of one message or button.

A state is a plain JSON document, stored encrypted under the patient's key
(``Conversation.state``).
"""

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

IDLE, ASK_DAY, CHOOSE, CONFIRM, DRAFT, EMERGENCY = (
    "idle",
    "ask_day",
    "choose",
    "confirm",
    "draft",
    "emergency",
)
WHEN_SLOTS = ("date", "time", "time_relation", "part_of_day")
YES, NO, SEND = "yes", "no", "send"
# While asking for a day, the intent whose answer may carry it (besides "other").
ASKED_BY = {"book": "book_appointment", "move": "reschedule_appointment"}


class Heard(Protocol):
    """What the language part understood (assistant.nlu.Understanding is one)."""

    @property
    def intent(self) -> str: ...

    @property
    def slots(self) -> Mapping[str, str]: ...


@dataclass
class Outcome:
    said: list[str]
    state: dict[str, Any]
    # True: the patient confirmed an action; False: declined one; None: neither.
    confirmed: bool | None = None
    # The thread, appointment or request an action made (for the page's link).
    made: dict[str, str] = field(default_factory=dict)


def fresh() -> dict[str, Any]:
    return {"step": IDLE}


def emergency(kind: str) -> dict[str, Any]:
    return {"step": EMERGENCY, "red_flag": kind}


def asking(step: str, kind: str, question: str, **rest: Any) -> dict[str, Any]:
    return {
        "step": step,
        "kind": kind,
        "question": question,
        "pending_id": str(uuid.uuid4()),
    } | rest


def say(state: dict[str, Any], *lines: str) -> Outcome:
    said = [*lines]
    if state.get("question") and state["question"] not in said:
        said.append(state["question"])
    return Outcome(said=[" ".join(said)], state=state)

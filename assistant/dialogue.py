"""The assistant's state machine: what it says to what it understood, and what it does
once the patient confirms.

A conversation's whole memory is one JSON state (stored encrypted):

- ``step``: idle, ask_day, choose, confirm, draft or emergency;
- ``kind``: what the open question is for (book, move, cancel, refill, ...);
- ``pending_id``: a fresh id for every question asked. A button answers one
  question by naming its id; an answer naming any other id (a double submit, the
  back button, a stale tab) changes nothing. A refill's id is also its request's
  one-time token, so even a race cannot ask twice.
- ``data``/``options``/``want``: what was chosen so far, the offered choices, and
  the time the patient asked for.

It acts only on a "yes" to a question that showed exactly what will happen, and
only through the appointments, refills and messaging services with the acting user
(assistant/acts.py; their access checks, rules and audit events). Red flags are
caught before this module sees the message (assistant/services.py).
"""

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from django.http import Http404

from assistant import acts, lookups, replies
from assistant.lookups import Who
from assistant.states import (
    ASK_DAY,
    ASKED_BY,
    CHOOSE,
    CONFIRM,
    DRAFT,
    EMERGENCY,
    IDLE,
    NO,
    SEND,
    WHEN_SLOTS,
    YES,
    Heard,
    Outcome,
    asking,
    fresh,
    say,
)
from billing import money
from billing import selectors as bill_selectors
from refills import selectors as refill_selectors
from refills.rules import Offer
from refills.scope import may_request_for

# --- What the patient wrote ------------------------------------------------------------


def respond(who: Who, state: dict[str, Any], heard: Heard, text: str) -> Outcome:
    step = state.get("step", IDLE)
    if step == EMERGENCY:
        return Outcome([replies.EMERGENCY_STOPPED], state)
    when = {k: v for k, v in heard.slots.items() if k in WHEN_SLOTS}
    if step == ASK_DAY and heard.intent in ("other", ASKED_BY[state["kind"]]):
        if not when:
            return say(state)
        want = {**state.get("want", {}), **when}
        if state["kind"] == "move":
            return _offer_slots(who, want, move=state["data"])
        named = {k: v for k, v in heard.slots.items() if k == "clinician"}
        return _book(who, {**want, **state.get("clinician", {}), **named})
    if step in (CHOOSE, CONFIRM, DRAFT) and heard.intent == "other":
        return say(state, replies.BAD_CHOICE)
    return _start(who, heard, text)


def _start(who: Who, heard: Heard, text: str) -> Outcome:
    intent, slots = heard.intent, dict(heard.slots)
    if intent == "book_appointment":
        return _book(who, slots)
    if intent == "reschedule_appointment":
        return _pick_appointment(who, "move", slots)
    if intent == "cancel_appointment":
        return _pick_appointment(who, "cancel", slots)
    if intent == "list_appointments":
        return _list(who)
    if intent == "request_refill":
        return _refill(who, slots.get("medication", ""))
    if intent == "refill_status":
        return _refill_status(who)
    if intent == "message_care_team":
        return _draft(who, text)
    if intent == "billing":
        return _balance(who)
    return Outcome([replies.MENU], fresh())


# --- Booking, moving, cancelling ---------------------------------------------------------


def _book(who: Who, slots: Mapping[str, str]) -> Outcome:
    names = lookups.clinicians(who)
    named = slots.get("clinician", "")
    clinician_id = names.get(named)
    want = {k: v for k, v in slots.items() if k in WHEN_SLOTS}
    if "date" not in want and "time" not in want and "part_of_day" not in want:
        state = asking(ASK_DAY, "book", replies.ASK_DAY, want=want)
        if clinician_id:
            state["clinician"] = {"clinician": named}
        return say(state)
    options, exact = lookups.find_slots(who, want, clinician_id=clinician_id)
    if not options:
        return Outcome([replies.NO_SLOTS], fresh())
    if exact and (len(options) == 1 or _exact_time(want)):
        return _confirm_slot(options[0], kind="book")
    lead = replies.CHOOSE_SLOT if exact else replies.NEAREST_SLOTS
    return say(asking(CHOOSE, "slot_book", lead, options=options))


def _exact_time(want: Mapping[str, str]) -> bool:
    """A day and a time "at": the one slot asked for, straight to the confirmation."""
    return "date" in want and "time" in want and want.get("time_relation", "at") == "at"


def _confirm_slot(
    slot: dict[str, str], *, kind: str, move: dict[str, str] | None = None
) -> Outcome:
    fields = {
        "clinician": slot["clinician"],
        "when": lookups.shown(slot["starts_at"]),
        "zone": str(lookups.clinic_zone()),
        "mode": slot["mode"],
    }
    if move is not None:
        question = replies.CONFIRM_MOVE.format(old=lookups.shown(move["starts_at"]), **fields)
        return say(asking(CONFIRM, "move", question, data={"slot": slot, "appointment": move}))
    return say(asking(CONFIRM, kind, replies.CONFIRM_BOOK.format(**fields), data={"slot": slot}))


def _pick_appointment(who: Who, kind: str, slots: Mapping[str, str]) -> Outcome:
    found = lookups.changeable_appointments(who)
    if not found:
        return Outcome([replies.NO_UPCOMING], fresh())
    want = {k: v for k, v in slots.items() if k in WHEN_SLOTS}
    if kind == "cancel" and "date" in want:
        on_day = [a for a in found if _local_day(a) == want["date"]]
        found = on_day or found
    if len(found) == 1:
        return _chosen_appointment(who, kind, found[0], want)
    state = asking(CHOOSE, f"appointment_{kind}", replies.CHOOSE_APPOINTMENT, options=found)
    state["want"] = want if kind == "move" else {}
    return say(state)


def _local_day(appointment: dict[str, str]) -> str:
    starts_at = datetime.fromisoformat(appointment["starts_at"])
    return starts_at.astimezone(lookups.clinic_zone()).date().isoformat()


def _chosen_appointment(
    who: Who, kind: str, appointment: dict[str, str], want: Mapping[str, str]
) -> Outcome:
    if kind == "cancel":
        question = replies.CONFIRM_CANCEL.format(
            clinician=appointment["clinician"],
            when=lookups.shown(appointment["starts_at"]),
            zone=str(lookups.clinic_zone()),
        )
        return say(asking(CONFIRM, "cancel", question, data={"appointment": appointment}))
    if not want:
        return say(asking(ASK_DAY, "move", replies.ASK_NEW_DAY, data=appointment, want={}))
    return _offer_slots(who, want, move=appointment)


def _offer_slots(who: Who, want: Mapping[str, str], *, move: dict[str, str]) -> Outcome:
    options, exact = lookups.find_slots(
        who,
        want,
        visit_type_id=uuid.UUID(move["visit_type_id"]),
        ignore_appointment=uuid.UUID(move["id"]),
    )
    if not options:
        return Outcome([replies.NO_SLOTS], fresh())
    if exact and _exact_time(want):
        return _confirm_slot(options[0], kind="move", move=move)
    lead = replies.CHOOSE_SLOT if exact else replies.NEAREST_SLOTS
    return say(asking(CHOOSE, "slot_move", lead, options=options, data=move))


def _list(who: Who) -> Outcome:
    lines = lookups.upcoming_lines(who)
    if not lines:
        return Outcome([replies.LIST_NONE], fresh())
    head = replies.LIST_HEAD.format(zone=lookups.clinic_zone())
    return Outcome(["\n".join([head, *lines, replies.APPOINTMENTS_LINK])], fresh())


# --- Refills -------------------------------------------------------------------------------


def _refill(who: Who, named: str) -> Outcome:
    if not may_request_for(who.actor, who.patient.pk):
        return Outcome([replies.REFILLS_BY_FULL_PROXY], fresh())
    every = lookups.medicines(who)
    if named:
        match = next((m for m in every if m.medicine == named), None)
        if match is not None and match.offer == Offer.NONE:
            return Outcome(
                [replies.NOT_REQUESTABLE.format(medicine=match.medicine, reason=match.reason)],
                fresh(),
            )
        if match is not None:
            return _pharmacy(who, lookups.medicine_option(match))
    requestable = [lookups.medicine_option(m) for m in every if m.offer != Offer.NONE]
    if not requestable:
        return Outcome([replies.NO_REQUESTABLE], fresh())
    if len(requestable) == 1:
        return _pharmacy(who, requestable[0])
    return say(asking(CHOOSE, "medicine", replies.CHOOSE_MEDICINE, options=requestable))


def _pharmacy(who: Who, medicine: dict[str, str]) -> Outcome:
    page = refill_selectors.refills_page(
        actor=who.actor, patient_id=who.patient.pk, context=who.context
    )
    pharmacies = {p.pk: p for p in page.pharmacies}
    preferred = pharmacies.get(page.preferred_pharmacy_id or -1)
    if preferred is not None:
        return _confirm_refill(medicine, {"id": str(preferred.pk), "label": str(preferred)})
    if not pharmacies:
        return Outcome([replies.NO_PHARMACY], fresh())
    options = [{"id": str(p.pk), "label": str(p)} for p in pharmacies.values()]
    return say(asking(CHOOSE, "pharmacy", replies.CHOOSE_PHARMACY, options=options, data=medicine))


def _confirm_refill(medicine: dict[str, str], pharmacy: dict[str, str]) -> Outcome:
    question = replies.CONFIRM_REFILL.format(
        kind=medicine["kind"], medicine=medicine["medicine"], pharmacy=pharmacy["label"]
    )
    return say(
        asking(CONFIRM, "refill", question, data={"medicine": medicine, "pharmacy": pharmacy})
    )


def _refill_status(who: Who) -> Outcome:
    page = refill_selectors.refills_page(
        actor=who.actor, patient_id=who.patient.pk, context=who.context
    )
    if not page.requests:
        return Outcome([replies.REFILL_STATUS_NONE], fresh())
    rows = [
        replies.REFILL_STATUS_ROW.format(
            medicine=item.medicine,
            status=item.get_status_display(),
            when=lookups.shown(item.created_at),
        )
        for summary in page.requests[:3]
        for item in summary.items
    ]
    return Outcome(
        ["\n".join([replies.REFILL_STATUS_HEAD, *rows, replies.REFILL_STATUS_LINK])], fresh()
    )


# --- Messages and bills ------------------------------------------------------------------


def _draft(who: Who, text: str) -> Outcome:
    if not who.is_the_patient:
        return Outcome([replies.MESSAGES_BY_PATIENT], fresh())
    state = asking(
        DRAFT, "message", replies.DRAFTED, data={"subject": replies.DRAFT_SUBJECT, "body": text}
    )
    return Outcome([replies.DRAFTED], state)


def _balance(who: Who) -> Outcome:
    try:
        amount = bill_selectors.balance_due(
            actor=who.actor, patient_id=who.patient.pk, context=who.context
        )
    except Http404:
        return Outcome([replies.NO_BILLS], fresh())
    shown = money.show(amount, money.default_currency())
    return Outcome([replies.BALANCE.format(amount=shown)], fresh())


# --- Buttons: choices, yes and no, send ---------------------------------------------------


def answer(
    who: Who,
    state: dict[str, Any],
    *,
    pending_id: str,
    choice: str,
    draft: Mapping[str, str] | None = None,
) -> Outcome:
    """A button pressed under the question ``pending_id``: an option's number, yes, no,
    or send (with the edited draft). Anything not matching the open question is refused
    without acting."""
    if not pending_id or state.get("pending_id") != pending_id:
        return Outcome([replies.STALE], state)
    step = state["step"]
    if choice == NO and step in (CONFIRM, DRAFT, CHOOSE):
        return Outcome([replies.DECLINED], fresh(), confirmed=False)
    if step == CHOOSE and choice.isdigit() and int(choice) < len(state["options"]):
        return _picked(who, state, state["options"][int(choice)])
    if step == CONFIRM and choice == YES:
        outcome = acts.act(who, state)
        outcome.confirmed = True
        return outcome
    if step == DRAFT and choice == SEND and draft is not None:
        outcome = acts.send(who, draft)
        outcome.confirmed = True if outcome.made else None
        return outcome
    return say(state, replies.BAD_CHOICE)


def _picked(who: Who, state: dict[str, Any], option: dict[str, str]) -> Outcome:
    kind = state["kind"]
    if kind == "slot_book":
        return _confirm_slot(option, kind="book")
    if kind == "slot_move":
        return _confirm_slot(option, kind="move", move=state["data"])
    if kind in ("appointment_cancel", "appointment_move"):
        return _chosen_appointment(
            who, kind.removeprefix("appointment_"), option, state.get("want", {})
        )
    if kind == "medicine":
        return _pharmacy(who, option)
    if kind == "pharmacy":
        return _confirm_refill(state["data"], option)
    return say(state, replies.BAD_CHOICE)

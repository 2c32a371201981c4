"""Writes of the assistant's conversations: each takes the actor and the audit context,
resolves the patient through the access helpers, and records its events in the same
transaction as the change.

Every turn (the patient's and the assistant's) is an ``assistant.turn`` event naming
the turn's id; the text is only in the encrypted turn. What the assistant does on a
"yes" is the services' own events (appointment.book, refill.request, message.send)
written with the same audit context, so the request id ties them to the turn.
"""

import uuid
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from accounts.models import User
from assistant import dialogue, lookups, nlu, replies, states
from assistant.alerts import alert_raise
from assistant.lookups import Who
from assistant.models import AlertKind, AlertPriority, Conversation, Speaker, Turn
from audit.actions import Action
from audit.context import AuditContext
from audit.services import record
from portal.access import PATIENT_SIDE_ROLES, access_patient


def conversation_say(
    *, actor: User, patient_id: uuid.UUID, text: str, context: AuditContext | None = None
) -> Conversation:
    """The patient (or their proxy) wrote ``text``: red flags first, then understand and reply."""
    who = _who(actor, patient_id, context)
    text = text.strip()
    flag = nlu.red_flag(text)  # before anything else looks at the words
    with transaction.atomic():
        conversation = _current(who, lock=True)
        if flag is not None:
            turn = _turn(who, conversation, Speaker.PATIENT, text, intent="emergency")
            said = replies.EMERGENCY
            if flag.kind == "self_harm":
                said = f"{said} {replies.EMERGENCY_SELF_HARM}"
            outcome = states.Outcome([said], states.emergency(flag.kind))
            alert_raise(
                patient_id=who.patient.pk,
                kind=AlertKind.RED_FLAG,
                priority=AlertPriority.URGENT,
                red_flag_kind=flag.kind,
                detail=flag.phrase,
                source_id=turn.pk,
                actor=actor,
                context=who.context,
            )
        elif conversation.state.get("step") == states.EMERGENCY:
            _turn(who, conversation, Speaker.PATIENT, text)
            outcome = states.Outcome([replies.EMERGENCY_STOPPED], conversation.state)
        else:
            heard = _understand(who, text)
            _turn(who, conversation, Speaker.PATIENT, text, intent=heard.intent)
            outcome = dialogue.respond(who, conversation.state, heard, text)
        return _said(who, conversation, outcome)


def conversation_answer(
    *,
    actor: User,
    patient_id: uuid.UUID,
    pending_id: str,
    choice: str,
    draft: Mapping[str, str] | None = None,
    context: AuditContext | None = None,
) -> Conversation:
    """A button under the open question: an option, yes, no, or send the edited draft.

    The conversation row is locked, so a double submit waits and then finds the
    question answered (a new ``pending_id``): it is refused without acting.
    """
    who = _who(actor, patient_id, context)
    with transaction.atomic():
        conversation = _current(who, lock=True)
        state = conversation.state
        label = _answer_label(state, pending_id, choice)
        _turn(who, conversation, Speaker.PATIENT, label)
        outcome = dialogue.answer(who, state, pending_id=pending_id, choice=choice, draft=draft)
        if outcome.confirmed is not None:
            record(
                action=Action.ASSISTANT_CONFIRMED
                if outcome.confirmed
                else Action.ASSISTANT_DECLINED,
                actor=actor,
                context=who.context,
                patient_id=who.patient.pk,
                object_type="Conversation",
                object_id=conversation.pk,
            )
        return _said(who, conversation, outcome)


def conversation_restart(
    *, actor: User, patient_id: uuid.UUID, context: AuditContext | None = None
) -> Conversation:
    """Start over: the current conversation ends (kept, as every turn is) and a new one opens."""
    who = _who(actor, patient_id, context)
    with transaction.atomic():
        old = _current(who, lock=True, create=False)
        if old is not None:
            old.ended_at = timezone.now()
            old.save(update_fields=["ended_at"])
        new = _current(who, lock=True)
        record(
            action=Action.ASSISTANT_RESTART,
            actor=actor,
            context=who.context,
            patient_id=who.patient.pk,
            object_type="Conversation",
            object_id=new.pk,
        )
    return new


# --- Helpers ------------------------------------------------------------------------------


def _who(actor: User, patient_id: uuid.UUID, context: AuditContext | None) -> Who:
    if actor.role not in PATIENT_SIDE_ROLES:
        raise PermissionDenied
    patient = access_patient(actor=actor, patient_id=patient_id)
    return Who(actor=actor, patient=patient, context=context or AuditContext())


def current(who: Who) -> Conversation | None:
    """The open conversation of this user about this patient (a proxy's are their own)."""
    return _current(who, lock=False, create=False)


def _current(who: Who, *, lock: bool, create: bool = True) -> Any:
    rows = Conversation.objects.filter(
        patient=who.patient, started_by_id=who.actor.pk, ended_at__isnull=True
    ).order_by("-created_at")
    if lock:
        rows = rows.select_for_update(of=("self",))
    found = rows.first()
    if found is not None or not create:
        return found
    now = timezone.now()
    conversation = Conversation(
        patient=who.patient,
        started_by_id=who.actor.pk,
        state=states.fresh(),
        created_at=now,
        updated_at=now,
    )
    conversation.save()
    return conversation


def _understand(who: Who, text: str) -> nlu.Understanding:
    medicines = [m.medicine for m in lookups.medicines(who)]
    clinicians = list(lookups.clinicians(who))
    return nlu.understand(
        text, now=lookups.clinic_now(), medications=medicines, clinicians=clinicians
    )


def _answer_label(state: dict[str, Any], pending_id: str, choice: str) -> str:
    """What the patient's button said, as their turn in the transcript."""
    if state.get("pending_id") == pending_id and state.get("step") == states.CHOOSE:
        options = state.get("options", [])
        if choice.isdigit() and int(choice) < len(options):
            return str(options[int(choice)]["label"])
    return {states.YES: "Yes", states.NO: "No", states.SEND: "Send"}.get(choice, "(a choice)")


def _turn(who: Who, conversation: Conversation, speaker: str, text: str, intent: str = "") -> Turn:
    last = conversation.turns.aggregate(n=Max("position"))["n"] or 0
    turn = Turn(
        conversation=conversation,
        patient=who.patient,
        speaker=speaker,
        text=text,
        intent=intent,
        position=last + 1,
        created_at=timezone.now(),
    )
    turn.save()
    record(
        action=Action.ASSISTANT_TURN,
        actor=who.actor,
        context=who.context,
        patient_id=who.patient.pk,
        object_type="Turn",
        object_id=turn.pk,
    )
    return turn


def _said(who: Who, conversation: Conversation, outcome: states.Outcome) -> Conversation:
    for text in outcome.said:
        _turn(who, conversation, Speaker.ASSISTANT, text)
    conversation.state = outcome.state
    return _saved(conversation)


def _saved(conversation: Conversation) -> Conversation:
    conversation.updated_at = timezone.now()
    conversation.save(update_fields=["state", "updated_at"])
    return conversation

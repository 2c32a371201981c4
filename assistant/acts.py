"""What the assistant does on a "yes": the appointments, refills and messaging services,
called with the acting user and the request's audit context, so their access checks,
rules and audit events are the pages' own. A refusal becomes a sentence; nothing here
reaches past a service.
"""

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404

from appointments import services as appointment_services
from assistant import lookups, replies
from assistant.lookups import Who
from assistant.states import CHOOSE, DRAFT, Outcome, asking, fresh, say
from messaging import services as message_services
from messaging.models import Topic
from refills import services as refill_services


def act(who: Who, state: dict[str, Any]) -> Outcome:
    kind, data = state["kind"], state["data"]
    try:
        if kind in ("book", "move"):
            return _act_booking(who, kind, data)
        if kind == "cancel":
            appointment = data["appointment"]
            done = appointment_services.appointment_cancel(
                actor=who.actor,
                patient_id=who.patient.pk,
                appointment_id=uuid.UUID(appointment["id"]),
                reason="",
                context=who.context,
            )
            said = replies.CANCELLED.format(
                clinician=appointment["clinician"], when=lookups.shown(appointment["starts_at"])
            )
            return Outcome([said], fresh(), made={"appointment": str(done.pk)})
        if kind == "refill":
            request = refill_services.refill_request_create(
                actor=who.actor,
                patient_id=who.patient.pk,
                medication_request_ids=[data["medicine"]["id"]],
                pharmacy_id=int(data["pharmacy"]["id"]),
                comment="",
                submit_token=uuid.UUID(state["pending_id"]),
                context=who.context,
            )
            url = f"/patient/refills/{request.pk}/"
            said = replies.REFILL_SENT.format(medicine=data["medicine"]["medicine"], url=url)
            return Outcome([said], fresh(), made={"refill": str(request.pk)})
    except appointment_services.BookingRefused as refused:
        return Outcome([replies.REFUSED.format(why=refused.message)], fresh())
    except ValidationError as refused:
        return Outcome([replies.REFUSED.format(why=" ".join(refused.messages))], fresh())
    except (Http404, PermissionDenied):
        return Outcome([replies.REFUSED.format(why="it is not yours to change.")], fresh())
    return Outcome([replies.BAD_CHOICE], fresh())


def _act_booking(who: Who, kind: str, data: dict[str, Any]) -> Outcome:
    slot = data["slot"]
    choice = appointment_services.SlotChoice(
        clinician_id=uuid.UUID(slot["clinician_id"]),
        location_id=uuid.UUID(slot["location_id"]),
        visit_type_id=uuid.UUID(slot["visit_type_id"]),
        starts_at=datetime.fromisoformat(slot["starts_at"]),
    )
    try:
        if kind == "move":
            done = appointment_services.appointment_reschedule(
                actor=who.actor,
                patient_id=who.patient.pk,
                appointment_id=uuid.UUID(data["appointment"]["id"]),
                choice=choice,
                context=who.context,
            )
        else:
            done = appointment_services.appointment_book(
                actor=who.actor,
                patient_id=who.patient.pk,
                choice=choice,
                reason="",
                context=who.context,
            )
    except appointment_services.SlotTaken as taken:
        options = [lookups.slot_option(s) for s in taken.alternatives]
        if not options:
            return Outcome([replies.REFUSED.format(why=taken.message)], fresh())
        step_kind = "slot_move" if kind == "move" else "slot_book"
        state = asking(CHOOSE, step_kind, replies.NEAREST_SLOTS, options=options)
        if kind == "move":
            state["data"] = data["appointment"]
        return say(state, replies.REFUSED.format(why="that time was just taken."))
    template = replies.MOVED if kind == "move" else replies.BOOKED
    said = template.format(
        id=done.pk,
        clinician=slot["clinician"],
        when=lookups.shown(slot["starts_at"]),
        zone=lookups.clinic_zone(),
    )
    return Outcome([said], fresh(), made={"appointment": str(done.pk)})


def send(who: Who, draft: Mapping[str, str]) -> Outcome:
    subject = draft.get("subject", "").strip() or replies.DRAFT_SUBJECT
    body = draft.get("body", "").strip()
    if not body:
        state = asking(DRAFT, "message", replies.DRAFT_EMPTY, data={"subject": subject, "body": ""})
        return Outcome([replies.DRAFT_EMPTY], state)
    try:
        thread = message_services.thread_start(
            actor=who.actor,
            topic=Topic.MEDICAL,
            subject=subject,
            body=body,
            context=who.context,
        )
    except ValidationError as refused:
        return Outcome([replies.REFUSED.format(why=" ".join(refused.messages))], fresh())
    except PermissionDenied:
        return Outcome([replies.MESSAGES_BY_PATIENT], fresh())
    return Outcome([replies.MESSAGE_SENT], fresh(), made={"thread": str(thread.pk)})

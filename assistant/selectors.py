"""Reads of the assistant: each takes the acting user, returns only what they may see, and
records its audit event."""

import uuid
from dataclasses import dataclass
from typing import Any

from django.db.models import Case, IntegerField, Value, When
from django.http import Http404

from assistant import states
from assistant.models import AlertPriority, CareAlert, Conversation, Turn
from audit.actions import Action
from audit.context import AuditContext
from audit.services import record
from patients.models import Patient, PatientDemographics
from portal.access import (
    CLINICAL_ROLES,
    PATIENT_SIDE_ROLES,
    Actor,
    access_patient,
    clinical_patients,
    proxy_grant,
)
from portal.crypto.selectors import preload_keys

QUEUE_LIMIT = 200


@dataclass(frozen=True)
class AlertRow:
    alert: CareAlert
    demographics: PatientDemographics | None


@dataclass(frozen=True)
class AlertQueue:
    rows: list[AlertRow]


def alert_queue(*, actor: Actor, context: AuditContext | None = None) -> AlertQueue:
    """The open alerts about patients the clinician may see (care teams and unexpired
    break-glass grants): urgent first, then oldest first."""
    if actor.role not in CLINICAL_ROLES:
        return AlertQueue(rows=[])
    urgent_first = Case(
        When(priority=AlertPriority.URGENT, then=Value(0)),
        default=Value(1),
        output_field=IntegerField(),
    )
    alerts = list(
        CareAlert.objects.filter(
            acknowledged_at__isnull=True, patient__in=clinical_patients(actor)
        ).order_by(urgent_first, "created_at", "id")[:QUEUE_LIMIT]
    )
    patient_ids = {a.patient_id for a in alerts}
    preload_keys(list(patient_ids))
    names = {
        d.patient_id: d for d in PatientDemographics.objects.filter(patient_id__in=patient_ids)
    }
    record(
        action=Action.ASSISTANT_ALERT_QUEUE,
        actor=actor,
        context=context,
        object_type="alert_queue",
        object_id=len(alerts),
    )
    return AlertQueue(rows=[AlertRow(a, names.get(a.patient_id)) for a in alerts])


# --- The patient's conversation ----------------------------------------------------------


@dataclass(frozen=True)
class ConversationPage:
    patient: Patient
    conversation: Conversation | None
    turns: list[Turn]
    step: str
    pending_id: str
    question: str
    options: list[str]  # the labels of the offered choices, by number
    draft: dict[str, str]
    red_flag: str  # the red flag's kind while the conversation is stopped, else ""
    proxy: bool

    @property
    def confirming(self) -> bool:
        return self.step == states.CONFIRM

    @property
    def emergency(self) -> bool:
        return self.step == states.EMERGENCY


def conversation_page(
    *, actor: Actor, patient_id: uuid.UUID, context: AuditContext | None = None
) -> ConversationPage:
    """The actor's open conversation about the patient (their own, or one they act for)."""
    if actor.role not in PATIENT_SIDE_ROLES:
        raise Http404("No such conversation.")
    patient = access_patient(actor=actor, patient_id=patient_id)
    conversation = (
        Conversation.objects.filter(patient=patient, started_by_id=actor.pk, ended_at__isnull=True)
        .order_by("-created_at")
        .first()
    )
    preload_keys([patient.pk])
    turns = list(conversation.turns.all()) if conversation is not None else []
    state: dict[str, Any] = conversation.state if conversation is not None else states.fresh()
    record(
        action=Action.ASSISTANT_VIEW,
        actor=actor,
        context=context,
        patient_id=patient.pk,
        object_type="Conversation",
        object_id=conversation.pk if conversation is not None else "",
    )
    return ConversationPage(
        patient=patient,
        conversation=conversation,
        turns=turns,
        step=state.get("step", states.IDLE),
        pending_id=state.get("pending_id", ""),
        question=state.get("question", ""),
        options=[o["label"] for o in state.get("options", [])],
        draft=state.get("data", {}) if state.get("step") == states.DRAFT else {},
        red_flag=state.get("red_flag", ""),
        proxy=proxy_grant(actor=actor, patient_id=patient.pk) is not None,
    )

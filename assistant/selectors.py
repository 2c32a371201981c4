"""Reads of the assistant: each takes the acting user, returns only what they may see, and
records its audit event."""

from dataclasses import dataclass

from django.db.models import Case, IntegerField, Value, When

from assistant.models import AlertPriority, CareAlert
from audit.actions import Action
from audit.context import AuditContext
from audit.services import record
from patients.models import PatientDemographics
from portal.access import CLINICAL_ROLES, Actor, clinical_patients
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

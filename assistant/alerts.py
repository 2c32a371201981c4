"""Care-team alerts: raised by the assistant's red flags and the post-discharge check-ins,
worked from the staff queue (/staff/assistant/alerts/).

``alert_raise`` runs in the caller's transaction and records its audit event there;
the notice to the patient's care-team clinicians and the clinical pool's lead is a
job on the "mail" queue, so it goes out only if that transaction commits, and it
says only that an alert is waiting and where (assistant/tasks.py).
"""

import uuid

from django.db import transaction
from django.http import Http404
from django.utils import timezone

from assistant import tasks
from assistant.models import AlertKind, AlertPriority, CareAlert
from audit.actions import Action, Severity
from audit.context import AuditContext
from audit.services import record
from patients.models import Patient
from portal.access import CLINICAL_ROLES, Actor, clinical_patients, via_break_glass


def alert_raise(
    *,
    patient_id: uuid.UUID,
    kind: str,
    priority: str,
    red_flag_kind: str = "",
    detail: str = "",
    source_id: uuid.UUID | None = None,
    actor: Actor | None = None,
    context: AuditContext | None = None,
) -> CareAlert:
    """Put an alert in the patient's care team's queue and tell them (no PHI) after commit.

    ``actor`` is whoever's words raised it (the patient, or a proxy), None for a job.
    The caller has resolved the patient; ``detail`` is encrypted and never logged.
    """
    if kind not in AlertKind.values or priority not in AlertPriority.values:
        raise ValueError("unknown alert kind or priority")
    patient = Patient.objects.get(pk=patient_id)
    with transaction.atomic():
        alert = CareAlert(
            patient=patient,
            kind=kind,
            priority=priority,
            red_flag_kind=red_flag_kind,
            detail=detail,
            source_id=source_id,
            created_at=timezone.now(),
        )
        alert.full_clean()
        alert.save()
        record(
            action=Action.ASSISTANT_ALERT_RAISED,
            actor=actor,
            context=context,
            patient_id=patient.pk,
            object_type="CareAlert",
            object_id=alert.pk,
            severity=Severity.HIGH if priority == AlertPriority.URGENT else Severity.INFO,
        )
        tasks.notify_care_team_later(alert_id=alert.pk)
    return alert


def alert_acknowledge(
    *, actor: Actor, alert_id: uuid.UUID, context: AuditContext | None = None
) -> CareAlert:
    """A physician or nurse who may see the patient takes the alert (once; again is a no-op).

    404 alike for a missing alert and one about a patient the actor may not see.
    """
    with transaction.atomic():
        alert = alert_for(actor=actor, alert_id=alert_id, lock=True)
        if alert.acknowledged_at is not None:
            return alert
        alert.acknowledged_by = actor  # type: ignore[assignment]
        alert.acknowledged_at = timezone.now()
        alert.save(update_fields=["acknowledged_by", "acknowledged_at"])
        record(
            action=Action.ASSISTANT_ALERT_ACK,
            actor=actor,
            context=context,
            patient_id=alert.patient_id,
            object_type="CareAlert",
            object_id=alert.pk,
            severity=Severity.HIGH
            if via_break_glass(actor=actor, patient=alert.patient)
            else Severity.INFO,
        )
    return alert


def alert_for(*, actor: Actor, alert_id: uuid.UUID, lock: bool = False) -> CareAlert:
    """The alert if the actor is a clinician who may see its patient (care team or
    break-glass); 404 alike otherwise."""
    if actor.role not in CLINICAL_ROLES:
        raise Http404("No such alert.")
    rows = CareAlert.objects.filter(pk=alert_id, patient__in=clinical_patients(actor))
    if lock:
        rows = rows.select_for_update(of=("self",))
    found = rows.select_related("patient").first()
    if found is None:
        raise Http404("No such alert.")
    return found

"""The one way to write to the audit trail."""

import uuid

from django.db import transaction
from django.http import HttpRequest

from audit.actions import Action, Outcome, Severity
from audit.chain import seal_pending
from audit.models import AuditEvent
from portal.net import client_ip


def record(
    *,
    action: Action,
    outcome: Outcome = Outcome.SUCCESS,
    request: HttpRequest | None = None,
    actor=None,
    actor_id: uuid.UUID | None = None,
    patient_id: uuid.UUID | None = None,
    object_type: str = "",
    object_id: object = "",
    reason: str = "",
    severity: Severity = Severity.INFO,
) -> AuditEvent:
    """Record one event: who, as what role, did what, to what, with which result.

    Call it inside the transaction of the change it describes, so the event
    and the change commit or roll back together. Pass ids, never PHI values:
    ``reason`` is for the user's own stated reason (break-glass), nothing else.
    The actor defaults to the request's signed-in user.
    """
    if actor is None and request is not None:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            actor = user
    event = AuditEvent.objects.create(
        action=action,
        outcome=outcome,
        severity=severity,
        actor_id=actor.pk if actor is not None else actor_id,
        actor_role=getattr(actor, "role", "") if actor is not None else "",
        patient_id=patient_id,
        object_type=object_type,
        object_id=str(object_id) if object_id else "",
        client_ip=client_ip(request) if request is not None else None,
        request_id=getattr(request, "request_id", "") if request is not None else "",
        reason=reason,
    )
    # Chain it once this transaction has finished. A failure here loses
    # nothing: the event is stored, and the next sealer picks it up.
    transaction.on_commit(seal_pending, robust=True)
    return event

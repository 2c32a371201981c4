"""The one way to write to the audit trail, its checkpoints and export manifests."""

import logging
import uuid
from typing import Any

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from audit import checkpoints
from audit import manifest as manifest_format
from audit.actions import Action, Outcome, Severity
from audit.chain import seal_pending, seal_soon
from audit.context import NO_CONTEXT, AuditContext, audit_context
from audit.models import AuditCheckpoint, AuditEvent, AuditExport, AuditSeal
from portal.crypto import signing
from portal.policy import Actor

log = logging.getLogger(__name__)


def record(
    *,
    action: Action,
    outcome: Outcome = Outcome.SUCCESS,
    request: HttpRequest | None = None,
    actor: Actor | None = None,
    actor_id: uuid.UUID | None = None,
    patient_id: uuid.UUID | None = None,
    object_type: str = "",
    object_id: object = "",
    reason: str = "",
    severity: Severity = Severity.INFO,
    context: AuditContext | None = None,
) -> AuditEvent:
    """Record one event: who, as what role, did what, to what, with which result.

    Call it inside the transaction of the change it describes, so the event
    and the change commit or roll back together. Pass ids, never PHI values:
    ``reason`` is for the user's own stated reason (break-glass), nothing else.
    The actor defaults to the request's signed-in user. Callers without a
    request (selectors, services) pass ``actor`` and ``context`` instead.
    """
    if context is None:
        context = audit_context(request) if request is not None else NO_CONTEXT
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
        client_ip=context.client_ip,
        request_id=context.request_id,
        reason=reason,
    )
    # Chain it once this transaction has finished (throttled per process; the
    # worker's periodic job catches what a throttled attempt left). A failure
    # here loses nothing: the event is stored, and the next sealer picks it up.
    transaction.on_commit(seal_soon, robust=True)
    return event


def checkpoint_create() -> AuditCheckpoint | None:
    """Seal what has finished, then sign and store the chain head (None while it is empty).

    Run it periodically (``manage.py audit_checkpoint``), even when nothing
    happened: with AUDIT_CHECKPOINT_MAX_AGE, a missing recent checkpoint is
    itself a finding. The signed head also goes to the log, a second witness
    outside the database.
    """
    seal_pending()
    head = AuditSeal.objects.order_by("-seq").values_list("seq", "hash").first()
    if head is None:
        return None
    seq, digest = head[0], bytes(head[1])
    now = timezone.now()
    key_id, signature = signing.sign(checkpoints.message(seq=seq, digest=digest, created_at=now))
    checkpoint = AuditCheckpoint.objects.create(
        seq=seq, hash=digest, created_at=now, key_id=key_id, signature=signature
    )
    log.info(
        "audit checkpoint %s seq=%s hash=%s key=%s signature=%s",
        checkpoint.pk,
        seq,
        digest.hex(),
        key_id,
        signature.hex(),
    )
    return checkpoint


def export_manifest_store(
    *, export_id: uuid.UUID, actor_id: uuid.UUID, manifest: dict[str, Any]
) -> dict[str, Any]:
    """Sign a finished export's manifest and keep it; returns it with its signature."""
    manifest = {**manifest, "context": manifest_format.CONTEXT, "export_id": str(export_id)}
    key_id, signature = signing.sign(manifest_format.signed_bytes(manifest))
    AuditExport.objects.create(
        id=export_id, actor_id=actor_id, manifest=manifest, key_id=key_id, signature=signature
    )
    return manifest_format.with_signature(manifest, key_id, signature)

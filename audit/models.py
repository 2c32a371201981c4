"""The audit trail: append-only events, chained by SHA-256 seals.

Rows are written by audit.services alone. PostgreSQL triggers (migrations
0002 and 0003) refuse UPDATE, DELETE and TRUNCATE on every table here,
whoever asks. Events carry ids and codes, never PHI values.
"""

import uuid

from django.db import models
from django.utils import timezone

from audit.actions import Action, Outcome, Severity


class CurrentTransactionId(models.Func):
    """The writing transaction's 64-bit id: lets the sealer tell finished rows apart."""

    template = "(pg_current_xact_id()::text::bigint)"
    output_field = models.BigIntegerField()


class AuditEvent(models.Model):
    occurred_at = models.DateTimeField(default=timezone.now)
    actor_id = models.UUIDField(null=True, blank=True)
    actor_role = models.CharField(max_length=20, blank=True)
    # The vocabulary is audit.actions.Action; it is not repeated as database
    # choices, so a new action needs no migration.
    action = models.CharField(max_length=40)
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.INFO)
    patient_id = models.UUIDField(null=True, blank=True)
    object_type = models.CharField(max_length=60, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    client_ip = models.GenericIPAddressField(null=True, blank=True)
    request_id = models.CharField(max_length=36, blank=True)
    reason = models.TextField(blank=True)
    xid = models.BigIntegerField(db_default=CurrentTransactionId(), editable=False)

    class Meta:
        db_table = "audit_event"
        indexes = [
            models.Index(fields=["xid", "id"], name="audit_event_xid_id"),
            models.Index(fields=["occurred_at"], name="audit_event_occurred"),
            models.Index(fields=["actor_id", "occurred_at"], name="audit_event_actor"),
            models.Index(fields=["patient_id", "occurred_at"], name="audit_event_patient"),
            models.Index(fields=["action", "occurred_at"], name="audit_event_action"),
        ]

    def __str__(self) -> str:
        return f"audit event {self.pk} {self.action} {self.outcome}"

    def get_action_display(self) -> str:
        try:
            return Action(self.action).label
        except ValueError:
            return self.action


class AuditSeal(models.Model):
    """Position ``seq`` of the chain: SHA-256(prev_hash || canonical event)."""

    seq = models.BigIntegerField(primary_key=True)
    event = models.OneToOneField(AuditEvent, on_delete=models.PROTECT, related_name="seal")
    prev_hash = models.BinaryField(max_length=32)
    hash = models.BinaryField(max_length=32)
    sealed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "audit_seal"

    def __str__(self) -> str:
        return f"audit seal {self.seq}"


class AuditCheckpoint(models.Model):
    """The chain head at one moment, signed with a key the database never holds.

    verify_audit checks every signature and that the chain still reaches
    ``seq`` with this ``hash``: deleting the newest events and seals is then
    visible once a checkpoint has covered them.
    """

    seq = models.BigIntegerField()
    hash = models.BinaryField(max_length=32)
    created_at = models.DateTimeField(default=timezone.now)
    key_id = models.CharField(max_length=16)
    signature = models.BinaryField(max_length=64)

    class Meta:
        db_table = "audit_checkpoint"
        indexes = [models.Index(fields=["seq"], name="audit_checkpoint_seq")]

    def __str__(self) -> str:
        return f"audit checkpoint at {self.seq}"


class AuditExport(models.Model):
    """The signed manifest of one finished export (see audit/exports.py)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    actor_id = models.UUIDField()
    created_at = models.DateTimeField(default=timezone.now)
    manifest = models.JSONField()
    key_id = models.CharField(max_length=16)
    signature = models.BinaryField(max_length=64)

    class Meta:
        db_table = "audit_export"
        indexes = [models.Index(fields=["actor_id", "created_at"], name="audit_export_actor")]

    def __str__(self) -> str:
        return f"audit export {self.pk}"

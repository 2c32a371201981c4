"""Writes: creating, re-wrapping and destroying patients' data keys; reporting bad values.

Rotation and shredding record their audit events in the transaction of their
change. Creating a key is part of the first encrypted write and not audited.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from django.apps import apps
from django.db import transaction
from django.utils import timezone

from audit.actions import Action, Outcome, Severity
from audit.context import AuditContext
from audit.services import record
from portal.crypto import disposals, envelope, keyring, selectors
from portal.crypto.errors import DecryptionError, InvalidCiphertext, ValueDisposed
from portal.crypto.models import PatientKey, PHIModel, patient_model
from portal.crypto.primitives import Aead, random_key
from portal.crypto.scope import current_scope
from portal.policy import Actor

log = logging.getLogger(__name__)

ROTATE_BATCH = 500


def patient_key_ensure(*, patient_id: uuid.UUID) -> Aead:
    """The patient's data key for writing, created on the patient's first encrypted value.

    Refuses (PatientKeyShredded) once the patient's key has been shredded: no new
    PHI is written for a disposed patient.
    """
    scope = current_scope()
    if scope is not None and (cached := scope.keys.get(patient_id.int)) is not None:
        return cached
    if not PatientKey.objects.filter(pk=patient_id).exists():
        _patient_key_create(patient_id)
    return selectors.data_key(patient_id)


def _patient_key_create(patient_id: uuid.UUID) -> None:
    # The share is on disk before the row that needs it; a share whose row never
    # commits is reused by the next attempt (first writer wins in the store).
    share = keyring.key_store().create(patient_id)
    keks = keyring.keks()
    wrapped = envelope.wrap(
        random_key(),
        patient_id=patient_id,
        version=keks.newest,
        kek=keks.by_version[keks.newest],
        share=share,
    )
    # ON CONFLICT DO NOTHING: a racing request's key (or a shredded row) wins
    # and the caller re-reads whichever row is there.
    PatientKey.objects.bulk_create(
        [PatientKey(patient_id=patient_id, kek_version=keks.newest, wrapped_key=wrapped)],
        ignore_conflicts=True,
    )


def decrypt_failure_report(error: DecryptionError) -> None:
    """Audit an undecryptable value once per key scope (high severity: it may be tampering).

    Disposed values are not failures: their disposal is already on record.
    """
    if isinstance(error, ValueDisposed):
        return
    scope = current_scope()
    seen = (error.model, error.field, str(error.row_id))
    if scope is not None:
        if seen in scope.reported:
            return
        scope.reported.add(seen)
    log.warning("undecryptable value: %s", error)
    record(
        action=Action.DECRYPT_FAILED,
        outcome=Outcome.FAILURE,
        severity=Severity.HIGH,
        request=scope.request if scope is not None else None,
        patient_id=error.patient_id if isinstance(error.patient_id, uuid.UUID) else None,
        object_type=f"{error.model}.{error.field}"[:60],
        object_id=error.row_id,
    )


# --- Rotation -------------------------------------------------------------------


@dataclass
class RotationReport:
    newest: int
    rewrapped: int = 0
    batches: int = 0
    failed: list[uuid.UUID] = field(default_factory=list)


def patient_keys_rotate(
    *, actor: Actor | None = None, batch_size: int = ROTATE_BATCH
) -> RotationReport:
    """Re-wrap every live data key under the newest KEK, one transaction per batch.

    Readers never wait: a row changes version and wrapped key in one UPDATE,
    and data keys themselves do not change, so no ciphertext is touched.
    Interrupting is safe; the next run picks up the keys still on old versions.
    Rows locked by a concurrent shred or key creation are skipped this run
    (``rotate_keys --check`` shows them). Each batch is one audit event whose
    object id is ``v<newest>:<keys in the batch>``.
    """
    keks = keyring.keks()
    store = keyring.key_store()
    report = RotationReport(newest=keks.newest)
    after: uuid.UUID | None = None
    while True:
        with transaction.atomic():
            pending = (
                PatientKey.objects.select_for_update(skip_locked=True)
                .filter(shredded_at__isnull=True)
                .exclude(kek_version=keks.newest)
                .order_by("patient_id")
            )
            if after is not None:
                pending = pending.filter(patient_id__gt=after)
            batch = list(pending[:batch_size])
            if not batch:
                return report
            after = batch[-1].patient_id
            done = []
            for key in batch:
                old_kek = keks.by_version.get(key.kek_version)
                share = store.get(key.patient_id)
                try:
                    if old_kek is None or share is None:
                        raise InvalidCiphertext("KEK version or key share missing")
                    raw = envelope.unwrap(
                        bytes(key.wrapped_key),
                        patient_id=key.patient_id,
                        version=key.kek_version,
                        kek=old_kek,
                        share=share,
                    )
                except InvalidCiphertext:
                    report.failed.append(key.patient_id)
                    record(
                        action=Action.DECRYPT_FAILED,
                        outcome=Outcome.FAILURE,
                        severity=Severity.HIGH,
                        actor=actor,
                        patient_id=key.patient_id,
                        object_type="portal.patientkey",
                        object_id=key.patient_id,
                    )
                    continue
                key.wrapped_key = envelope.wrap(
                    raw,
                    patient_id=key.patient_id,
                    version=keks.newest,
                    kek=keks.by_version[keks.newest],
                    share=share,
                )
                key.kek_version = keks.newest
                done.append(key)
            if done:
                PatientKey.objects.bulk_update(done, ["kek_version", "wrapped_key"])
                record(
                    action=Action.KEY_ROTATED,
                    actor=actor,
                    object_type="portal.patientkey",
                    object_id=f"v{keks.newest}:{len(done)}",
                )
            report.rewrapped += len(done)
            report.batches += 1


# --- Crypto-shredding ------------------------------------------------------------


@dataclass(frozen=True)
class ShredReport:
    patient_id: uuid.UUID
    shredded_at: datetime
    already_shredded: bool
    share_destroyed: bool
    indexes_cleared: int


def patient_shred(
    *,
    patient_id: uuid.UUID,
    actor: Actor | None = None,
    reason: str = "",
    context: AuditContext | None = None,
    disposed_at: datetime | None = None,
) -> ShredReport:
    """Destroy the patient's data key: every value encrypted under it becomes unreadable,
    also in database dumps taken earlier (the key-store share is gone).

    The key row stays as the disposal record (empty wrapped key, ``shredded_at``)
    and the disposal is a high-severity audit event. The patient's blind indexes
    are cleared too, so a lookup by MRN no longer finds the disposed rows.
    Destroying the share is the last step inside the transaction: if it fails,
    nothing is recorded; if the commit fails after it, the data is already
    unreadable and running the shred again completes the record. Idempotent.
    The disposal is also appended to the disposal log beside the key store
    (disposals.py); ``disposed_at`` is given only when re-applying one from it.
    """
    patients = patient_model()
    if not patients._default_manager.filter(pk=patient_id).exists():
        raise patients.DoesNotExist(f"no patient {patient_id}")  # type: ignore[attr-defined]
    with transaction.atomic():
        key = PatientKey.objects.select_for_update().filter(pk=patient_id).first()
        already = key is not None and key.shredded_at is not None
        if key is not None and key.shredded_at:
            shredded_at = key.shredded_at
        else:
            shredded_at = disposed_at or timezone.now()
        if key is None:
            # Never had a key: the row still records the disposal and blocks a new key.
            PatientKey.objects.create(
                patient_id=patient_id, kek_version=0, wrapped_key=b"", shredded_at=shredded_at
            )
        elif not already:
            key.wrapped_key = b""
            key.shredded_at = shredded_at
            key.save(update_fields=["wrapped_key", "shredded_at"])
        cleared = _blind_indexes_clear(patient_id)
        if not already:
            record(
                action=Action.PATIENT_SHREDDED,
                severity=Severity.HIGH,
                actor=actor,
                patient_id=patient_id,
                object_type="portal.patientkey",
                object_id=patient_id,
                reason=reason,
                context=context,
            )
        # The disposal log lives with the key store, outside every database backup,
        # so a restore of an older backup re-applies this disposal (restore command).
        store = keyring.key_store()
        disposals.append(store.root, patient_id=patient_id, disposed_at=shredded_at)
        destroyed = store.destroy(patient_id)
    if (scope := current_scope()) is not None:
        scope.keys.pop(patient_id.int, None)
    return ShredReport(patient_id, shredded_at, already, destroyed, cleared)


@dataclass(frozen=True)
class ReapplyReport:
    recorded: int
    reapplied: list[uuid.UUID]
    not_in_database: int
    since: int = 0


def disposals_reapply(*, backup_id: str, since: datetime | None = None) -> ReapplyReport:
    """After a database restore or a point-in-time recovery: shred again every patient
    the disposal log names (``backup_id`` labels the audit events' reason).

    A backup taken before a disposal holds the patient's live key row (the share
    is gone from the key store all the same, so the data was unreadable anyway);
    this empties that row, clears the blind indexes and records the disposal
    again (high severity, reason naming the backup), so the restored database
    says what the clinic did. Patients the backup never had are counted, not
    created. Idempotent: patients already shredded in the backup are skipped.
    Every logged disposal is considered, not only those after ``since`` (the
    backup's creation, which only counts them): one the database lacks for any
    reason is re-applied all the same.
    """
    recorded = disposals.entries(keyring.key_store().root)
    patients = patient_model()
    reapplied = []
    missing = 0
    for disposal in recorded:
        if not patients._default_manager.filter(pk=disposal.patient_id).exists():
            missing += 1
            continue
        if PatientKey.objects.filter(pk=disposal.patient_id, shredded_at__isnull=False).exists():
            continue
        patient_shred(
            patient_id=disposal.patient_id,
            reason=f"disposal re-applied after restoring backup {backup_id}",
            disposed_at=disposal.disposed_at,
        )
        reapplied.append(disposal.patient_id)
    later = sum(1 for d in recorded if since is not None and d.disposed_at >= since)
    return ReapplyReport(len(recorded), reapplied, missing, later)


def _blind_indexes_clear(patient_id: uuid.UUID) -> int:
    from portal.crypto.fields import BlindIndexField  # the fields module imports this one

    cleared = 0
    for model in apps.get_models():
        if not issubclass(model, PHIModel):
            continue
        names = [f.name for f in model._meta.concrete_fields if isinstance(f, BlindIndexField)]
        if names:
            rows = model._base_manager.filter(**{model.patient_attname(): patient_id})
            cleared += rows.update(**dict.fromkeys(names))
    return cleared

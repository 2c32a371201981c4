"""Storing what the EHR sent: validate, check the patient, map, encrypt, upsert.

``ingest()`` takes resources already fetched (the sync job passes
``FhirClient.search(...)``; tests pass lists) and never touches the network.
Everything upstream is untrusted:

- a resource that fails validation, has no usable id or is of another type
  than asked for is quarantined (ids and a reason code only) and audited, and
  the rest goes on;
- a resource whose ``subject``/``patient`` is not ``Patient/<the id asked
  for>`` is dropped, never stored, and raises a high-severity audit alert;
- values and units are kept exactly as sent, no conversion.

Upserts are idempotent by (patient, type, id): a resource whose stored copy
has the same or a newer ``meta.lastUpdated``/``versionId`` is skipped. Each
batch locks the patient's SyncState row of the type, so two syncs of the same
patient and type never interleave (and never race on the unique constraint).

Memory and transactions: the iterator is consumed in batches of
``batch_size`` (a FHIR page's worth); each batch is written in one
transaction with its quarantine events (a batch without any commits without
waiting for its WAL flush: see ``_commit_without_waiting_for_the_disk``), so
memory is bounded by the batch, not
by the patient (apart from the set of ids seen, a few dozen bytes per resource,
which detects a resource served twice: see ``IngestReport.repeated``). The sync
event (counts only) and the sync state follow in a last transaction once the
iterator is exhausted; if the iterator raises
(network, breaker), the batches stored so far stay, a failed sync event is
recorded, ``high_water`` does not move, and the error propagates.
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice
from typing import Any

from django.db import connection, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from audit.actions import Action, Outcome, Severity
from audit.services import record
from patients.models import Patient
from portal.crypto.bulk import copy_insert_sealed
from portal.crypto.fields import bulk_update_sealed
from portal.crypto.scope import key_scope
from portal.fhir import InvalidResource, validate
from records.models import FhirRecord, Quarantine, QuarantineReason, ResourceType, SyncState
from records.types import AnyDisplay, display_of, record_type

BATCH_SIZE = 100
# What a newer copy of a stored resource replaces (one UPDATE per batch).
_REPLACED_FIELDS = ["version_id", "last_updated", "resource", "display", "stored_at"]
_FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")


@dataclass
class IngestReport:
    stored: int = 0  # new or replaced
    unchanged: int = 0  # same or older version than the stored one
    quarantined: int = 0
    dropped: int = 0  # about another patient
    high_water: datetime | None = None
    # A resource that came twice in one sync: the server's result set changed
    # while it was paged (offset paging shifts: something else may have been
    # skipped), so the high-water mark must not move past this sync.
    repeated: int = 0
    # The ids listed so far (see ``listed()``), kept compact because they are the one
    # thing that grows with the patient: ASCII bytes (FHIR ids are ASCII) as dict
    # keys hold 10,000 ids in about half a set of str's memory (a set's table is
    # sparse and grows fourfold).
    seen: dict[bytes, None] = field(default_factory=dict, repr=False)
    removed: int = 0  # no longer listed by a complete sync: deleted on the EHR

    def listed(self) -> list[str]:
        """The ids of every resource listed so far (stored, unchanged or invalid)."""
        return [fhir_id.decode() for fhir_id in self.seen]

    def summary(self) -> str:
        """Counts for the audit event's object id (no PHI, fits 64 characters)."""
        return (
            f"stored={self.stored},unchanged={self.unchanged},"
            f"quarantined={self.quarantined},dropped={self.dropped},removed={self.removed}"
        )


def ingest(
    *,
    patient: Patient,
    resource_type: str,
    resources: Iterable[dict[str, Any]],
    requested_patient_fhir_id: str,
    actor: Any = None,
    batch_size: int = BATCH_SIZE,
    complete: bool = False,
) -> IngestReport:
    """Store one sync's resources of one type for ``patient``; returns the counts.

    ``complete``: ``resources`` is everything the EHR lists of this type for the
    patient (an unfiltered search, not an incremental one). Then stored rows it
    no longer lists are removed (the EHR deleted them), unless the listing was
    unreliable (a resource came twice); see ``_remove_unlisted``.
    """
    resource_type = ResourceType(resource_type)  # ValueError for a type we do not sync
    if not _FHIR_ID.fullmatch(requested_patient_fhir_id):
        raise ValueError("requested_patient_fhir_id is not a FHIR id")
    report = IngestReport()
    expected_reference = f"Patient/{requested_patient_fhir_id}"
    iterator = iter(resources)
    # Each batch its own transaction (not a savepoint of a caller's): see
    # _commit_without_waiting_for_the_disk, which must not touch a caller's.
    own_transactions = not connection.in_atomic_block
    with key_scope():
        try:
            while batch := list(islice(iterator, batch_size)):
                with transaction.atomic():
                    refused_before = report.quarantined + report.dropped
                    _sync_state_lock(patient, resource_type)
                    accepted = [
                        item
                        for resource in batch
                        if (
                            item := _screen(
                                patient=patient,
                                resource_type=resource_type,
                                resource=resource,
                                expected_reference=expected_reference,
                                actor=actor,
                                report=report,
                            )
                        )
                    ]
                    _upsert(patient, resource_type, accepted, report)
                    if own_transactions and report.quarantined + report.dropped == refused_before:
                        _commit_without_waiting_for_the_disk()
        except Exception:
            with transaction.atomic():
                _record_sync(patient, resource_type, actor, report, Outcome.FAILURE)
            raise
        with transaction.atomic():
            state = _sync_state_lock(patient, resource_type)
            state.last_synced_at = timezone.now()
            if (
                report.high_water
                and not report.repeated
                and (state.high_water is None or report.high_water > state.high_water)
            ):
                state.high_water = report.high_water
            if complete and not report.repeated:
                report.removed = _remove_unlisted(patient, resource_type, report.listed(), actor)
                state.last_complete_at = state.last_synced_at
            state.save()
            _record_sync(patient, resource_type, actor, report, Outcome.SUCCESS)
    return report


def _commit_without_waiting_for_the_disk() -> None:
    """This batch's commit need not wait for its WAL to reach the disk.

    Safe here, and only here: the batch holds copies of the EHR's resources and
    nothing for the audit trail (a batch that quarantined or dropped a resource
    commits as usual). WAL is flushed in order, so the sync's last transaction
    (sync state, high-water mark, sync event), which does wait, makes every
    batch before it durable too; a server crash before that point loses at most
    the batches of a sync that never recorded its success, and the next sync,
    from the old high-water mark, fetches them again.
    """
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL synchronous_commit TO OFF")


def _remove_unlisted(patient: Patient, resource_type: str, listed: list[str], actor: Any) -> int:
    """Delete the stored resources of this type that the EHR's complete listing lacks.

    A resource deleted on the EHR never appears in an incremental search, so
    only a complete one can tell. One audit event per removed resource (ids).
    """
    gone = list(
        FhirRecord.objects.filter(patient=patient, resource_type=resource_type)
        .exclude(fhir_id__in=listed)
        .values_list("pk", "fhir_id")
    )
    for _pk, fhir_id in gone:
        record(
            action=Action.RECORDS_REMOVED,
            actor=actor,
            patient_id=patient.pk,
            object_type=resource_type,
            object_id=fhir_id,
        )
    FhirRecord.objects.filter(pk__in=[pk for pk, _ in gone]).delete()
    return len(gone)


def _record_sync(
    patient: Patient, resource_type: str, actor: Any, report: IngestReport, outcome: Outcome
) -> None:
    record(
        action=Action.RECORDS_SYNC,
        outcome=outcome,
        actor=actor,
        patient_id=patient.pk,
        object_type=resource_type,
        object_id=report.summary(),
    )


def _sync_state_lock(patient: Patient, resource_type: str) -> SyncState:
    """Lock the patient's sync state of this type: two syncs of it never interleave."""
    # One query once the row exists (SELECT … FOR UPDATE); a new row is locked by its INSERT.
    state, _ = SyncState.objects.select_for_update().get_or_create(
        patient=patient, resource_type=resource_type
    )
    return state


# (fhir id, resource, versionId, lastUpdated) of a resource that passed screening.
Accepted = tuple[str, dict[str, Any], str, datetime | None]


def _screen(
    *,
    patient: Patient,
    resource_type: ResourceType,
    resource: Any,
    expected_reference: str,
    actor: Any,
    report: IngestReport,
) -> Accepted | None:
    """The resource with its id and version, or None once quarantined or dropped."""
    raw_id = resource.get("id") if isinstance(resource, dict) else None
    fhir_id = raw_id if isinstance(raw_id, str) and _FHIR_ID.fullmatch(raw_id) else ""
    if not isinstance(resource, dict) or resource.get("resourceType") != resource_type:
        quarantine(patient, resource_type, fhir_id, QuarantineReason.WRONG_RESOURCE_TYPE, actor)
        report.quarantined += 1
        return None
    try:
        validate(resource)
    except InvalidResource as error:
        quarantine(patient, resource_type, fhir_id, QuarantineReason.INVALID, actor, error.reason)
        report.quarantined += 1
        if fhir_id:
            _saw(report, fhir_id)  # still listed by the EHR: a complete sync keeps its old copy
        return None
    if not fhir_id:
        quarantine(patient, resource_type, "", QuarantineReason.NO_ID, actor)
        report.quarantined += 1
        return None
    if _patient_reference(resource, resource_type) != expected_reference:
        # The resource is never stored: the quarantine row and the alert hold ids only.
        report.dropped += 1
        record(
            action=Action.RECORDS_FOREIGN,
            outcome=Outcome.DENIED,
            severity=Severity.HIGH,
            actor=actor,
            patient_id=patient.pk,
            object_type=resource_type,
            object_id=fhir_id,
        )
        Quarantine.objects.create(
            patient=patient,
            resource_type=resource_type,
            fhir_id=fhir_id,
            reason=QuarantineReason.FOREIGN_PATIENT,
        )
        return None
    meta = resource.get("meta") or {}
    version_id = meta.get("versionId") or ""
    last_updated = _parse_instant(meta.get("lastUpdated"))
    if last_updated and (report.high_water is None or last_updated > report.high_water):
        report.high_water = last_updated
    _saw(report, fhir_id)
    return fhir_id, resource, str(version_id)[:64], last_updated


def _saw(report: IngestReport, fhir_id: str) -> None:
    key = fhir_id.encode()
    if key in report.seen:
        report.repeated += 1
    report.seen[key] = None


def _upsert(
    patient: Patient, resource_type: str, accepted: list[Accepted], report: IngestReport
) -> None:
    """One query for the stored copies, one INSERT for the new rows, one UPDATE for the replaced.

    Each stored resource is mapped to its display once, by its type's entry in
    records/types.py; both encrypted fields are sealed per row by portal/crypto.
    """
    # The stored ciphertexts are not needed to compare versions: they are not fetched
    # (the rare copy without metadata loads its resource when compared).
    stored = {
        row.fhir_id: row
        for row in FhirRecord.objects.filter(
            patient=patient, resource_type=resource_type, fhir_id__in={a[0] for a in accepted}
        ).defer("resource", "display")
    }
    now = timezone.now()
    new: dict[str, FhirRecord] = {}
    changed: dict[str, FhirRecord] = {}
    for fhir_id, resource, version_id, last_updated in accepted:
        row = new.get(fhir_id) or changed.get(fhir_id) or stored.get(fhir_id)
        if row is not None and not _is_newer(row, version_id, last_updated, resource):
            report.unchanged += 1
            continue
        if row is None:
            row = new[fhir_id] = FhirRecord(
                patient_id=patient.pk, resource_type=resource_type, fhir_id=fhir_id
            )
        elif fhir_id not in new:
            changed[fhir_id] = row
        row.version_id = version_id
        row.last_updated = last_updated
        row.resource = resource
        row.display = display_of(resource_type, resource)
        row.stored_at = now
    report.stored += len(new) + len(changed)
    copy_insert_sealed(list(new.values()))
    bulk_update_sealed(list(changed.values()), _REPLACED_FIELDS)


def quarantine(
    patient: Patient,
    resource_type: str,
    fhir_id: str,
    reason: QuarantineReason,
    actor: Any,
    detail: str = "",
) -> None:
    """Keep ids and a reason code of a refused resource (never its content), audited."""
    Quarantine.objects.create(
        patient=patient,
        resource_type=resource_type,
        fhir_id=fhir_id,
        reason=reason,
        detail=detail[:200],
    )
    record(
        action=Action.RECORDS_QUARANTINE,
        outcome=Outcome.FAILURE,
        actor=actor,
        patient_id=patient.pk,
        object_type=resource_type,
        object_id=fhir_id,
    )


def _patient_reference(resource: dict[str, Any], resource_type: ResourceType) -> str | None:
    """The relative reference naming the patient; anything else (absolute, absent) fails."""
    element = resource.get(record_type(resource_type).patient_element)
    reference = element.get("reference") if isinstance(element, dict) else None
    return reference if isinstance(reference, str) else None


def _parse_instant(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = parse_datetime(value)
    except ValueError:
        return None
    # FHIR instants carry a zone; a naive one cannot be compared, so it is ignored.
    return parsed if parsed is not None and parsed.tzinfo is not None else None


def _is_newer(
    row: FhirRecord, version_id: str, last_updated: datetime | None, resource: dict[str, Any]
) -> bool:
    """Whether the incoming copy should replace the stored one."""
    if last_updated is not None and row.last_updated is not None:
        if last_updated != row.last_updated:
            return last_updated > row.last_updated
        return bool(version_id) and version_id != row.version_id and not _older(version_id, row)
    if version_id and row.version_id:
        return version_id != row.version_id and not _older(version_id, row)
    # No metadata to go by: replace only when the content differs.
    return row.resource != resource


def _older(version_id: str, row: FhirRecord) -> bool:
    """versionIds are opaque, but most servers count: a smaller number is older."""
    if version_id.isdigit() and row.version_id.isdigit():
        return int(version_id) < int(row.version_id)
    return False


def display_fields(resource_type: str, resource: dict[str, Any]) -> AnyDisplay:
    """The small dict pages show for one (validated) resource: see records/types.py."""
    return display_of(resource_type, resource)


def effective_sort_key(row: FhirRecord) -> str:
    """Sort key for a page's rows by clinical date (decrypts ``display``).

    ISO texts sort as dates when the EHR uses one offset; rows without a date
    sort first, so ``sorted(..., key=effective_sort_key, reverse=True)`` puts
    them last.
    """
    return str(row.display.get("effective") or "")

"""The hash chain over audit events: canonical form, sealing, verification.

Writers never wait for the chain. record() inserts an event with the id of
its transaction (``xid``); the sealer later appends every event whose
transaction has finished to the chain, one at a time, under an advisory lock.
PostgreSQL's snapshot ``xmin`` is the oldest transaction still running, so
every event with ``xid < xmin`` is final (committed and visible, or rolled
back and gone): sealing in (xid, id) order past the last sealed event misses
nothing and never has to revisit. The serial part is this sealer alone, so
the chain never serialises the transactions that write events.
"""

import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from audit.models import AuditEvent, AuditSeal

GENESIS = bytes(32)
SEAL_BATCH = 5000
# pg_try_advisory_xact_lock key: "audit" in ASCII, so it is recognisable in pg_locks.
SEALER_LOCK = 0x6175646974

CANONICAL_FIELDS = (
    "id",
    "occurred_at",
    "actor_id",
    "actor_role",
    "action",
    "outcome",
    "severity",
    "patient_id",
    "object_type",
    "object_id",
    "client_ip",
    "request_id",
    "reason",
)


def _plain(value: object) -> object:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if value is None or isinstance(value, int | str):
        return value
    return str(value)


def canonical_bytes(values: Sequence[object]) -> bytes:
    """The event as sorted-key compact JSON, in the order of CANONICAL_FIELDS."""
    doc = {name: _plain(v) for name, v in zip(CANONICAL_FIELDS, values, strict=True)}
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def link(prev_hash: bytes, values: Sequence[object]) -> bytes:
    return hashlib.sha256(prev_hash + canonical_bytes(values)).digest()


def _after(xid: int, event_id: int) -> Q:
    return Q(xid__gt=xid) | Q(xid=xid, id__gt=event_id)


def _horizon() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint")
        return cursor.fetchone()[0]


def seal_pending(batch: int = SEAL_BATCH) -> int:
    """Append every finished, unsealed event to the chain; returns how many.

    Safe to call from anywhere at any time: if another sealer holds the lock,
    this returns 0 at once and that one does the work.
    """
    total = 0
    while True:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [SEALER_LOCK])
                if not cursor.fetchone()[0]:
                    return total
            horizon = _horizon()
            head = (
                AuditSeal.objects.order_by("-seq")
                .values_list("seq", "hash", "event__xid", "event_id")
                .first()
            )
            seq, prev, last_xid, last_id = head if head else (0, GENESIS, -1, -1)
            prev = bytes(prev)
            rows = list(
                AuditEvent.objects.filter(_after(last_xid, last_id), xid__lt=horizon)
                .order_by("xid", "id")
                .values_list(*CANONICAL_FIELDS)[:batch]
            )
            if not rows:
                return total
            now = timezone.now()
            seals = []
            for values in rows:
                seq += 1
                digest = link(prev, values)
                seals.append(
                    AuditSeal(
                        seq=seq, event_id=values[0], prev_hash=prev, hash=digest, sealed_at=now
                    )
                )
                prev = digest
            AuditSeal.objects.bulk_create(seals)
            total += len(seals)
        if len(rows) < batch:
            return total


@dataclass(frozen=True)
class Verdict:
    ok: bool
    verified: int
    head_seq: int
    head_hash: bytes
    broken_event_id: int | None = None
    broken_seq: int | None = None
    problem: str = ""


def _sealed_rows(chunk: int) -> Iterator[tuple]:
    fields = ["seq", "prev_hash", "hash", "event_id"] + [f"event__{f}" for f in CANONICAL_FIELDS]
    return AuditSeal.objects.order_by("seq").values_list(*fields).iterator(chunk_size=chunk)


def verify(chunk: int = 5000) -> Verdict:
    """Walk the chain from the genesis and name the first event that breaks it."""
    prev = GENESIS
    seq = 0
    for row in _sealed_rows(chunk):
        event_id, values = row[3], row[4:]
        seq += 1
        problem = ""
        if row[0] != seq:
            problem = f"the seal at position {seq}, or the event it sealed, is missing"
        elif bytes(row[1]) != prev:
            problem = "its seal does not follow the previous seal"
        elif link(prev, values) != bytes(row[2]):
            problem = "its content does not match its seal"
        if problem:
            return Verdict(False, seq - 1, seq - 1, prev, event_id, seq, problem)
        prev = bytes(row[2])

    head = AuditSeal.objects.order_by("-seq").values_list("event__xid", "event_id").first()
    if head is not None:
        # Nothing may appear behind the head: the sealer never goes back there.
        stray = (
            AuditEvent.objects.filter(seal__isnull=True)
            .exclude(_after(*head))
            .order_by("id")
            .values_list("id", flat=True)
            .first()
        )
        if stray is not None:
            return Verdict(False, seq, seq, prev, stray, None, "it is missing from the chain")
    return Verdict(True, seq, seq, prev)

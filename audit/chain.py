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
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from audit.checkpoints import signed_heads
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


# One encoder for every event: json.dumps() with arguments builds a new one per call.
_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
# Keys already in sorted order need no sorting: the same bytes, sooner (verify()).
_SORTED_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)
SORTED_FIELDS = tuple(sorted(CANONICAL_FIELDS))


def canonical_bytes(values: Sequence[object]) -> bytes:
    """The event as sorted-key compact JSON, in the order of CANONICAL_FIELDS."""
    doc = {name: _plain(v) for name, v in zip(CANONICAL_FIELDS, values, strict=True)}
    return _ENCODER.encode(doc).encode()


def link(prev_hash: bytes, values: Sequence[object]) -> bytes:
    return hashlib.sha256(prev_hash + canonical_bytes(values)).digest()


def _after(xid: int, event_id: int) -> Q:
    return Q(xid__gt=xid) | Q(xid=xid, id__gt=event_id)


# The oldest transaction still writing in *this* database. pg_snapshot_xmin()
# would do, but it counts every database on the server, so one long transaction
# elsewhere (another application, a test run) would stall the chain. The
# activity view gives 32-bit xids; they are widened against the next xid
# (xids in progress are always within 2^31 below it).
HORIZON_SQL = """
WITH next AS (SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint AS x8),
running AS (
    SELECT backend_xid::text::bigint AS x32 FROM pg_stat_activity
     WHERE datname = current_database() AND backend_xid IS NOT NULL
       AND pid <> pg_backend_pid()
    UNION ALL
    SELECT transaction::text::bigint FROM pg_prepared_xacts
     WHERE database = current_database()
),
widened AS (
    SELECT CASE WHEN ((next.x8 >> 32) << 32) + x32 > next.x8
                THEN ((next.x8 >> 32) << 32) + x32 - 4294967296
                ELSE ((next.x8 >> 32) << 32) + x32 END AS x8
      FROM running, next
)
SELECT LEAST((SELECT x8 FROM next), (SELECT min(x8) FROM widened))
"""


def _horizon() -> int:
    """Every event with a smaller xid is final: committed and visible, or rolled back.

    Needs to see the other sessions of the portal's database role in
    pg_stat_activity, which PostgreSQL allows for one's own role.
    """
    with connection.cursor() as cursor:
        cursor.execute(HORIZON_SQL)
        return int(cursor.fetchone()[0])


# When this process last tried to seal after a commit (time.monotonic()).
_last_attempt = float("-inf")


def seal_soon() -> int:
    """After a commit that recorded events: seal, unless this process tried a moment ago.

    A sealing attempt costs several queries (the lock, the horizon, the head, the
    events), so under load one attempt per AUDIT_SEAL_INTERVAL_MS per
    process seals every event of that interval in one batch, instead of one
    attempt per request. An event committed after the last attempt is stored
    and protected like any other; it joins the chain at the next attempt, or at
    the worker's ``audit.seal`` job within a minute.
    """
    global _last_attempt
    now = time.monotonic()
    if (now - _last_attempt) * 1000 < settings.AUDIT_SEAL_INTERVAL_MS:
        return 0
    _last_attempt = now
    return seal_pending()


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
    checkpoints: int = 0


# verify() reads the events as text that PostgreSQL prints exactly as _plain()
# renders the ORM's values, in SORTED_FIELDS order, so each row becomes its
# canonical JSON without a Python conversion per value (the chain tests hold
# the sealer's and the verifier's forms together).
_AS_TEXT = {
    "occurred_at": """to_char(e.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')""",
    "actor_id": "e.actor_id::text",
    "patient_id": "e.patient_id::text",
}
_COLUMNS = ", ".join(_AS_TEXT.get(name, f"e.{name}") for name in SORTED_FIELDS)
# Built from the constants above only.
_SEALED_ROWS = f"""SELECT s.seq, s.prev_hash, s.hash, s.event_id, {_COLUMNS}
    FROM audit_seal s LEFT JOIN audit_event e ON e.id = s.event_id ORDER BY s.seq"""  # noqa: S608


def _sealed_rows(chunk: int) -> Iterator[tuple[Any, ...]]:
    """Every seal with its event's canonical values; call inside a transaction.

    The next chunk is fetched while this one is hashed (psycopg releases the
    GIL while it waits), so the database's work and ours overlap.
    """
    cursor = connection.chunked_cursor()
    try:
        cursor.execute(_SEALED_ROWS)
        with ThreadPoolExecutor(max_workers=1) as fetcher:
            pending = fetcher.submit(cursor.fetchmany, chunk)
            while rows := pending.result():
                pending = fetcher.submit(cursor.fetchmany, chunk)
                yield from rows
    finally:
        cursor.close()


def verify(chunk: int = 20000) -> Verdict:
    """Walk the chain from the genesis and name the first event that breaks it.

    Every signed checkpoint must verify, and the chain must pass through each
    one's (seq, hash): a chain cut short of a checkpoint lost its tail.
    """
    with transaction.atomic():
        return _verify(chunk)


def _verify(chunk: int) -> Verdict:
    signed = signed_heads()
    if signed.problem:
        return Verdict(False, 0, 0, GENESIS, None, None, signed.problem, signed.count)
    heads = signed.heads
    prev = GENESIS
    seq = 0
    encode, sha256, fields = _SORTED_ENCODER.encode, hashlib.sha256, SORTED_FIELDS
    for row in _sealed_rows(chunk):
        event_id, digest = row[3], bytes(row[2])
        seq += 1
        problem = ""
        if row[0] != seq or row[4] is None:
            problem = f"the seal at position {seq}, or the event it sealed, is missing"
        elif bytes(row[1]) != prev:
            problem = "its seal does not follow the previous seal"
        elif (
            sha256(prev + encode(dict(zip(fields, row[4:], strict=True))).encode()).digest()
            != digest
        ):
            problem = "its content does not match its seal"
        elif seq in heads and any(h != digest for _, h in heads[seq]):
            problem = f"its seal differs from signed checkpoint {heads[seq][0][0]}"
        if problem:
            return Verdict(False, seq - 1, seq - 1, prev, event_id, seq, problem, signed.count)
        prev = digest

    beyond = [s for s in heads if s > seq]
    if beyond:
        cp_id = heads[max(beyond)][0][0]
        problem = (
            f"the chain ends at position {seq} but signed checkpoint {cp_id} covers "
            f"position {max(beyond)}: events were removed from its tail"
        )
        return Verdict(False, seq, seq, prev, None, max(beyond), problem, signed.count)
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
            return Verdict(
                False, seq, seq, prev, stray, None, "it is missing from the chain", signed.count
            )
    return Verdict(True, seq, seq, prev, checkpoints=signed.count)

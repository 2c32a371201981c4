"""Rate limits kept in the database: at most N events per key in a sliding window.

Several gunicorn workers on several hosts share one limit, so the count lives in
PostgreSQL (portal.models.ThrottleHit), never in the session or process memory.
A key (an e-mail address, a client address, a user id) is stored only as its
blind index under a per-scope purpose: the table tells that one key was busy,
not which address it was.

Each call locks its (scope, key) with a transaction-level advisory lock, so two
requests racing for the last free slot cannot both take it; the lock is held
until the caller's outermost transaction ends. Expired rows of the scope are
deleted on each write.

Two ways to use it:
- ``attempt()`` for things rationed per window (reset mails): takes a slot if
  one is free, else refuses; refused attempts take no slot.
- ``check()`` before and ``hit()`` after a failure, ``clear()`` after a
  success, for counting failures (codes typed wrong).
"""

import hashlib
import math
import re
from dataclasses import dataclass
from datetime import timedelta

from django.db import connection, transaction
from django.utils import timezone

from portal.crypto.blind_index import blind_index
from portal.models import ThrottleHit

_SCOPE = re.compile(r"[a-z][a-z0-9_]{0,29}")


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    # Seconds until the oldest counted event leaves the window (0 when allowed).
    retry_after: int = 0


def _digest(scope: str, key: object) -> bytes:
    if not _SCOPE.fullmatch(scope):
        raise ValueError("a throttle scope is a short lower-case identifier")
    # A purpose per scope: the same address under two scopes gives unrelated digests.
    return blind_index("" if key is None else key, purpose=f"throttle_{scope}")


def _lock(scope: str, digest: bytes) -> None:
    lock_id = int.from_bytes(hashlib.sha256(scope.encode() + digest).digest()[:8], signed=True)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [lock_id])


def _verdict(scope: str, digest: bytes, limit: int, window: int) -> Verdict:
    now = timezone.now()
    since = now - timedelta(seconds=window)
    times = list(
        ThrottleHit.objects.filter(scope=scope, key_digest=digest, created_at__gt=since)
        .order_by("-created_at")
        .values_list("created_at", flat=True)[: max(limit, 1)]
    )
    if len(times) < limit:
        return Verdict(allowed=True)
    # The limit-th newest event is the one whose ageing-out frees a slot.
    frees_at = times[limit - 1] + timedelta(seconds=window) if limit > 0 else now
    return Verdict(allowed=False, retry_after=max(1, math.ceil((frees_at - now).total_seconds())))


def _add(scope: str, digest: bytes, window: int) -> None:
    now = timezone.now()
    ThrottleHit.objects.filter(scope=scope, expires_at__lte=now).delete()
    ThrottleHit.objects.create(
        scope=scope, key_digest=digest, created_at=now, expires_at=now + timedelta(seconds=window)
    )


def attempt(*, scope: str, key: object, limit: int, window: int) -> Verdict:
    """Take one of ``limit`` slots per ``window`` seconds for ``key``, if one is free."""
    digest = _digest(scope, key)
    with transaction.atomic():
        _lock(scope, digest)
        verdict = _verdict(scope, digest, limit, window)
        if verdict.allowed:
            _add(scope, digest, window)
    return verdict


def check(*, scope: str, key: object, limit: int, window: int) -> Verdict:
    """Whether ``key`` has fewer than ``limit`` events in the window; records nothing.

    Call it in the same transaction as the ``hit()`` that may follow: the lock
    it takes keeps a parallel request from slipping in between.
    """
    digest = _digest(scope, key)
    with transaction.atomic():
        _lock(scope, digest)
        return _verdict(scope, digest, limit, window)


def hit(*, scope: str, key: object, window: int) -> None:
    """Count one event (a failure) for ``key``; it is forgotten after ``window`` seconds."""
    digest = _digest(scope, key)
    with transaction.atomic():
        _lock(scope, digest)
        _add(scope, digest, window)


def clear(*, scope: str, key: object) -> None:
    """Forget every event of ``key`` in this scope (after a success)."""
    digest = _digest(scope, key)
    with transaction.atomic():
        _lock(scope, digest)
        ThrottleHit.objects.filter(scope=scope, key_digest=digest).delete()

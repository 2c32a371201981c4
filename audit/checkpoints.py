"""Signed checkpoints of the chain head: what makes a truncated tail visible.

The hash chain alone proves that no sealed event was edited or removed from
the middle, but someone able to switch the triggers off could delete the
newest events with their seals and leave a shorter, valid chain. A checkpoint
is the head (seq, hash, time) signed with a key the database never holds
(portal.crypto.signing), so the chain must still reach every checkpoint's seq
with the same hash. Deleting checkpoints too leaves the newest one old: with
AUDIT_CHECKPOINT_MAX_AGE set, verification reports that.
"""

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.utils import timezone

from audit.models import AuditCheckpoint
from portal.crypto import signing

CONTEXT = b"carebridge audit checkpoint v1\n"


def message(*, seq: int, digest: bytes, created_at: datetime) -> bytes:
    """The signed bytes; the context prefix keeps them apart from export manifests."""
    at = created_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    doc = {"at": at, "hash": digest.hex(), "seq": seq}
    return CONTEXT + json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


@dataclass(frozen=True)
class SignedHeads:
    heads: dict[int, list[tuple[int, bytes]]]  # seq -> [(checkpoint id, hash)]
    count: int
    problem: str = ""
    broken_checkpoint: int | None = None


def signed_heads() -> SignedHeads:
    """Every checkpoint whose signature an accepted key made, or the first that fails."""
    heads: dict[int, list[tuple[int, bytes]]] = {}
    rows = AuditCheckpoint.objects.order_by("id").values_list(
        "id", "seq", "hash", "created_at", "key_id", "signature"
    )
    newest, count = None, 0
    for count, (cp_id, seq, digest, at, key_id, sig) in enumerate(rows.iterator(), start=1):
        digest = bytes(digest)
        if not signing.verify(message(seq=seq, digest=digest, created_at=at), bytes(sig), key_id):
            problem = f"checkpoint {cp_id} has no valid signature (key {key_id})"
            return SignedHeads(heads, count, problem, cp_id)
        heads.setdefault(seq, []).append((cp_id, digest))
        newest = at
    max_age = settings.AUDIT_CHECKPOINT_MAX_AGE
    if max_age and newest is not None and timezone.now() - newest > timedelta(seconds=max_age):
        problem = f"the newest checkpoint is older than {max_age} s: checkpoints may be missing"
        return SignedHeads(heads, count, problem)
    return SignedHeads(heads, count)

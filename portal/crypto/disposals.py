"""The disposal log: which patients were crypto-shredded and when, kept with the key store.

``<PORTAL_KEY_STORE_DIR>/disposals.log``, one JSON line per disposal::

    {"patient_id": "<uuid>", "disposed_at": "2026-11-30T03:12:45.123456Z",
     "prev": "<hex>", "hash": "<hex>"}

It lives outside the database on purpose: a database backup taken before a
disposal still says the patient is live, so ``manage.py restore`` reads this
log and re-applies every disposal the backup does not know of. It is
append-only (O_APPEND under an exclusive lock, fsynced) and hash-chained
(``hash = SHA-256(prev | patient id | disposed at)``), so an edited or removed
line in the middle is detected by :func:`entries`. Ids and times only, no PHI.
It is backed up with the key store (``manage.py backup_keys``).
"""

import fcntl
import hashlib
import json
import os
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from portal.crypto.errors import CryptoError

FILE_NAME = "disposals.log"
GENESIS = "0" * 64
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


class DisposalLogError(CryptoError):
    """The disposal log cannot be read or its hash chain is broken (names the line)."""


@dataclass(frozen=True)
class Disposal:
    patient_id: uuid.UUID
    disposed_at: datetime


def _link(prev: str, patient_id: uuid.UUID, disposed_at: str) -> str:
    return hashlib.sha256(f"{prev}|{patient_id}|{disposed_at}".encode()).hexdigest()


def path_in(root: Path) -> Path:
    return root / FILE_NAME


def _parse(lines: list[str]) -> tuple[list[Disposal], str]:
    prev = GENESIS
    found = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            doc = json.loads(line)
            patient_id = uuid.UUID(doc["patient_id"])
            when = str(doc["disposed_at"])
            disposed_at = datetime.strptime(when, _TIME_FORMAT).replace(tzinfo=UTC)
            stored_prev, stored_hash = str(doc["prev"]), str(doc["hash"])
        except (ValueError, KeyError, TypeError):
            raise DisposalLogError(f"disposal log line {number} is damaged") from None
        if stored_prev != prev or stored_hash != _link(prev, patient_id, when):
            raise DisposalLogError(
                f"disposal log line {number} breaks the hash chain: the log was edited"
            )
        found.append(Disposal(patient_id, disposed_at))
        prev = stored_hash
    return found, prev


def entries(root: Path) -> list[Disposal]:
    """Every recorded disposal, oldest first; raises DisposalLogError when the chain is broken."""
    try:
        text = path_in(root).read_text()
    except FileNotFoundError:
        return []
    return _parse(text.splitlines())[0]


def append(root: Path, *, patient_id: uuid.UUID, disposed_at: datetime) -> bool:
    """Record a disposal (fsynced before returning); False when the patient is already in it."""
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = path_in(root)
    created = not path.exists()
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        with os.fdopen(os.dup(fd), "r") as reader:
            reader.seek(0)
            known, prev = _parse(reader.read().splitlines())
        if any(d.patient_id == patient_id for d in known):
            return False
        when = disposed_at.astimezone(UTC).strftime(_TIME_FORMAT)
        line = json.dumps(
            {
                "patient_id": str(patient_id),
                "disposed_at": when,
                "prev": prev,
                "hash": _link(prev, patient_id, when),
            },
            sort_keys=True,
        )
        os.write(fd, (line + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    if created:
        dir_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    return True

"""The key store: one random 32-byte share per patient, kept outside the database.

A patient's data key is wrapped under a key derived from the KEK *and* this share
(see portal/crypto/__init__.py). Shredding destroys the share, so a wrapped key
in any database dump, old or new, can no longer be unwrapped, KEK or not.

Files, one per patient: ``<root>/<2 hex>/<patient uuid>.share``, 0600 in 0700
directories. Creating is atomic and first-writer-wins (a fully written temporary
file is hard-linked into place), so two requests racing to create a patient's
first key agree on one share. Deleting overwrites, fsyncs and unlinks; whether
the old blocks are really gone depends on the storage (see the operational notes
in portal/crypto/__init__.py).
"""

import os
import secrets
import uuid
from pathlib import Path

from portal.crypto.errors import KeyUnavailable

SHARE_BYTES = 32


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class FileKeyStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, patient_id: uuid.UUID) -> Path:
        return self.root / patient_id.hex[:2] / f"{patient_id}.share"

    def get(self, patient_id: uuid.UUID) -> bytes | None:
        try:
            share = self.path(patient_id).read_bytes()
        except FileNotFoundError:
            return None
        if len(share) != SHARE_BYTES:
            raise KeyUnavailable(patient_id, "key share is damaged")
        return share

    def create(self, patient_id: uuid.UUID) -> bytes:
        """The patient's share, made now unless one exists (then that one is returned)."""
        if (existing := self.get(patient_id)) is not None:
            return existing
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        directory = self.path(patient_id).parent
        directory.mkdir(mode=0o700, exist_ok=True)
        share = secrets.token_bytes(SHARE_BYTES)
        tmp = directory / f".{patient_id}.{secrets.token_hex(8)}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(share)
                f.flush()
                os.fsync(f.fileno())
            try:
                os.link(tmp, self.path(patient_id))
            except FileExistsError:
                share = self.get(patient_id) or share
        finally:
            tmp.unlink(missing_ok=True)
        # The share must be on disk before the wrapped key that needs it commits.
        _fsync_dir(directory)
        return share

    def destroy(self, patient_id: uuid.UUID) -> bool:
        """Overwrite and remove the share; False when there was none."""
        path = self.path(patient_id)
        try:
            with path.open("r+b") as f:
                f.write(bytes(SHARE_BYTES))
                f.flush()
                os.fsync(f.fileno())
        except FileNotFoundError:
            return False
        path.unlink()
        _fsync_dir(path.parent)
        return True

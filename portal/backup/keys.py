"""Backing up the key material, encrypted to the clinic's offline recovery public key.

What is in a key backup (a tar archive inside portal/crypto/stream.py's format):

    secrets/keks               PORTAL_KEKS (every version)
    secrets/blind_index_key    PORTAL_BLIND_INDEX_KEY
    secrets/audit_signing_key  PORTAL_AUDIT_SIGNING_KEY
    secrets/backup_key         PORTAL_BACKUP_KEY
    keystore/<2 hex>/<uuid>.share   every per-patient key share
    keystore/disposals.log     the disposal log

The stream key comes from X25519 between a fresh ephemeral key and the
recovery public key (portal/crypto/recovery.py), so the server can write key
backups but never read them. Restoring needs the private half.

Restoring puts the secrets as files in a directory (for the ``*_FILE``
settings), adds the missing shares to the key store (an existing share is
never replaced), merges the disposal logs, and then destroys the share of
every patient the merged log names: a key backup older than a disposal does
not bring the patient's key back.
"""

from __future__ import annotations

import base64
import io
import os
import re
import tarfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.conf import settings

from portal.crypto import disposals, keyring, recovery, stream
from portal.crypto.errors import KeyConfigurationError
from portal.crypto.keystore import SHARE_BYTES

FORMAT = "carebridge-key-backup/1"
SECRETS = {
    "keks": "PORTAL_KEKS",
    "blind_index_key": "PORTAL_BLIND_INDEX_KEY",
    "audit_signing_key": "AUDIT_SIGNING_KEY",
    "backup_key": "PORTAL_BACKUP_KEY",
}
_SHARE = re.compile(r"keystore/([0-9a-f]{2})/([0-9a-f-]{36})\.share")


class KeyBackupError(Exception):
    """A key backup cannot be written or restored; the message says why."""


def _add(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o600
    archive.addfile(info, io.BytesIO(data))


def _shares(root: Path) -> Iterator[Path]:
    if root.is_dir():
        for path in sorted(root.glob("??/*.share")):
            if path.is_file():
                yield path


def recipient_public_key(text: str | None = None) -> bytes:
    text = text if text is not None else settings.PORTAL_RECOVERY_PUBLIC_KEY
    if not text:
        raise KeyConfigurationError(
            "no recovery public key: set PORTAL_RECOVERY_PUBLIC_KEY(_FILE) or pass "
            "--recovery-public-key (make the pair with manage.py recovery_key)"
        )
    return recovery.load_public(text)


def backup_keys_create(dest: Path, *, recipient: bytes) -> dict[str, Any]:
    """Write the key backup to ``dest`` (0600, never replacing a file); returns its meta."""
    if dest.exists():
        raise KeyBackupError(f"{dest} already exists; choose a new name")
    values = {name: str(getattr(settings, setting)) for name, setting in SECRETS.items()}
    missing = [SECRETS[name] for name, value in values.items() if not value]
    if missing:
        raise KeyBackupError(f"not configured, so not backed up: {', '.join(missing)}")
    key, ephemeral = recovery.seal_to(recipient)
    root = keyring.key_store().root
    meta = {
        "format": FORMAT,
        "created_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "recipient": stream.key_id(recipient, purpose=b"recovery"),
        "ephemeral_public_key": base64.b64encode(ephemeral).decode(),
    }
    partial = dest.with_name(dest.name + ".partial")
    shares = 0
    try:
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            writer = stream.StreamWriter(out, key=key, meta=meta)
            with tarfile.open(fileobj=writer, mode="w|") as archive:  # type: ignore[call-overload]
                for name, value in values.items():
                    _add(archive, f"secrets/{name}", value.encode())
                for path in _shares(root):
                    _add(archive, f"keystore/{path.parent.name}/{path.name}", path.read_bytes())
                    shares += 1
                log = disposals.path_in(root)
                if log.exists():
                    _add(archive, "keystore/disposals.log", log.read_bytes())
            writer.close()
            out.flush()
            os.fsync(out.fileno())
        os.replace(partial, dest)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return {**meta, "shares": shares, "bytes": writer.ciphertext_bytes}


class _ChunkReader:
    """A file-like reader over decrypted chunks, for tarfile's streaming mode."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._buffer = b""

    def read(self, n: int = -1) -> bytes:
        while n < 0 or len(self._buffer) < n:
            chunk = next(self._chunks, None)
            if chunk is None:
                break
            self._buffer += chunk
        if n < 0:
            n = len(self._buffer)
        data, self._buffer = self._buffer[:n], self._buffer[n:]
        return data


def _open(src: Path, private: Any) -> tuple[Any, Iterator[bytes]]:
    raw = src.open("rb")
    preamble, file_id, meta = stream.read_meta(raw)
    if meta.get("format") != FORMAT:
        raw.close()
        raise KeyBackupError("this is not a Carebridge key backup")
    if meta.get("recipient") != stream.key_id(recovery.public_of(private), purpose=b"recovery"):
        raw.close()
        raise KeyBackupError(
            f"the key backup was encrypted to recovery key {meta.get('recipient')}, not this one"
        )
    ephemeral = base64.b64decode(str(meta.get("ephemeral_public_key", "")))
    key = recovery.open_with(private, ephemeral)
    return raw, stream.decrypt_chunks(raw, key=key, preamble=preamble, file_id=file_id)


@dataclass
class KeyRestoreReport:
    secrets_written: list[str] = field(default_factory=list)
    shares_added: int = 0
    shares_kept: int = 0
    disposals: int = 0
    shares_destroyed: int = 0


def restore_keys(src: Path, *, private_pem: bytes, secrets_dir: Path) -> KeyRestoreReport:
    """Authenticate the whole key backup, then restore it (see the module's doc)."""
    private = recovery.load_private(private_pem)
    present = [name for name in SECRETS if (secrets_dir / name).exists()]
    if present:
        # The live files may hold newer keys (a KEK version added since): never overwrite.
        raise KeyBackupError(
            f"{secrets_dir} already holds {', '.join(present)}; restore into an empty directory"
        )
    raw, chunks = _open(src, private)
    with raw:
        for _ in chunks:  # every chunk authenticates before anything is written
            pass
    store = keyring.key_store()
    report = KeyRestoreReport()
    secrets_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    backed_up_log = b""
    raw, chunks = _open(src, private)
    with raw, tarfile.open(fileobj=_ChunkReader(chunks), mode="r|") as archive:  # type: ignore[call-overload]
        for member in archive:
            data = _member_bytes(archive, member)
            if member.name.startswith("secrets/") and member.name[8:] in SECRETS:
                target = secrets_dir / member.name[8:]
                fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as out:
                    out.write(data)
                report.secrets_written.append(member.name[8:])
            elif member.name == "keystore/disposals.log":
                backed_up_log = data
            elif (match := _SHARE.fullmatch(member.name)) and len(data) == SHARE_BYTES:
                patient_id = uuid.UUID(match.group(2))
                if store.get(patient_id) is not None:
                    report.shares_kept += 1
                    continue
                _share_write(store.path(patient_id), data)
                report.shares_added += 1
            else:
                raise KeyBackupError(f"unexpected entry in the key backup: {member.name!r}")
    _disposals_merge(store.root, backed_up_log, secrets_dir)
    for disposal in disposals.entries(store.root):
        report.disposals += 1
        if store.destroy(disposal.patient_id):
            report.shares_destroyed += 1
    return report


def _member_bytes(archive: tarfile.TarFile, member: tarfile.TarInfo) -> bytes:
    if not member.isfile():
        raise KeyBackupError(f"unexpected entry in the key backup: {member.name!r}")
    extracted = archive.extractfile(member)
    if extracted is None:
        raise KeyBackupError(f"unreadable entry in the key backup: {member.name!r}")
    return extracted.read()


def _share_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())


def _disposals_merge(root: Path, backed_up: bytes, scratch: Path) -> None:
    """Add the backed-up log's disposals that the current log lacks (with their times)."""
    if not backed_up:
        return
    holder = scratch / ".disposals-from-backup"
    holder.mkdir(mode=0o700, exist_ok=True)
    disposals.path_in(holder).write_bytes(backed_up)
    try:
        for disposal in disposals.entries(holder):
            disposals.append(root, patient_id=disposal.patient_id, disposed_at=disposal.disposed_at)
    finally:
        disposals.path_in(holder).unlink()
        holder.rmdir()

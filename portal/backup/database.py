"""Encrypted logical backups of the portal's database, and restoring one into an empty database.

Backup: ``pg_dump --format=custom`` writes to a pipe; each MiB read from it is
sealed (portal/crypto/stream.py, under PORTAL_BACKUP_KEY) and written to
``DEST.partial``, which is renamed to DEST only when the dump succeeded. The
dump is never held in memory. A manifest (``DEST.manifest.json``) records
sizes, the SHA-256 of the ciphertext and of the plaintext, the schema version
(the latest applied migration of each app), when it was taken and the key id.
The same facts, but for the hashes, are in the file's authenticated header.

Restore: the target (the configured database) must be empty. The whole file is
first read and authenticated, chunk by chunk, and checked against its manifest,
before anything is written; only then is it decrypted a second time into
``pg_restore --single-transaction``. Should the file change between the two
reads, the second read fails, pg_restore is killed and its one transaction
is rolled back: nothing of a bad file is ever committed.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import shutil
import subprocess
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from django.db import connection

from portal.backup.progress import Progress
from portal.crypto import keyring, stream

FORMAT = "carebridge-db-backup/1"
KEY_PURPOSE = b"backup"
READ_BYTES = 256 * 1024


class BackupError(Exception):
    """A backup or restore cannot go on; the message says why and what was (not) changed."""


def pg_tool(name: str) -> str:
    """The newest installed PostgreSQL client ``name`` (Debian keeps one per major version)."""
    found = glob.glob(f"/usr/lib/postgresql/*/bin/{name}")
    if found:
        return max(found, key=lambda p: int(Path(p).parts[-3]))
    path = shutil.which(name)
    if path is None:
        raise BackupError(f"{name} not found: install the PostgreSQL client (postgresql-client)")
    return path


def pg_env() -> dict[str, str]:
    """libpq variables for the configured database (the password never on a command line)."""
    db = connection.settings_dict
    values = {
        "PGHOST": db.get("HOST") or "",
        "PGPORT": str(db.get("PORT") or ""),
        "PGUSER": db.get("USER") or "",
        "PGPASSWORD": db.get("PASSWORD") or "",
        "PGDATABASE": db["NAME"],
        "PGCONNECT_TIMEOUT": "10",
        "PGSSLMODE": str(db.get("OPTIONS", {}).get("sslmode") or ""),
    }
    return {**os.environ, **{k: v for k, v in values.items() if v}}


def _tool_errors(raw: bytes) -> str:
    """pg_dump's or pg_restore's complaint without the lines that can quote row values.

    DETAIL (``Key (email)=(...)``), CONTEXT and the failing command may carry
    data; the error line itself names the object and the problem.
    """
    kept = [
        line
        for line in raw.decode(errors="replace").splitlines()
        if not line.lstrip().startswith(("DETAIL:", "CONTEXT:", "Command was:", "LINE "))
    ]
    return " / ".join(kept)[:600]


def schema_version() -> dict[str, str]:
    """The latest applied migration of each app."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT ON (app) app, name FROM django_migrations"
            " ORDER BY app, applied DESC, id DESC"
        )
        return dict(cursor.fetchall())


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def manifest_path(path: Path) -> Path:
    return path.with_name(path.name + ".manifest.json")


def backup_create(
    dest: Path, *, progress: Progress | None = None, chunk_bytes: int = stream.CHUNK_BYTES
) -> dict[str, Any]:
    """Write an encrypted backup of the configured database to ``dest``; returns its manifest."""
    key = keyring.backup_key()
    if dest.exists() or manifest_path(dest).exists():
        raise BackupError(f"{dest} already exists; choose a new name (backups are never replaced)")
    created_at = datetime.now(UTC)
    meta = {
        "format": FORMAT,
        "created_at": _iso(created_at),
        "key_id": stream.key_id(key, purpose=KEY_PURPOSE),
        "schema": schema_version(),
    }
    partial = dest.with_name(dest.name + ".partial")
    dump = subprocess.Popen(  # noqa: S603 (our own arguments, no shell)
        [pg_tool("pg_dump"), "--format=custom", "--compress=1", "--no-password"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=pg_env(),
    )
    if dump.stdout is None or dump.stderr is None:  # both PIPE: for the type checker
        raise BackupError("pg_dump's pipes were not opened")
    try:
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as out:
            writer = stream.StreamWriter(out, key=key, meta=meta, chunk_bytes=chunk_bytes)
            while data := dump.stdout.read(READ_BYTES):
                writer.write(data)
                if progress is not None:
                    progress.advance(len(data))
            writer.close()
            out.flush()
            os.fsync(out.fileno())
        errors = _tool_errors(dump.stderr.read())
        if dump.wait() != 0:
            raise BackupError(f"pg_dump failed (exit {dump.returncode}): {errors}")
    except BaseException:
        dump.kill()
        dump.wait()
        partial.unlink(missing_ok=True)
        raise
    finally:
        dump.stdout.close()
        dump.stderr.close()
    manifest = {
        **meta,
        "backup_id": writer.file_id.hex(),
        "file": dest.name,
        "finished_at": _iso(datetime.now(UTC)),
        "chunks": writer.chunks,
        "plaintext_bytes": writer.plaintext_bytes,
        "plaintext_sha256": writer.plaintext_sha256.hexdigest(),
        "ciphertext_bytes": writer.ciphertext_bytes,
        "ciphertext_sha256": writer.ciphertext_sha256.hexdigest(),
    }
    tmp = manifest_path(dest).with_suffix(".tmp")
    tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    os.replace(partial, dest)
    os.replace(tmp, manifest_path(dest))
    if progress is not None:
        progress.finish()
    return manifest


@dataclass(frozen=True)
class CheckedBackup:
    backup_id: str
    created_at: datetime
    meta: dict[str, Any]
    plaintext_bytes: int


def _open_stream(src: stream.Reader, key: bytes) -> tuple[bytes, bytes, dict[str, Any]]:
    preamble, file_id, meta = stream.read_meta(src)
    if meta.get("format") != FORMAT:
        raise BackupError("this is not a Carebridge database backup")
    expected = stream.key_id(key, purpose=KEY_PURPOSE)
    if meta.get("key_id") != expected:
        raise BackupError(
            f"the backup was made with backup key {meta.get('key_id')}; this server's "
            f"PORTAL_BACKUP_KEY is {expected} (restore the key backup first)"
        )
    return preamble, file_id, meta


def backup_check(src: Path, *, progress: Progress | None = None) -> CheckedBackup:
    """Authenticate every chunk of ``src`` and compare it with its manifest, writing nothing.

    Raises BackupError (or stream.StreamError) naming what is wrong: truncated,
    altered, another key, or not matching its manifest.
    """
    key = keyring.backup_key()
    manifest: dict[str, Any] | None = None
    if manifest_path(src).exists():
        try:
            manifest = json.loads(manifest_path(src).read_text())
        except ValueError:
            raise BackupError(f"{manifest_path(src).name} is not readable JSON") from None
    size = src.stat().st_size
    if manifest is not None and manifest.get("ciphertext_bytes") != size:
        raise BackupError(
            f"{src.name} has {size} bytes but its manifest says {manifest.get('ciphertext_bytes')}:"
            " the file is truncated or was altered"
        )
    cipher_sha = hashlib.sha256()
    plain_sha = hashlib.sha256()
    plain_bytes = 0
    with src.open("rb") as raw:
        hashing = _Hashing(raw, cipher_sha, progress)
        preamble, file_id, meta = _open_stream(hashing, key)
        for chunk in stream.decrypt_chunks(hashing, key=key, preamble=preamble, file_id=file_id):
            plain_sha.update(chunk)
            plain_bytes += len(chunk)
    if manifest is not None:
        if manifest.get("ciphertext_sha256") != cipher_sha.hexdigest():
            raise BackupError(f"{src.name} does not match its manifest's SHA-256")
        if manifest.get("plaintext_sha256") != plain_sha.hexdigest():
            raise BackupError(f"{src.name} decrypts to other bytes than its manifest says")
        if manifest.get("backup_id") != file_id.hex():
            raise BackupError(f"{manifest_path(src).name} belongs to another backup")
    created_at = datetime.strptime(meta["created_at"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    if progress is not None:
        progress.finish()
    return CheckedBackup(file_id.hex(), created_at, meta, plain_bytes)


class _Hashing:
    """A reader that hashes (and counts, for the progress line) what passes through it."""

    def __init__(self, raw: IO[bytes], digest: Any, progress: Progress | None) -> None:
        self.raw, self.digest, self.progress = raw, digest, progress

    def read(self, n: int = -1, /) -> bytes:
        data = self.raw.read(n)
        self.digest.update(data)
        if self.progress is not None:
            self.progress.advance(len(data))
        return data


def database_is_empty() -> bool:
    """True when the configured database has no tables, sequences or views of its own."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')"
            " AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'"
            " AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')"
        )
        return int(cursor.fetchone()[0]) == 0


def restore_into_empty(
    src: Path,
    *,
    check_progress: Progress | None = None,
    restore_progress: Progress | None = None,
    before_restore: Callable[[], None] | None = None,
) -> CheckedBackup:
    """Check ``src`` in full, then pg_restore it into the (empty) configured database.

    ``before_restore`` runs between the check and the restore (tests use it to
    change the file in between).
    """
    if not database_is_empty():
        raise BackupError(
            f"database {connection.settings_dict['NAME']} is not empty: restore only into a new,"
            " empty database (createdb, then point DATABASE_URL at it); nothing was changed"
        )
    checked = backup_check(src, progress=check_progress)
    if before_restore is not None:
        before_restore()
    key = keyring.backup_key()
    connection.close()
    restore = subprocess.Popen(  # noqa: S603 (our own arguments, no shell)
        [
            pg_tool("pg_restore"),
            "--single-transaction",
            "--exit-on-error",
            "--no-owner",
            "--no-acl",
            "--no-password",
            "--dbname",
            connection.settings_dict["NAME"],
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=pg_env(),
    )
    if restore.stdin is None or restore.stderr is None:  # both PIPE: for the type checker
        raise BackupError("pg_restore's pipes were not opened")
    try:
        with src.open("rb") as raw:
            preamble, file_id, _ = _open_stream(raw, key)
            if file_id.hex() != checked.backup_id:
                raise BackupError(f"{src.name} was replaced after it was checked")
            for chunk in stream.decrypt_chunks(raw, key=key, preamble=preamble, file_id=file_id):
                restore.stdin.write(chunk)
                if restore_progress is not None:
                    restore_progress.advance(len(chunk))
    except BaseException:
        # Killed before its input ended, pg_restore never commits its one transaction.
        restore.kill()
        restore.wait()
        restore.stderr.close()
        raise
    restore.stdin.close()
    errors = _tool_errors(restore.stderr.read())
    restore.stderr.close()
    if restore.wait() != 0:
        raise BackupError(
            f"pg_restore failed (exit {restore.returncode}); its transaction was rolled back:"
            f" {errors}"
        )
    if restore_progress is not None:
        restore_progress.finish()
    return checked


def audit_xid_behind() -> bool:
    """True when this server's transaction ids are behind the restored audit events' ids.

    The audit chain seals events in transaction-id order, so on a server whose
    counter is lower (a new cluster) new events would stay unsealed until it
    catches up. docs/operations.md says how to move the counter on.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT coalesce((SELECT max(xid::text::bigint) FROM audit_event), 0)"
            " >= pg_current_xact_id()::text::bigint"
        )
        return bool(cursor.fetchone()[0])


def new_backup_name(directory: Path) -> Path:
    """``carebridge-<UTC time>-<random>.cbbackup`` in ``directory``."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return directory / f"carebridge-{stamp}-{uuid.uuid4().hex[:6]}.cbbackup"

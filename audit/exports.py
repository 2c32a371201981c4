"""Streamed exports of the audit trail (CSV or JSON Lines) with a signed manifest.

An export is a generator for StreamingHttpResponse: rows come from a
server-side cursor (``.iterator(chunk_size=...)``) inside one transaction,
are encoded in blocks of about 64 KiB and hashed as they leave, so memory
stays flat for millions of rows. When the last block has gone, the manifest
(row count, SHA-256 of the bytes, first and last row with their chain
position and hash, filters, times) is signed and stored in audit_export; the
auditor downloads it from /audit/exports/<id>/manifest.json and checks the
pair offline with ``python -m audit.verify_export`` (see audit/manifest.py).

Events come in chain order (by id). The export seals what has finished first;
events still unsealed (their transaction was running, or ended after the
sealing) are exported with ``sealed`` false and no chain hash.
"""

import csv
import hashlib
import io
import json
import uuid
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from audit import manifest as manifest_format
from audit import selectors, services
from audit.actions import Action
from audit.chain import CANONICAL_FIELDS, _plain, seal_pending
from audit.models import AuditExport
from portal.crypto import signing
from portal.policy import SignedInRequest

KINDS = ("events", "changes")
FORMATS = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson; charset=utf-8"}
EVENT_COLUMNS = (*CANONICAL_FIELDS, "chain_seq", "chain_hash", "sealed")
CHANGE_COLUMNS = (
    "id",
    "timestamp",
    "actor_id",
    "model",
    "object_pk",
    "object_repr",
    "action",
    "changes",
    "remote_addr",
    "cid",
)
CHANGE_ACTIONS = {0: "create", 1: "update", 2: "delete", 3: "access"}
FLUSH_AT = 64 * 1024


def _event_cells(row: tuple[Any, ...]) -> list[Any]:
    cells = [_plain(v) for v in row[:-2]]
    seq, digest = row[-2], row[-1]
    sealed = digest is not None
    cells += [seq, bytes(digest).hex() if sealed else None, sealed]
    return cells


def _change_cells(row: tuple[Any, ...]) -> list[Any]:
    (pk, at, actor_id, app, model, object_pk, object_repr, action, changes, addr, cid) = row
    return [
        pk,
        _plain(at),
        _plain(actor_id),
        f"{app}.{model}",
        object_pk,
        object_repr,
        CHANGE_ACTIONS.get(action, str(action)),
        changes,
        _plain(addr),
        cid,
    ]


def _encoder(fmt: str, columns: tuple[str, ...], out: io.StringIO) -> Callable[[list[Any]], object]:
    if fmt == "csv":
        writer = csv.writer(out)
        writer.writerow(columns)

        def write_csv(cells: list[Any]) -> object:
            return writer.writerow(
                [json.dumps(c) if isinstance(c, dict | list) else c for c in cells]
            )

        return write_csv

    def write_jsonl(cells: list[Any]) -> object:
        line = json.dumps(dict(zip(columns, cells, strict=True)), ensure_ascii=False)
        return out.write(line + "\n")

    return write_jsonl


def filters_json(filters: dict[str, Any]) -> dict[str, Any]:
    """The search filters as the manifest records them (ids and times as text)."""

    def text(value: object) -> object:
        if isinstance(value, datetime):
            return _plain(value)
        return str(value) if isinstance(value, uuid.UUID) else value

    names = ("user", "patient", "action", "outcome", "since", "until")
    return {name: text(filters.get(name)) or None for name in names}


def stream(
    *,
    export_id: uuid.UUID,
    actor_id: uuid.UUID,
    kind: str,
    fmt: str,
    filters: dict[str, Any],
    rows: Iterable[tuple[Any, ...]] | None = None,
) -> Iterator[bytes]:
    """Yield the encoded export, then sign and store its manifest.

    ``rows`` replaces the database query (benchmarks, tests); by default the
    rows come from the selectors on a server-side cursor.
    """
    columns = EVENT_COLUMNS if kind == "events" else CHANGE_COLUMNS
    to_cells = _event_cells if kind == "events" else _change_cells
    started = timezone.now()
    digest = hashlib.sha256()
    out = io.StringIO()
    write = _encoder(fmt, columns, out)
    count = unsealed = 0
    first = last = None
    if rows is None and kind == "events":
        # Chain every finished event first (the after-commit attempts are
        # throttled), so that the export carries their chain positions.
        seal_pending()
    # One transaction: a plain (not WITH HOLD) server-side cursor over one snapshot.
    with transaction.atomic():
        if rows is None:
            rows = _query(kind, filters)
        for row in rows:
            last = to_cells(row)
            write(last)
            count += 1
            if first is None:
                first = last
            if kind == "events" and not last[-1]:
                unsealed += 1
            if out.tell() >= FLUSH_AT:
                block = out.getvalue().encode()
                out.seek(0)
                out.truncate()
                digest.update(block)
                yield block
        block = out.getvalue().encode()
        digest.update(block)
        yield block
        manifest = {
            "kind": kind,
            "format": fmt,
            "columns": list(columns),
            "filters": filters_json(filters),
            "exported_by": str(actor_id),
            "started_at": _plain(started),
            "finished_at": _plain(timezone.now()),
            "row_count": count,
            "unsealed_rows": unsealed,
            "sha256": digest.hexdigest(),
            "first": _edge(columns, first),
            "last": _edge(columns, last),
        }
        services.export_manifest_store(export_id=export_id, actor_id=actor_id, manifest=manifest)


def _edge(columns: tuple[str, ...], cells: list[Any] | None) -> dict[str, Any] | None:
    return manifest_format.edge(dict(zip(columns, cells, strict=True))) if cells else None


def _query(kind: str, filters: dict[str, Any]) -> Iterator[tuple[Any, ...]]:
    chunk = settings.AUDIT_EXPORT_CHUNK
    if kind == "events":
        qs = selectors.event_filter(filters=filters).order_by("id")
        return qs.values_list(*CANONICAL_FIELDS, "seal__seq", "seal__hash").iterator(chunk)
    qs = selectors.change_filter(filters=filters).order_by("id")
    fields = ("id", "timestamp", "actor_id", "content_type__app_label", "content_type__model")
    rest = ("object_pk", "object_repr", "action", "changes", "remote_addr", "cid")
    return qs.values_list(*fields, *rest).iterator(chunk)


def export_start(
    *, request: "SignedInRequest", kind: str, fmt: str, filters: dict[str, Any]
) -> tuple[uuid.UUID, Iterator[bytes]]:
    """Record the export (before a byte leaves), then hand back its stream."""
    signing.current_public_key()  # no key, no export: its manifest could not be signed
    export_id = uuid.uuid4()
    services.record(
        action=Action.EXPORT, request=request, object_type=f"audit_{kind}", object_id=export_id
    )
    actor_id = request.user.pk
    return export_id, stream(
        export_id=export_id, actor_id=actor_id, kind=kind, fmt=fmt, filters=filters
    )


def filename(*, kind: str, fmt: str, export_id: uuid.UUID) -> str:
    return f"audit-{kind}-{export_id}.{fmt}"


def signed_manifest(export: "AuditExport") -> dict[str, Any]:
    """A stored export's manifest as the auditor downloads it."""
    return manifest_format.with_signature(export.manifest, export.key_id, bytes(export.signature))

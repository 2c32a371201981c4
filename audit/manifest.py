"""The export manifest: its signed form, and checking a data file against it.

Pure Python and portal.crypto.signing only, no Django: audit.verify_export
runs on an auditor's machine with nothing but the files and a public key.

A manifest is a JSON object: what was exported (kind, format, columns,
filters, who, when), the row count, the SHA-256 of the exported bytes, and
the id and chain position/hash of the first and last row (null for an
unsealed event). ``signature`` holds an Ed25519 signature over every other
member as canonical JSON (sorted keys, no spaces, UTF-8).
"""

import base64
import csv
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from portal.crypto import signing

CONTEXT = "carebridge audit export manifest v1"


def signed_bytes(manifest: dict[str, Any]) -> bytes:
    doc = {k: v for k, v in manifest.items() if k != "signature"}
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def with_signature(manifest: dict[str, Any], key_id: str, signature: bytes) -> dict[str, Any]:
    return {
        **manifest,
        "signature": {
            "algorithm": signing.ALGORITHM,
            "key_id": key_id,
            "value": base64.b64encode(signature).decode(),
        },
    }


def edge(row: dict[str, Any]) -> dict[str, Any]:
    """How the manifest names the first or last row."""
    return {k: row.get(k) for k in ("id", "chain_seq", "chain_hash")}


def _rows(path: Path, file_format: str) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8", newline="") as f:
        if file_format == "csv":
            yield from csv.DictReader(f)
        else:
            for line in f:
                yield json.loads(line)


def _normalise(row: dict[str, Any]) -> dict[str, Any]:
    """CSV cells are text: compare ids and positions as the manifest writes them."""
    out = edge(row)
    for key in ("id", "chain_seq"):
        if isinstance(out[key], str):
            out[key] = int(out[key]) if out[key] else None
    if out["chain_hash"] == "":
        out["chain_hash"] = None
    return out


def problems(data: Path, manifest: dict[str, Any], public_key: str) -> list[str]:
    """What is wrong with this data file and manifest; empty when the export is intact."""
    found = []
    sig = manifest.get("signature") or {}
    key = signing.load_public_key(public_key)
    if manifest.get("context") != CONTEXT:
        found.append("the manifest is not a Carebridge audit export manifest")
    if sig.get("key_id") != signing.key_id(key):
        found.append(f"the manifest was signed by key {sig.get('key_id')}, not the one given")
    try:
        signature = base64.b64decode(sig.get("value", ""), validate=True)
    except ValueError:
        signature = b""
    if not signing.verify_with(key, signed_bytes(manifest), signature):
        found.append("the manifest's signature does not verify")
    digest = hashlib.sha256()
    with data.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    if digest.hexdigest() != manifest.get("sha256"):
        found.append("the data file's SHA-256 differs from the manifest's")
    count, first, last = 0, None, None
    try:
        for row in _rows(data, manifest.get("format", "")):
            count += 1
            last = row
            first = first or row
    except (ValueError, UnicodeDecodeError, csv.Error) as exc:
        found.append(f"the data file cannot be read as {manifest.get('format')}: {exc}")
        return found
    if count != manifest.get("row_count"):
        found.append(
            f"the data file has {count} rows, the manifest says {manifest.get('row_count')}"
        )
    for name, edge_row in (("first", first), ("last", last)):
        if (_normalise(edge_row) if edge_row else None) != manifest.get(name):
            found.append(f"the {name} row differs from the manifest's")
    return found


def load(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return loaded

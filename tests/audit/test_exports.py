"""Exports stream the selection with a signed manifest that is checked offline."""

import csv
import io
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.db import connection
from django.http import StreamingHttpResponse

from audit import exports
from audit.actions import Action
from audit.models import AuditSeal
from audit.services import record
from tests.audit_helpers import last_event
from tests.conftest import sign_in_fully

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def auditor(client, otto):
    return sign_in_fully(client, otto)


def download(client, path: str, filters: dict) -> tuple[StreamingHttpResponse, bytes, dict]:
    response = client.post(path, filters)
    assert response.status_code == 200
    assert isinstance(response, StreamingHttpResponse)
    data = b"".join(response.streaming_content)
    manifest_url = response["Link"].split(">")[0].lstrip("<")
    manifest = client.get(manifest_url)
    assert manifest.status_code == 200
    return response, data, json.loads(manifest.content)


def verify_offline(tmp_path, data: bytes, manifest: dict, public_key: str):
    """The documented command, in a process with no Django settings and no database."""
    data_file, manifest_file = tmp_path / "export.csv", tmp_path / "manifest.json"
    data_file.write_bytes(data)
    manifest_file.write_text(json.dumps(manifest))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO", "DATABASE"))}
    command = ["-m", "audit.verify_export", str(data_file), str(manifest_file)]
    return subprocess.run(
        [sys.executable, *command, "--public-key", public_key],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def views_of(patient, by, count: int) -> list[int]:
    return [
        record(action=Action.RECORD_VIEW, actor=by, patient_id=patient.patient_id).pk
        for _ in range(count)
    ]


def test_it_streams_the_selection_as_csv_with_a_signed_manifest(
    committed, auditor, alice, mallory, carol, public_key, tmp_path
):
    ids = views_of(alice, carol, 3)
    views_of(mallory, carol, 2)
    response, data, manifest = download(
        auditor, "/audit/export/events.csv", {"patient": alice.patient_id}
    )
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(data.decode())))
    assert [int(r["id"]) for r in rows] == ids  # oldest first, chain order
    assert {r["patient_id"] for r in rows} == {str(alice.patient_id)}
    seals = {s.event_id: s for s in AuditSeal.objects.filter(event_id__in=ids)}
    assert manifest["row_count"] == 3
    assert manifest["first"]["chain_hash"] == bytes(seals[ids[0]].hash).hex()
    assert manifest["last"] == {
        "id": ids[-1],
        "chain_seq": seals[ids[-1]].seq,
        "chain_hash": bytes(seals[ids[-1]].hash).hex(),
    }
    assert manifest["filters"]["patient"] == str(alice.patient_id)
    assert manifest["unsealed_rows"] == 0

    result = verify_offline(tmp_path, data, manifest, public_key)
    assert result.returncode == 0, result.stderr
    assert "OK: 3 rows" in result.stdout


def test_it_fails_offline_verification_after_one_byte_changes(
    db, auditor, alice, carol, public_key, tmp_path
):
    views_of(alice, carol, 2)
    _, data, manifest = download(auditor, "/audit/export/events.csv", {"user": "carol"})
    changed = bytearray(data)
    changed[data.index(b"record.view")] = ord("R")
    result = verify_offline(tmp_path, bytes(changed), manifest, public_key)
    assert result.returncode == 1
    assert "SHA-256" in result.stderr


def test_it_fails_offline_verification_of_an_edited_manifest(
    db, auditor, alice, carol, public_key, tmp_path
):
    views_of(alice, carol, 2)
    _, data, manifest = download(auditor, "/audit/export/events.jsonl", {"user": "carol"})
    manifest["row_count"] = 1
    result = verify_offline(tmp_path, data, manifest, public_key)
    assert result.returncode == 1
    assert "signature does not verify" in result.stderr
    assert "the manifest says 1" in result.stderr


def test_it_exports_json_lines_and_flags_unsealed_events(
    committed, auditor, alice, carol, public_key, tmp_path
):
    import psycopg

    params = connection.settings_dict
    older = psycopg.connect(
        dbname=params["NAME"],
        user=params["USER"],
        password=params["PASSWORD"],
        host=params["HOST"],
        port=params["PORT"],
    )
    try:
        older.execute("SELECT pg_current_xact_id()")  # a writer still running, older than:
        ids = views_of(alice, carol, 2)  # committed, but the sealer must wait for that writer
        _, data, manifest = download(auditor, "/audit/export/events.jsonl", {"user": "carol"})
    finally:
        older.rollback()
        older.close()
    rows = [json.loads(line) for line in data.decode().splitlines()]
    assert [r["id"] for r in rows] == ids
    assert rows[0]["action"] == "record.view"
    assert (rows[0]["sealed"], rows[0]["chain_hash"]) == (False, None)
    assert manifest["unsealed_rows"] == 2
    assert verify_offline(tmp_path, data, manifest, public_key).returncode == 0


def test_it_records_every_export(db, auditor, otto):
    response, _, manifest = download(auditor, "/audit/export/events.csv", {"action": "login"})
    event = last_event(Action.EXPORT)
    assert (event.actor_id, event.actor_role) == (otto.pk, "auditor")
    assert event.object_id == manifest["export_id"]
    assert manifest["export_id"] in response["Content-Disposition"]
    assert manifest["exported_by"] == str(otto.pk)


def test_it_lists_the_auditors_finished_exports(db, auditor):
    _, _, manifest = download(auditor, "/audit/export/events.csv", {})
    page = auditor.get("/audit/")
    assert f"/audit/exports/{manifest['export_id']}/manifest.json" in page.content.decode()


def test_it_exports_the_change_log_too(db, auditor, carol, public_key, tmp_path):
    carol.display_name = "Dr Carol Chen-Okafor"
    carol.save()
    _, data, manifest = download(auditor, "/audit/export/changes.jsonl", {})
    rows = [json.loads(line) for line in data.decode().splitlines()]
    change = next(r for r in rows if r["object_pk"] == str(carol.pk) and r["action"] == "update")
    assert change["model"] == "accounts.user"
    assert change["changes"]["display_name"] == ["Dr Carol Chen", "Dr Carol Chen-Okafor"]
    assert manifest["kind"] == "changes"
    assert verify_offline(tmp_path, data, manifest, public_key).returncode == 0


def test_the_stream_holds_one_block_at_a_time(db, otto):
    """Memory stays flat: blocks of about FLUSH_AT bytes, whatever the row count."""
    row = (1, None, None, "", "login", "success", "info", None, "", "", None, "", "", None, None)
    rows = ((n, *row[1:]) for n in range(1, 20001))
    blocks = exports.stream(
        export_id=uuid.uuid4(),
        actor_id=otto.pk,
        kind="events",
        fmt="csv",
        filters={},
        rows=rows,
    )
    sizes = [len(b) for b in blocks]
    assert len(sizes) > 10
    assert max(sizes) < exports.FLUSH_AT + 1024

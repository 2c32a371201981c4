"""manage.py backup / restore: encrypted, streamed, refused when damaged, shreds survive."""

import io
import json
import os
import re
import uuid
from datetime import UTC, datetime

import pytest
from django.core.management import CommandError, call_command

from audit.actions import Action, Severity
from patients.models import PatientDemographics
from portal.backup import database
from portal.crypto import disposals, keyring
from portal.crypto.errors import PatientKeyShredded
from portal.crypto.models import PatientKey
from portal.crypto.selectors import data_key
from portal.crypto.services import patient_shred
from portal.crypto.stream import StreamError
from portal.crypto.values import DISPOSED_TEXT, Undecryptable
from tests.audit_helpers import events
from tests.portal.backup.conftest import on_database, table_count
from tests.portal.crypto.conftest import demographics_of


def backup(dest) -> str:
    out = io.StringIO()
    call_command("backup", str(dest), stdout=out)
    return out.getvalue()


def restore(src) -> str:
    out = io.StringIO()
    call_command("restore", str(src), stdout=out)
    return out.getvalue()


def test_it_writes_an_encrypted_backup_with_a_manifest(committed, alice, tmp_path):
    demographics_of(alice, given_name="Alicia-Canary")
    dest = tmp_path / "nightly.cbbackup"

    output = backup(dest)

    manifest = json.loads(database.manifest_path(dest).read_text())
    assert manifest["backup_id"] in output
    data = dest.read_bytes()
    assert b"PGDMP" not in data  # pg_dump's custom-format magic: never in the clear
    assert manifest["ciphertext_bytes"] == len(data)
    assert manifest["plaintext_bytes"] > 0
    assert re.fullmatch(r"[0-9a-f]{64}", manifest["plaintext_sha256"])
    assert manifest["schema"]["patients"] == database.schema_version()["patients"]
    assert manifest["schema"]["audit"].startswith("0003")
    assert manifest["key_id"] == output.split("key ")[1][:16]
    assert manifest["created_at"].endswith("Z")
    assert oct(dest.stat().st_mode & 0o777) == "0o600"
    assert not list(tmp_path.glob("*.partial"))
    with pytest.raises(CommandError, match="already exists"):
        backup(dest)
    with pytest.raises(CommandError, match=r"Backup failed: .*No such file or directory"):
        backup(tmp_path / "missing-dir" / "b.cbbackup")


def test_it_restores_a_backup_into_an_empty_database(
    committed, alice, mallory, tmp_path, empty_database, settings
):
    settings.PORTAL_TIME_ZONE = "America/New_York"
    demographics_of(alice, given_name="Alice")
    demographics_of(mallory, given_name="Mallory")
    patient_ids = {alice.patient_id, mallory.patient_id}
    dest = tmp_path / "b.cbbackup"
    backup(dest)

    with on_database(empty_database):
        output = restore(dest)
        names = {
            row.patient_id: row.given_name
            for row in PatientDemographics.objects.filter(patient_id__in=patient_ids)
        }

    assert names == {alice.patient_id: "Alice", mallory.patient_id: "Mallory"}
    assert re.search(r"taken at \S+ \S+ UTC \(\S+ \S+ E[SD]T\)", output)
    assert "Disposals: 0 in the log (0 after this backup was taken), 0 re-applied" in output
    assert "verify_audit: Audit chain intact" in output


def test_it_refuses_a_database_that_is_not_empty(committed, alice, tmp_path):
    dest = tmp_path / "b.cbbackup"
    backup(dest)
    with pytest.raises(CommandError, match=r"is not empty.*nothing was changed"):
        restore(dest)


def test_it_refuses_a_truncated_or_altered_file_before_writing_anything(
    committed, alice, tmp_path, empty_database, settings
):
    demographics_of(alice)
    good = tmp_path / "good.cbbackup"
    backup(good)
    data = good.read_bytes()
    manifest = database.manifest_path(good).read_text()

    def damaged(name: str, content: bytes, with_manifest: bool = True):
        path = tmp_path / name
        path.write_bytes(content)
        if with_manifest:
            database.manifest_path(path).write_text(manifest)
        return path

    middle = len(data) // 2
    flipped = data[:middle] + bytes([data[middle] ^ 1]) + data[middle + 1 :]
    cases = [
        (damaged("cut.cbbackup", data[:-100]), "truncated"),
        (damaged("cut-no-manifest.cbbackup", data[:-100], with_manifest=False), "truncated"),
        (damaged("flip.cbbackup", flipped), "does not authenticate"),
        (damaged("flip-no-manifest.cbbackup", flipped, with_manifest=False), "does not auth"),
    ]
    other = damaged("other-manifest.cbbackup", data)
    forged = json.loads(manifest)
    forged["ciphertext_sha256"] = "0" * 64
    database.manifest_path(other).write_text(json.dumps(forged))
    cases.append((other, "does not match its manifest's SHA-256"))
    with on_database(empty_database):
        for path, reason in cases:
            with pytest.raises(CommandError, match=f"Restore refused: .*{reason}"):
                restore(path)
            assert table_count() == 0, path.name
        settings.PORTAL_BACKUP_KEY = keys_other()
        with pytest.raises(CommandError, match="made with backup key"):
            restore(good)
        assert table_count() == 0


def keys_other() -> str:
    import base64

    return base64.b64encode(os.urandom(32)).decode()


def test_it_commits_nothing_when_the_file_changes_after_its_check(
    committed, alice, tmp_path, empty_database
):
    demographics_of(alice)
    path = tmp_path / "b.cbbackup"
    manifest = database.backup_create(path, chunk_bytes=16 * 1024)
    assert manifest["chunks"] > 4
    data = path.read_bytes()

    def cut_the_file():
        # Past the first chunks, so pg_restore has already received and run some SQL.
        path.write_bytes(data[: len(data) - 200])

    with on_database(empty_database):
        with pytest.raises(StreamError, match="truncated"):
            database.restore_into_empty(path, before_restore=cut_the_file)
        assert table_count() == 0


def test_a_restore_of_a_backup_older_than_a_disposal_keeps_the_patient_disposed(
    committed, alice, mallory, tmp_path, empty_database
):
    demographics_of(alice, given_name="Alice", mrn="A-1")
    demographics_of(mallory, given_name="Mallory")
    dest = tmp_path / "before-disposal.cbbackup"
    backup(dest)
    backup_id = json.loads(database.manifest_path(dest).read_text())["backup_id"]

    patient_shred(patient_id=alice.patient_id, reason="retention ended")
    assert [d.patient_id for d in disposals.entries(keyring.key_store().root)] == [alice.patient_id]

    with on_database(empty_database):
        output = restore(dest)
        key = PatientKey.objects.get(pk=alice.patient_id)
        alice_name = PatientDemographics.objects.get(patient_id=alice.patient_id).given_name
        mallory_name = PatientDemographics.objects.get(patient_id=mallory.patient_id).given_name
        reapplied = [e for e in events(Action.PATIENT_SHREDDED) if backup_id in e.reason]
        mrn_index = PatientDemographics.objects.get(patient_id=alice.patient_id).mrn_index
        with pytest.raises(PatientKeyShredded):
            data_key(alice.patient_id)

    assert "Disposals: 1 in the log (1 after this backup was taken), 1 re-applied" in output
    assert "verify_audit: Audit chain intact" in output
    assert key.shredded_at is not None
    assert bytes(key.wrapped_key) == b""
    assert isinstance(alice_name, Undecryptable)
    assert str(alice_name) == DISPOSED_TEXT
    assert mrn_index is None
    assert mallory_name == "Mallory"
    assert len(reapplied) == 1
    assert (reapplied[0].patient_id, reapplied[0].severity) == (alice.patient_id, Severity.HIGH)


def test_it_counts_disposals_of_patients_the_backup_never_had(
    committed, alice, tmp_path, empty_database
):
    demographics_of(alice)
    dest = tmp_path / "b.cbbackup"
    backup(dest)
    disposals.append(
        keyring.key_store().root,
        patient_id=uuid.uuid4(),
        disposed_at=datetime.now(UTC),
    )
    with on_database(empty_database):
        output = restore(dest)
    assert "1 in the log (1 after this backup was taken), 0 re-applied" in output
    assert "(not in this backup's database: 1)" in output


def test_reapply_disposals_records_a_disposal_the_database_lost(db, alice, mallory):
    demographics_of(alice)
    demographics_of(mallory)
    patient_shred(patient_id=alice.patient_id)
    # As after a point-in-time recovery to before the shred: the row says live again.
    PatientKey.objects.filter(pk=alice.patient_id).update(shredded_at=None, wrapped_key=b"x")
    out = io.StringIO()

    call_command("reapply_disposals", stdout=out)
    call_command("reapply_disposals", stdout=out)

    assert "1 in the log, 1 re-applied" in out.getvalue()
    assert "1 in the log, 0 re-applied" in out.getvalue()
    assert PatientKey.objects.get(pk=alice.patient_id).shredded_at is not None
    assert PatientKey.objects.get(pk=mallory.patient_id).shredded_at is None
    assert [e.reason for e in events(Action.PATIENT_SHREDDED)][-1].endswith(
        "point-in-time recovery"
    )

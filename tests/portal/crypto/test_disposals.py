"""The disposal log beside the key store: every shred recorded there, hash-chained."""

import json
import uuid
from datetime import UTC, datetime

import pytest

from portal.crypto import disposals, keyring
from portal.crypto.disposals import DisposalLogError
from portal.crypto.models import PatientKey
from portal.crypto.services import patient_shred
from tests.portal.crypto.conftest import demographics_of


def test_it_records_each_shred_in_the_log_beside_the_key_store(db, alice, mallory):
    demographics_of(alice)
    demographics_of(mallory)
    patient_shred(patient_id=alice.patient_id)
    patient_shred(patient_id=alice.patient_id)  # idempotent: one line

    root = keyring.key_store().root
    logged = disposals.entries(root)
    assert [d.patient_id for d in logged] == [alice.patient_id]
    assert logged[0].disposed_at == PatientKey.objects.get(pk=alice.patient_id).shredded_at
    text = disposals.path_in(root).read_text()
    assert "Given" not in text
    assert set(json.loads(text.splitlines()[0])) == {"patient_id", "disposed_at", "prev", "hash"}
    assert oct(disposals.path_in(root).stat().st_mode & 0o777) == "0o600"


def test_it_detects_an_edited_or_removed_line(tmp_path):
    first, second = uuid.uuid4(), uuid.uuid4()
    now = datetime.now(UTC)
    assert disposals.append(tmp_path, patient_id=first, disposed_at=now)
    assert disposals.append(tmp_path, patient_id=second, disposed_at=now)
    assert not disposals.append(tmp_path, patient_id=first, disposed_at=now)
    path = disposals.path_in(tmp_path)
    lines = path.read_text().splitlines()

    path.write_text(lines[1] + "\n")
    with pytest.raises(DisposalLogError, match="line 1 breaks the hash chain"):
        disposals.entries(tmp_path)

    path.write_text(lines[0] + "\n" + lines[1].replace(str(second), str(uuid.uuid4())) + "\n")
    with pytest.raises(DisposalLogError, match="line 2 breaks the hash chain"):
        disposals.entries(tmp_path)


def test_it_reads_a_missing_log_as_no_disposals(tmp_path):
    assert disposals.entries(tmp_path) == []

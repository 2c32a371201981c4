"""Crypto-shredding: a patient's data key destroyed, their data unreadable, even from old dumps."""

import io

import pytest
from django.core.management import CommandError, call_command

from audit.actions import Action, Severity
from patients.models import PatientDemographics
from portal.crypto import keyring
from portal.crypto.blind_index import blind_index
from portal.crypto.errors import PatientKeyShredded, ValueDisposed
from portal.crypto.models import PatientKey
from portal.crypto.values import DISPOSED_TEXT, Undecryptable
from tests.audit_helpers import events, last_event
from tests.portal.crypto.conftest import demographics_of, execute, fresh, pg_dump


def shred(patient_id, *answers: str, monkeypatch=None, **options) -> str:
    if monkeypatch is not None:
        replies = iter(answers)
        monkeypatch.setattr("builtins.input", lambda prompt: next(replies))
    out = io.StringIO()
    call_command("shred_patient", str(patient_id), stdout=out, **options)
    return out.getvalue()


def confirmed(patient_id) -> dict:
    return {"confirm": str(patient_id), "confirm_again": "SHRED"}


def test_it_makes_a_shredded_patients_data_unreadable(db, alice, mallory):
    row = demographics_of(alice, given_name="Alice", mrn="A-1")
    other = demographics_of(mallory, given_name="Mallory")

    output = shred(alice.patient_id, **confirmed(alice.patient_id))

    assert "Shredded patient" in output
    key = PatientKey.objects.get(pk=alice.patient_id)
    assert bytes(key.wrapped_key) == b""
    assert key.shredded_at is not None
    assert not keyring.key_store().path(alice.patient_id).exists()
    value = fresh(row).given_name
    assert isinstance(value, Undecryptable)
    assert str(value) == DISPOSED_TEXT
    with pytest.raises(ValueDisposed):
        value.upper()
    assert fresh(other).given_name == "Mallory"
    assert not PatientDemographics.objects.filter(mrn_index=blind_index("A-1", purpose="mrn"))


def test_it_records_the_disposal_as_a_high_severity_event(db, alice):
    demographics_of(alice)
    shred(alice.patient_id, reason="retention ended, ticket 42", **confirmed(alice.patient_id))
    event = last_event(Action.PATIENT_SHREDDED)
    assert (event.severity, event.patient_id) == (Severity.HIGH, alice.patient_id)
    assert event.reason == "retention ended, ticket 42"
    assert str(PatientDemographics.objects.get().given_name) == DISPOSED_TEXT
    assert not events(Action.DECRYPT_FAILED)  # disposed, not failed


def test_it_writes_no_new_phi_for_a_shredded_patient(db, alice):
    row = demographics_of(alice)
    shred(alice.patient_id, **confirmed(alice.patient_id))
    row.given_name = "Alice again"
    with pytest.raises(PatientKeyShredded):
        row.save()


def test_it_asks_twice_before_shredding(db, alice, monkeypatch):
    demographics_of(alice)
    pid = alice.patient_id
    with pytest.raises(CommandError, match="Not confirmed"):
        shred(pid, "not-the-id", monkeypatch=monkeypatch)
    with pytest.raises(CommandError, match="Not confirmed"):
        shred(pid, str(pid), "shred please", monkeypatch=monkeypatch)
    with pytest.raises(CommandError, match="Not confirmed"):
        shred(pid, confirm=str(pid))
    assert PatientKey.objects.get(pk=pid).shredded_at is None

    assert "Shredded patient" in shred(pid, str(pid), "SHRED", monkeypatch=monkeypatch)
    assert "already shredded" in shred(pid, **confirmed(pid))
    assert len(events(Action.PATIENT_SHREDDED)) == 1


def test_it_shreds_a_patient_who_never_had_a_key(db, alice):
    shred(alice.patient_id, **confirmed(alice.patient_id))
    with pytest.raises(PatientKeyShredded):
        demographics_of(alice)


def test_it_defeats_a_database_dump_taken_before_the_shred(committed, alice):
    """The attacker has a pre-shred dump and the (still configured) KEKs, not the key share."""
    row = demographics_of(alice, given_name="Alice")
    dump = pg_dump("--data-only", "--column-inserts", "--table=portal_patient_key")
    (old_key_row,) = [line for line in dump.splitlines() if line.startswith("INSERT INTO")]

    def restore_old_key_row() -> None:
        execute("DELETE FROM portal_patient_key WHERE patient_id = %s", [alice.patient_id])
        execute(old_key_row)

    restore_old_key_row()  # the control: before the shred, the restored dump reads
    assert fresh(row).given_name == "Alice"

    shred(alice.patient_id, **confirmed(alice.patient_id))
    restore_old_key_row()

    value = fresh(row).given_name
    assert isinstance(value, Undecryptable)
    assert "key share is missing" in str(value.error)
    assert PatientKey.objects.get(pk=alice.patient_id).shredded_at is None  # the dump's row

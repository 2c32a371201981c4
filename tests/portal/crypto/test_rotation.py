"""Key rotation re-wraps data keys under the newest KEK, in batches, and keeps data readable."""

import io

import pytest
from django.core.management import CommandError, call_command

from audit.actions import Action
from portal.crypto import envelope
from portal.crypto.models import PatientKey
from tests.audit_helpers import events
from tests.portal.crypto.conftest import demographics_of, fresh


def rotate(*args, **options) -> str:
    out = io.StringIO()
    call_command("rotate_keys", *args, stdout=out, **options)
    return out.getvalue()


def test_it_rewraps_every_key_and_keeps_the_data_readable(db, alice, mallory, settings, phi_keys):
    rows = [demographics_of(alice, given_name="Alice"), demographics_of(mallory, given_name="Mal")]
    settings.PORTAL_KEKS = phi_keys.keks(2, 1)
    with pytest.raises(CommandError, match="2 data keys are still wrapped by older KEKs"):
        rotate("--check")

    assert "Re-wrapped 2 data keys under KEK version 2 in 2 batches" in rotate(batch_size=1)

    assert set(PatientKey.objects.values_list("kek_version", flat=True)) == {2}
    assert len(events(Action.KEY_ROTATED, object_type="portal.patientkey")) == 2
    assert "All 2 live data keys are wrapped by KEK version 2" in rotate("--check")
    settings.PORTAL_KEKS = phi_keys.keks(2)  # version 1 retired
    assert [fresh(r).given_name for r in rows] == ["Alice", "Mal"]


def test_it_resumes_an_interrupted_rotation(db, alice, mallory, settings, phi_keys, monkeypatch):
    demographics_of(alice)
    demographics_of(mallory)
    settings.PORTAL_KEKS = phi_keys.keks(2, 1)
    real_wrap, calls = envelope.wrap, []

    def crash_on_second_key(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("the process died")
        return real_wrap(*args, **kwargs)

    monkeypatch.setattr(envelope, "wrap", crash_on_second_key)
    with pytest.raises(RuntimeError):
        rotate(batch_size=1)
    assert sorted(PatientKey.objects.values_list("kek_version", flat=True)) == [1, 2]

    monkeypatch.setattr(envelope, "wrap", real_wrap)
    assert "Re-wrapped 1 data keys" in rotate()
    assert "All 2 live data keys" in rotate("--check")


def test_it_names_a_key_whose_version_is_no_longer_configured(db, alice, settings, phi_keys):
    demographics_of(alice)
    settings.PORTAL_KEKS = phi_keys.keks(2)  # version 1 removed too early
    with pytest.raises(CommandError, match=r"version 1: 1 \(not in PORTAL_KEKS\)"):
        rotate("--check")
    with pytest.raises(CommandError, match="could not be unwrapped"):
        rotate()
    assert events(Action.DECRYPT_FAILED)[0].patient_id == alice.patient_id

"""records.signals.encounters_synced: a sync announces the Encounters it wrote (ids only),
once they are committed, and a failing receiver never fails the sync."""

import pytest

from records.signals import encounters_synced
from records.sync import sync_patient
from tests.fake_ehr import Reply, bundle
from tests.records import resources as r

pytestmark = pytest.mark.django_db


@pytest.fixture
def patient(alice):
    alice.patient.fhir_id = r.PATIENT_FHIR_ID
    alice.patient.save()
    return alice.patient


@pytest.fixture
def heard():
    calls = []

    def receiver(sender, **kwargs):
        calls.append(kwargs)

    encounters_synced.connect(receiver, dispatch_uid="test.heard")
    yield calls
    encounters_synced.disconnect(dispatch_uid="test.heard")


def serving(ehr, encounters):
    def app(request):
        if request.path.endswith("/Encounter"):
            return Reply(body=bundle(encounters))
        return Reply(body=bundle([]))

    ehr.app = app


def test_it_announces_the_encounters_written_after_the_commit(
    ehr, fhir_client_for, patient, heard, django_capture_on_commit_callbacks
):
    serving(ehr, [r.encounter("enc-1"), r.encounter("enc-2")])

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        sync_patient(patient=patient, client=fhir_client_for(ehr))
    assert heard == []  # not before the writes are committed
    for callback in callbacks:
        callback()

    assert len(heard) == 1
    assert heard[0]["patient_id"] == patient.pk
    assert sorted(heard[0]["encounter_ids"]) == ["enc-1", "enc-2"]


def test_it_announces_only_what_changed_and_nothing_when_nothing_did(
    ehr, fhir_client_for, patient, heard, django_capture_on_commit_callbacks
):
    serving(ehr, [r.encounter("enc-1"), r.encounter("enc-2")])
    with django_capture_on_commit_callbacks(execute=True):
        sync_patient(patient=patient, client=fhir_client_for(ehr))
    heard.clear()

    with django_capture_on_commit_callbacks(execute=True):
        sync_patient(patient=patient, client=fhir_client_for(ehr))
    assert heard == []

    serving(ehr, [r.newer(r.encounter("enc-2"), "3", "2026-10-03T12:00:00Z"), r.encounter("enc-1")])
    with django_capture_on_commit_callbacks(execute=True):
        sync_patient(patient=patient, client=fhir_client_for(ehr))
    assert [call["encounter_ids"] for call in heard] == [["enc-2"]]


def test_a_failing_receiver_is_logged_by_type_and_the_sync_goes_on(
    ehr, fhir_client_for, patient, django_capture_on_commit_callbacks, caplog
):
    def broken(sender, **kwargs):
        raise RuntimeError("Patient Alice Example has pneumonia")

    encounters_synced.connect(broken, dispatch_uid="test.broken")
    serving(ehr, [r.encounter("enc-1")])
    try:
        with django_capture_on_commit_callbacks(execute=True):
            result = sync_patient(patient=patient, client=fhir_client_for(ehr))
    finally:
        encounters_synced.disconnect(dispatch_uid="test.broken")

    assert result.ok
    assert "RuntimeError" in caplog.text
    assert "pneumonia" not in caplog.text
    assert "Alice" not in caplog.text

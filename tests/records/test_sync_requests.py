"""When a sync is queued: at a patient's sign-in when the data is stale, and on Refresh."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone
from procrastinate.contrib.django.models import ProcrastinateJob

from audit.actions import Action, Outcome
from records.models import SyncState
from records.sync import SYNCED_TYPES, SyncReason, SyncUnavailable, request_sync
from tests.audit_helpers import events
from tests.conftest import sign_in_fully

pytestmark = pytest.mark.django_db


@pytest.fixture
def ehr_configured(settings):
    settings.FHIR_BASE_URL = "https://ehr.clinic.test/fhir"
    settings.FHIR_SYNC_STALE_AFTER = 15 * 60
    settings.FHIR_REFRESH_INTERVAL = 5 * 60


@pytest.fixture
def linked(alice):
    alice.patient.fhir_id = "ehr-alice-1"
    alice.patient.save()
    return alice


def queued_syncs() -> list[dict]:
    return [
        job.args
        for job in ProcrastinateJob.objects.filter(task_name="records.sync_patient", status="todo")
    ]


def synced_at(patient, when) -> None:
    for resource_type in SYNCED_TYPES:
        SyncState.objects.update_or_create(
            patient=patient, resource_type=resource_type, defaults={"last_synced_at": when}
        )


def test_a_patient_sign_in_queues_a_sync_of_stale_data(ehr_configured, linked, client):
    sign_in_fully(client, linked)

    assert queued_syncs() == [{"patient_id": str(linked.patient.pk)}]
    event = events(action=Action.RECORDS_SYNC_REQUEST)[-1]
    assert (event.patient_id, event.object_type, event.outcome) == (
        linked.patient.pk,
        "sign_in",
        Outcome.SUCCESS,
    )


def test_a_sign_in_with_fresh_data_queues_nothing(ehr_configured, linked, client):
    synced_at(linked.patient, timezone.now() - timedelta(minutes=5))

    sign_in_fully(client, linked)

    assert queued_syncs() == []


def test_one_type_never_synced_makes_the_data_stale(ehr_configured, linked, client):
    synced_at(linked.patient, timezone.now())
    SyncState.objects.filter(patient=linked.patient, resource_type="Immunization").delete()

    sign_in_fully(client, linked)

    assert len(queued_syncs()) == 1


def test_nothing_is_queued_without_an_ehr_or_for_staff(
    settings, linked, carol, client, make_client
):
    settings.FHIR_BASE_URL = ""
    sign_in_fully(client, linked)
    settings.FHIR_BASE_URL = "https://ehr.clinic.test/fhir"
    sign_in_fully(make_client(), carol)

    assert queued_syncs() == []
    settings.FHIR_BASE_URL = ""
    with pytest.raises(SyncUnavailable):
        request_sync(patient=linked.patient, actor=linked, reason=SyncReason.REFRESH)


def test_an_unlinked_patient_cannot_be_synced(ehr_configured, alice):
    with pytest.raises(SyncUnavailable):
        request_sync(patient=alice.patient, actor=alice, reason=SyncReason.REFRESH)
    assert queued_syncs() == []


def test_refresh_is_rate_limited_per_patient_in_the_database(ehr_configured, linked):
    assert request_sync(patient=linked.patient, actor=linked, reason=SyncReason.REFRESH)

    # A second press soon after (from any session or device) is refused and audited.
    assert not request_sync(patient=linked.patient, actor=linked, reason=SyncReason.REFRESH)
    denied = events(action=Action.RECORDS_SYNC_REQUEST, outcome=Outcome.DENIED)
    assert [(e.patient_id, e.object_type) for e in denied] == [(linked.patient.pk, "refresh")]

    with time_machine.travel(timezone.now() + timedelta(minutes=6)):
        assert request_sync(patient=linked.patient, actor=linked, reason=SyncReason.REFRESH)


def test_a_patient_never_has_two_syncs_waiting(ehr_configured, linked, mallory):
    mallory.patient.fhir_id = "ehr-mallory-2"
    mallory.patient.save()

    request_sync(patient=linked.patient, actor=linked, reason=SyncReason.SIGN_IN)
    request_sync(patient=linked.patient, actor=linked, reason=SyncReason.SIGN_IN)
    request_sync(patient=mallory.patient, actor=mallory, reason=SyncReason.SIGN_IN)

    assert sorted(job["patient_id"] for job in queued_syncs()) == sorted(
        [str(linked.patient.pk), str(mallory.patient.pk)]
    )


def test_the_job_names_the_patient_by_id_only(ehr_configured, linked):
    request_sync(patient=linked.patient, actor=linked, reason=SyncReason.SIGN_IN)

    job = ProcrastinateJob.objects.get(task_name="records.sync_patient")
    assert job.args == {"patient_id": str(linked.patient.pk)}
    assert job.lock == job.queueing_lock == f"sync:{linked.patient.pk}"
    assert "ehr-alice-1" not in str(job.args)

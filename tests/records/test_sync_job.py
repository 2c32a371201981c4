"""The sync job end to end: sign-in queues it, a real worker runs it against a real EHR.

The FHIR server is sekmet (tests/ehr_fixtures.py), reached with the portal's
own settings (FHIR_*), SMART token and client; the worker is procrastinate's,
on committed rows as in production.
"""

import time
from decimal import Decimal

import pytest
from procrastinate.contrib.django import app
from procrastinate.contrib.django.models import ProcrastinateJob

from audit.actions import Action, Outcome
from portal.fhir import FhirClient
from records.models import FhirRecord, SyncState
from records.sync import SYNCED_TYPES, sync_patient
from tests.audit_helpers import events
from tests.conftest import sign_in_fully
from tests.records import resources as r

PATIENT_ID = "job-test-patient"
V2_0074 = "http://terminology.hl7.org/CodeSystem/v2-0074"


@pytest.fixture
def ehr_settings(settings, ehr_server):
    smart = ehr_server.smart_config()
    settings.FHIR_BASE_URL = ehr_server.base_url
    settings.FHIR_CA_BUNDLE = ehr_server.ca_bundle
    settings.FHIR_CLIENT_ID = smart.client_id
    settings.FHIR_PRIVATE_KEY_FILE = str(smart.private_key_file)
    settings.FHIR_KEY_ID = smart.key_id
    settings.FHIR_SCOPE = smart.scope
    return ehr_server


@pytest.fixture
def served(ehr_settings):
    """One patient on the EHR with a lab, a problem and a visit with its note."""
    patient = {"resourceType": "Patient", "id": PATIENT_ID, "active": True}
    return ehr_settings.load(
        [
            patient,
            r.lab("job-lab-1", patient=PATIENT_ID),
            r.condition("job-cond-1", patient=PATIENT_ID),
            r.encounter("job-enc-1", patient=PATIENT_ID),
            r.visit_note("job-note-1", patient=PATIENT_ID, encounter_id="job-enc-1"),
        ]
    )


def run_worker() -> None:
    """Process every waiting job, then return (what `make run`'s worker does forever).

    With the worker's own connector, as `manage.py procrastinate worker` uses.
    """
    with app.replace_connector(app.connector.get_worker_connector()):
        app.run_worker(queues=["sync"], wait=False, install_signal_handlers=False)


def test_sign_in_queues_a_sync_that_the_worker_runs(committed, served, alice, client):
    alice.patient.fhir_id = PATIENT_ID
    alice.patient.save()

    sign_in_fully(client, alice)
    assert ProcrastinateJob.objects.filter(status="todo").count() == 1
    run_worker()

    job = ProcrastinateJob.objects.get(task_name="records.sync_patient")
    assert job.status == "succeeded"
    assert set(
        FhirRecord.objects.filter(patient=alice.patient).values_list("resource_type", "fhir_id")
    ) == {
        ("Observation", "job-lab-1"),
        ("Condition", "job-cond-1"),
        ("Encounter", "job-enc-1"),
        ("DocumentReference", "job-note-1"),
    }
    states = SyncState.objects.filter(patient=alice.patient, last_synced_at__isnull=False)
    assert {state.resource_type for state in states} == set(SYNCED_TYPES)
    syncs = events(action=Action.RECORDS_SYNC, patient_id=alice.patient.pk)
    assert {(e.object_type, e.outcome) for e in syncs} == {
        (t, Outcome.SUCCESS) for t in [*SYNCED_TYPES, "Patient"]
    }
    assert all(e.actor_id is None for e in syncs)  # the system, not the patient


@pytest.mark.django_db
def test_a_second_sync_fetches_only_what_changed_on_the_real_server(ehr_server, alice):
    patient_id = "incremental-test-patient"
    ehr_server.load(
        [
            {"resourceType": "Patient", "id": patient_id, "active": True},
            r.lab("inc-lab-2", patient=patient_id),
            r.condition("inc-cond-1", patient=patient_id),
        ]
    )
    time.sleep(0.01)  # lastUpdated has millisecond precision: lab 1 is strictly newer
    ehr_server.load([r.lab("inc-lab-1", patient=patient_id, value=Decimal("7.10"))])
    alice.patient.fhir_id = patient_id
    alice.patient.save()
    with FhirClient(ehr_server.fhir_config(), smart=ehr_server.smart_config()) as client:
        first = sync_patient(patient=alice.patient, client=client)
        changed = r.lab("inc-lab-1", patient=patient_id, value=Decimal("6.90"))
        ehr_server.load([changed])
        second = sync_patient(patient=alice.patient, client=client)

    assert first.reports["Observation"].stored == 2
    # Only what changed since the first sync's newest lastUpdated came back: lab 1's
    # new version, not lab 2 (older than that mark).
    assert (second.reports["Observation"].stored, second.reports["Observation"].unchanged) == (
        1,
        0,
    )
    assert second.reports["Condition"].stored == 0
    row = FhirRecord.objects.get(patient=alice.patient, fhir_id="inc-lab-1")
    assert row.display["value"] == Decimal("6.9")  # sekmet keeps floats: 6.90 comes back 6.9
    assert row.version_id == "2"


@pytest.mark.django_db
def test_lab_reports_sync_and_imaging_reports_do_not(ehr_server, alice):
    patient_id = "reports-test-patient"

    def report(fhir_id, category):
        return {
            "resourceType": "DiagnosticReport",
            "id": fhir_id,
            "status": "final",
            "category": [{"coding": [{"system": V2_0074, "code": category}]}],
            "code": {"text": f"{category} report"},
            "subject": {"reference": f"Patient/{patient_id}"},
            "conclusion": "Within normal limits.",
        }

    ehr_server.load(
        [
            {"resourceType": "Patient", "id": patient_id, "active": True},
            report("rep-lab", "LAB"),
            report("rep-rad", "RAD"),
        ]
    )
    alice.patient.fhir_id = patient_id
    alice.patient.save()
    with FhirClient(ehr_server.fhir_config(), smart=ehr_server.smart_config()) as client:
        result = sync_patient(patient=alice.patient, client=client)

    assert result.ok
    stored = FhirRecord.objects.filter(patient=alice.patient, resource_type="DiagnosticReport")
    assert list(stored.values_list("fhir_id", flat=True)) == ["rep-lab"]

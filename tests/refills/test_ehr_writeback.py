"""Each decision reaches a real FHIR server (sekmet, the demo EHR) as a Task, and an approval
as a new MedicationRequest with priorPrescription; an EHR that is down leaves the item
"waiting for the EHR" until a retry gets through, never a false "sent"."""

import uuid

import pytest

from portal.fhir import FhirClient
from portal.fhir.errors import FhirError
from refills import fhir, services, tasks
from refills.models import EhrState, RefillItem
from refills.vocabulary import ACT_REASON
from tests.refills.conftest import CONTEXT, ask, prescription, store


@pytest.fixture
def linked(ward, alice, carol, pharmacy, ehr_server, settings):
    """Alice on the EHR under a fresh id, with two prescriptions the server holds too."""
    from refills.models import Prescriber

    fhir_id = f"pat-refill-{uuid.uuid4().hex[:12]}"
    medicines = [
        prescription(
            f"{fhir_id}-metformin", rxnorm="6809", name="Metformin 1000 mg", patient=fhir_id
        ),
        prescription(
            f"{fhir_id}-lisinopril", rxnorm="29046", name="Lisinopril 20 mg", patient=fhir_id
        ),
    ]
    patient = {"resourceType": "Patient", "id": fhir_id, "name": [{"family": "Example"}]}
    ehr_server.load([patient, *[{k: v for k, v in m.items() if k != "meta"} for m in medicines]])
    store(alice.patient, fhir_id, medicines)
    Prescriber.objects.create(user=carol, ehr_requester="Dr Carol Chen")
    settings.FHIR_BASE_URL = ehr_server.base_url
    return fhir_id


def writer(ehr_server, **overrides):
    return FhirClient(
        ehr_server.fhir_config(**overrides), smart=ehr_server.smart_config(scope=fhir.WRITE_SCOPE)
    )


def read(ehr_server, resource_type, resource_id):
    status, body = ehr_server.writer.request(
        "GET", f"{ehr_server.base_url}/{resource_type}/{resource_id}"
    )
    assert status == 200, body
    return body


def test_an_approval_and_a_denial_reach_the_ehr(linked, alice, carol, ehr_server):
    request = ask(alice, f"{linked}-metformin", f"{linked}-lisinopril")
    approved = request.items.get(medication_request_id=f"{linked}-metformin")
    denied = request.items.get(medication_request_id=f"{linked}-lisinopril")
    services.refill_item_decide(
        actor=carol, item_id=approved.pk, decision="approve", refills=2, days_supply=90,
        context=CONTEXT,
    )  # fmt: skip
    services.refill_item_decide(
        actor=carol, item_id=denied.pk, decision="deny", reason_code="STOPMED",
        reason_text="Blood pressure is fine without it", context=CONTEXT,
    )  # fmt: skip
    with writer(ehr_server) as client:
        assert tasks.write_decision_now(str(approved.pk), client)
        assert tasks.write_decision_now(str(denied.pk), client)

    task = read(ehr_server, "Task", fhir.task_id(approved))
    assert task["status"] == "completed"
    assert task["focus"]["reference"] == f"MedicationRequest/{linked}-metformin"
    assert task["code"]["coding"][0]["code"] == "refill"
    new = read(ehr_server, "MedicationRequest", fhir.prescription_id(approved))
    assert new["priorPrescription"]["reference"] == f"MedicationRequest/{linked}-metformin"
    assert new["dispenseRequest"]["numberOfRepeatsAllowed"] == 2
    assert new["subject"]["reference"] == f"Patient/{linked}"
    refused = read(ehr_server, "Task", fhir.task_id(denied))
    assert refused["status"] == "rejected"
    assert refused["statusReason"]["coding"][0] == {
        "system": ACT_REASON,
        "code": "STOPMED",
        "display": "Prescriber stopped medication",
    }
    assert RefillItem.objects.get(pk=approved.pk).ehr_state == EhrState.SENT
    assert RefillItem.objects.get(pk=denied.pk).ehr_medication_request_id == ""


def test_an_ehr_that_is_down_leaves_the_decision_waiting_until_a_retry_sends_it(
    linked, alice, carol, ehr_server
):
    item = ask(alice, f"{linked}-metformin").items.get()
    services.refill_item_decide(
        actor=carol, item_id=item.pk, decision="approve", refills=1, days_supply=30
    )
    down = writer(ehr_server, base_url="https://127.0.0.1:9/fhir", max_retries=0, connect_timeout=1)
    with down, pytest.raises(FhirError):
        tasks.write_decision_now(str(item.pk), down)
    assert RefillItem.objects.get(pk=item.pk).ehr_state == EhrState.WAITING
    # The job queue retries a failed write (procrastinate's retry strategy).
    assert tasks.write_decision.retry_strategy.max_attempts > 1
    with writer(ehr_server) as client:
        tasks.write_decision_now(str(item.pk), client)
        # A repeat (a lost acknowledgement) lands on the same ids: nothing twice.
        RefillItem.objects.filter(pk=item.pk).update(ehr_state=EhrState.WAITING)
        tasks.write_decision_now(str(item.pk), client)
    assert RefillItem.objects.get(pk=item.pk).ehr_state == EhrState.SENT
    found = ehr_server.writer.search("Task", {"focus": f"MedicationRequest/{linked}-metformin"})
    assert len(found) == 1


def test_the_write_client_asks_for_the_write_scopes_only():
    assert set(fhir.WRITE_SCOPE.split()) == {"system/Task.cu", "system/MedicationRequest.cu"}


def test_a_decision_still_waiting_is_queued_again_once(linked, alice, carol, time_machine):
    import datetime as dt

    from procrastinate.contrib.django.models import ProcrastinateJob

    item = ask(alice, f"{linked}-metformin").items.get()
    services.refill_item_decide(actor=carol, item_id=item.pk, decision="appointment")
    jobs = ProcrastinateJob.objects.filter(task_name="refills.write_decision")
    assert jobs.count() == 1
    time_machine.move_to(dt.datetime.now(dt.UTC) + dt.timedelta(hours=1))
    assert tasks.waiting_requeue() == 0  # one is still waiting: no second
    jobs.update(status="failed")  # its retries ran out
    assert tasks.waiting_requeue() == 1
    assert jobs.filter(status="todo").count() == 1

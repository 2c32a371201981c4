"""Appointments in the record download, in their FHIR R4 shape (validated)."""

import datetime as dt
import json

from fhir.resources.R4B.appointment import Appointment as FhirAppointment
from fhir.resources.R4B.schedule import Schedule as FhirSchedule
from fhir.resources.R4B.slot import Slot as FhirSlot

from appointments.services import SlotChoice, appointment_book
from tests.conftest import sign_in_fully

TUESDAY_9 = dt.datetime(2026, 1, 6, 14, 0, tzinfo=dt.UTC)
MODELS = {"Appointment": FhirAppointment, "Schedule": FhirSchedule, "Slot": FhirSlot}


def test_the_record_download_carries_valid_schedule_slot_and_appointment(
    client, monday, clinic, carol, alice, mallory
):
    place, kind = clinic
    mine = appointment_book(
        actor=alice,
        patient_id=alice.patient_id,
        choice=SlotChoice(carol.pk, place.pk, kind.pk, TUESDAY_9),
        reason="Knee pain",
    )
    appointment_book(
        actor=mallory,
        patient_id=mallory.patient_id,
        choice=SlotChoice(carol.pk, place.pk, kind.pk, TUESDAY_9 + dt.timedelta(hours=1)),
        reason="Not alice's",
    )
    sign_in_fully(client, alice)
    bundle = json.loads(client.get("/patient/records/download/health-record.json").content)
    resources = [e["resource"] for e in bundle["entry"]]
    assert [r["resourceType"] for r in resources] == ["Schedule", "Slot", "Appointment"]
    for resource in resources:
        MODELS[resource["resourceType"]].model_validate(resource)
    appointment = resources[2]
    assert appointment["id"] == str(mine.pk)
    assert (appointment["status"], appointment["start"]) == ("booked", "2026-01-06T14:00:00Z")
    assert appointment["reasonCode"] == [{"text": "Knee pain"}]
    assert appointment["slot"] == [{"reference": f"Slot/{resources[1]['id']}"}]
    assert "Not alice's" not in json.dumps(bundle)

"""The assistant in a real browser, with the real language part: alice books Dr Chen by
typing, asks for a refill of her metformin (misspelt), and a red flag stops the
conversation with the emergency instructions and alerts her care team."""

import datetime as dt
import uuid

from django.conf import settings
from playwright.sync_api import expect

from appointments.models import Appointment
from assistant.models import AlertKind, CareAlert
from patients.models import CareTeam
from refills.models import Pharmacy, Prescriber, RefillRequest
from tests.appointments import builders
from tests.refills.conftest import prescription, store

METFORMIN = "Metformin 1000 mg oral tablet"


def _alice_at_the_clinic(alice, carol):
    """Carol sees patients every day, all day, in the server's clinic zone (the server runs
    on the real clock, so "next tuesday afternoon" always has open times); alice is on her
    care team and takes metformin."""
    place = builders.location(time_zone=settings.PORTAL_TIME_ZONE)
    kind = builders.visit_type(name="Follow-up visit", min_notice_minutes=0)
    builders.weekdays(carol, place, kind, start=dt.time(8), end=dt.time(18), days=range(7))
    team = CareTeam.objects.create(name="Ward 3")
    team.members.add(carol)
    team.patients.add(alice.patient)
    fhir_id = f"pat-e2e-{uuid.uuid4().hex[:12]}"
    store(
        alice.patient,
        fhir_id,
        [prescription(f"{fhir_id}-met", rxnorm="6809", name=METFORMIN, patient=fhir_id)],
    )
    Prescriber.objects.create(user=carol, ehr_requester="Dr Carol Chen")
    Pharmacy.objects.create(
        name="Corner Pharmacy", address="1 Main St", phone="555-0100", ncpdp_id="1234567"
    )


def _type(page, text: str) -> None:
    page.get_by_label("Your message").fill(text)
    page.get_by_role("button", name="Send", exact=True).click()


def test_alice_books_and_asks_for_a_refill_by_typing_and_a_red_flag_stops_all(
    open_portal, alice, carol
):
    _alice_at_the_clinic(alice, carol)
    portal = open_portal()
    page = portal.page
    portal.sign_in_fully(alice)
    page.get_by_role("link", name="Assistant").click()
    portal.wait_for("/patient/assistant/")

    _type(page, "can I see dr chen next tuesday afternoon")
    expect(page.get_by_text("These are the free times that match:").last).to_be_visible()
    page.locator("form.choices button.secondary").first.click()
    question = page.locator("form.confirm legend")
    expect(question).to_contain_text("Book Dr Carol Chen, Tue")
    expect(question).to_contain_text(f"(clinic time, {settings.PORTAL_TIME_ZONE}), in person?")
    assert not Appointment.objects.exists()
    page.get_by_role("button", name="Yes").click()
    expect(page.get_by_text("Done: you are booked with Dr Carol Chen")).to_be_visible()
    (booked,) = Appointment.objects.all()
    assert (booked.patient_id, booked.clinician_id) == (alice.patient_id, carol.pk)
    local = booked.starts_at.astimezone(booked.location.zone)
    assert local.weekday() == 1
    assert 12 <= local.hour < 17

    _type(page, "refill my metfromin")
    page.get_by_role("button", name="Corner Pharmacy, 1 Main St").click()
    expect(page.locator("form.confirm legend")).to_have_text(
        f"Ask your care team for a refill of {METFORMIN}, sent to Corner Pharmacy, 1 Main St?"
    )
    page.get_by_role("button", name="Yes").click()
    expect(page.get_by_text(f"Done: your request for {METFORMIN} was sent")).to_be_visible()
    (request,) = RefillRequest.objects.all()
    assert request.patient_id == alice.patient_id
    assert [i.medicine for i in request.items.all()] == [METFORMIN]

    _type(page, "I have chest pain")
    emergency = page.get_by_role("alert")
    expect(emergency).to_contain_text("Call 911 now")
    expect(emergency).to_contain_text("nearest emergency department")
    expect(page.get_by_label("Your message")).to_have_count(0)
    (alert,) = CareAlert.objects.all()
    assert (alert.patient_id, alert.kind, alert.priority, alert.red_flag_kind) == (
        alice.patient_id,
        AlertKind.RED_FLAG,
        "urgent",
        "chest_pain",
    )

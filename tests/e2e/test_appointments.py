"""A patient finds the soonest slot, books it, moves it, and cancels it, in a real browser."""

import datetime as dt

from playwright.sync_api import expect

from appointments.models import Appointment
from tests.appointments import builders


def test_it_takes_a_patient_from_finding_a_slot_to_booking_moving_and_cancelling(
    open_portal, alice, carol
):
    # The server runs on the real clock: hours every day, no notice, no cutoff.
    place = builders.location()
    kind = builders.visit_type(name="Follow-up", min_notice_minutes=0, cancel_cutoff_hours=0)
    builders.weekdays(carol, place, kind, start=dt.time(0), end=dt.time(23, 30), days=range(7))
    portal = open_portal()
    page = portal.page

    portal.sign_in_fully(alice)
    page.get_by_role("link", name="Appointments").first.click()
    portal.wait_for("/patient/appointments/")
    page.get_by_role("link", name="Book an appointment").click()
    page.get_by_label("Type of visit").select_option(label="Follow-up (30 min, in person)")
    page.get_by_role("button", name="Find open times").click()
    first = page.locator("table.slots tbody tr").first
    expect(first).to_contain_text("America/New_York")
    expect(first).to_contain_text("Dr Carol Chen")
    first.get_by_role("link", name="Book this time").click()

    page.get_by_label("Reason for the visit").fill("Knee pain when climbing stairs")
    page.get_by_role("button", name="Book").click()
    expect(page.get_by_role("status")).to_contain_text("Your appointment is booked.")
    expect(page.get_by_role("heading", level=1)).to_have_text("Follow-up")
    expect(page.get_by_text("Knee pain when climbing stairs")).to_be_visible()
    booked = Appointment.objects.get()
    assert booked.status == Appointment.Status.BOOKED

    page.get_by_role("link", name="Move to another time").click()
    page.get_by_role("button", name="Move to this time").first.click()
    expect(page.get_by_role("status")).to_contain_text("Your appointment is moved.")
    booked.refresh_from_db()
    assert booked.status == Appointment.Status.RESCHEDULED
    booked = Appointment.objects.get(status=Appointment.Status.BOOKED)
    assert booked.reason == "Knee pain when climbing stairs"

    page.get_by_label("Why are you cancelling?").fill("Feeling better")
    page.get_by_role("button", name="Cancel the appointment").click()
    expect(page.get_by_role("status")).to_contain_text("Your appointment is cancelled.")
    booked.refresh_from_db()
    assert booked.status == Appointment.Status.CANCELLED

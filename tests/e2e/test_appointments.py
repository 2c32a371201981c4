"""A patient finds the soonest slot, books it, moves it, and cancels it, in a real browser."""

import datetime as dt

from django.utils import timezone
from playwright.sync_api import expect

from appointments.models import Appointment
from appointments.services import SlotChoice, appointment_book
from appointments.slots import open_slots
from appointments.templatetags.appointments import in_zone
from tests.appointments import builders
from tests.e2e.conftest import Portal


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


def test_a_second_patient_in_another_time_zone_takes_the_freed_slot_from_the_waitlist(
    portal_server, page, browser, alice, mallory, carol
):
    place = builders.location()
    kind = builders.visit_type(name="Follow-up", min_notice_minutes=0, cancel_cutoff_hours=0)
    builders.weekdays(carol, place, kind, start=dt.time(0), end=dt.time(23, 30), days=range(7))
    now = timezone.now()
    soonest = open_slots(
        visit_type=kind, earliest=now + dt.timedelta(minutes=5), latest=now + dt.timedelta(days=9)
    )
    first, later = soonest[0], soonest[-1]
    mine, theirs = (
        appointment_book(
            actor=user,
            patient_id=user.patient_id,
            choice=SlotChoice(carol.pk, place.pk, kind.pk, slot.starts_at),
            reason="",
        )
        for user, slot in ((alice, first), (mallory, later))
    )
    url = portal_server()
    alice_tab = Portal(page=page, url=url)
    # Mallory's browser is in Tokyo: the pages still say New York time, and name it.
    tokyo = browser.new_context(ignore_https_errors=True, locale="en-US", timezone_id="Asia/Tokyo")
    try:
        mallory_tab = Portal(page=tokyo.new_page(), url=url)
        mallory_tab.sign_in_fully(mallory)
        mallory_tab.goto(f"/patient/appointments/{theirs.pk}/")
        mallory_tab.page.get_by_role("button", name="Offer me an earlier time").click()
        expect(mallory_tab.page.get_by_role("status")).to_contain_text("offer you an earlier time")

        alice_tab.sign_in_fully(alice)
        alice_tab.goto(f"/patient/appointments/{mine.pk}/")
        alice_tab.page.get_by_label("Why are you cancelling?").fill("Cannot make it")
        alice_tab.page.get_by_role("button", name="Cancel the appointment").click()
        expect(alice_tab.page.get_by_role("status")).to_contain_text("cancelled")

        mallory_tab.goto("/patient/appointments/")
        wall_time = in_zone(first.starts_at, first.location.zone)
        offered = mallory_tab.page.get_by_role("link", name=wall_time)
        expect(offered).to_contain_text("America/New_York")
        offered.click()
        mallory_tab.page.get_by_role("button", name="Take this time").click()
        expect(mallory_tab.page.get_by_role("status")).to_contain_text("moved to the earlier time")
        expect(mallory_tab.page.get_by_text(wall_time)).to_be_visible()
    finally:
        tokyo.close()
    moved = Appointment.objects.get(patient=mallory.patient, status=Appointment.Status.BOOKED)
    assert moved.starts_at == first.starts_at

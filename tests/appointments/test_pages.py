"""The patient's appointment pages and the staff schedule, through the real middleware."""

import datetime as dt
import uuid

import pytest
import time_machine

from appointments.models import Appointment, VisitType
from appointments.services import SlotChoice, appointment_book
from patients.models import PatientDemographics
from tests.appointments import builders
from tests.conftest import sign_in_fully

UTC = dt.UTC
TUESDAY_9 = dt.datetime(2026, 1, 6, 14, 0, tzinfo=UTC)


def slot_fields(clinic, carol, starts_at=TUESDAY_9) -> dict:
    place, kind = clinic
    return {
        "clinician": str(carol.pk),
        "location": str(place.pk),
        "visit_type": str(kind.pk),
        "starts_at": starts_at.isoformat(),
    }


def booked_for(user, clinic, carol, starts_at=TUESDAY_9, reason="Knee pain"):
    place, kind = clinic
    return appointment_book(
        actor=user,
        patient_id=user.patient_id,
        choice=SlotChoice(carol.pk, place.pk, kind.pk, starts_at),
        reason=reason,
    )


@pytest.fixture
def alice_in(client, alice, monday):
    sign_in_fully(client, alice)
    return client


def test_it_lists_open_slots_soonest_first_in_the_locations_named_zone(alice_in, clinic):
    _place, kind = clinic
    page = alice_in.get("/patient/appointments/find/", {"visit_type": str(kind.pk)})
    assert page.status_code == 200
    slots = page.context["found"].slots
    assert slots[0].starts_at == dt.datetime(2026, 1, 5, 14, 0, tzinfo=UTC)  # today 09:00 EST
    assert [s.starts_at for s in slots] == sorted(s.starts_at for s in slots)
    html = page.content.decode()
    assert "Mon 5 Jan 2026, 09:00 EST" in html
    assert "America/New_York" in html


def test_it_books_from_the_confirm_page_and_shows_the_appointment(alice_in, clinic, carol):
    response = alice_in.post(
        "/patient/appointments/book/", slot_fields(clinic, carol) | {"reason": "Knee pain"}
    )
    appointment = Appointment.objects.get()
    assert response.url == f"/patient/appointments/{appointment.pk}/"
    page = alice_in.get(response.url)
    html = page.content.decode()
    assert "Tue 6 Jan 2026, 09:00 EST" in html
    assert "Knee pain" in html
    listing = alice_in.get("/patient/appointments/")
    assert [a.id for a in listing.context["page"].upcoming] == [appointment.pk]


@pytest.mark.parametrize(
    ("starts_at", "message"),
    [
        (dt.datetime(2026, 1, 5, 12, 0, tzinfo=UTC), "notice"),  # 07:00 EST today, 1 h away
        (dt.datetime(2026, 4, 10, 13, 0, tzinfo=UTC), "90 days ahead"),
    ],
)
def test_it_refuses_times_outside_notice_or_horizon_and_keeps_the_input(
    alice_in, clinic, carol, starts_at, message
):
    response = alice_in.post(
        "/patient/appointments/book/",
        slot_fields(clinic, carol, starts_at) | {"reason": "Knee pain"},
    )
    assert response.status_code == 200
    assert message in response.context["refused"].message
    assert message in response.content.decode()
    assert response.context["form"]["reason"].value() == "Knee pain"
    assert not Appointment.objects.exists()


def test_it_refuses_a_tampered_slot_and_writes_nothing(alice_in, clinic, carol):
    fields = slot_fields(clinic, carol) | {"starts_at": "not a time", "reason": "x"}
    response = alice_in.post("/patient/appointments/book/", fields)
    assert response.status_code == 200
    assert not Appointment.objects.exists()


def test_it_answers_404_for_another_patients_appointment(
    client, clinic, carol, alice, mallory, monday
):
    theirs = booked_for(alice, clinic, carol, starts_at=dt.datetime(2026, 1, 8, 14, 0, tzinfo=UTC))
    sign_in_fully(client, mallory)
    base = f"/patient/appointments/{theirs.pk}/"
    assert client.get(base).status_code == 404
    assert client.get(base + "appointment.ics").status_code == 404
    assert client.get(base + "reschedule/").status_code == 404
    assert client.post(base + "cancel/", {"reason": "mine now"}).status_code == 404
    assert client.get(f"/patient/appointments/{uuid.uuid4()}/").status_code == 404
    assert Appointment.objects.get(pk=theirs.pk).status == Appointment.Status.BOOKED


def test_it_cancels_with_a_reason(alice_in, clinic, carol, alice):
    mine = booked_for(alice, clinic, carol, starts_at=dt.datetime(2026, 1, 8, 14, 0, tzinfo=UTC))
    response = alice_in.post(
        f"/patient/appointments/{mine.pk}/cancel/", {"reason": "Feeling better"}, follow=True
    )
    assert "Your appointment is cancelled." in response.content.decode()
    assert Appointment.objects.get(pk=mine.pk).status == Appointment.Status.CANCELLED


def test_it_says_to_call_the_clinic_after_the_cutoff(client, clinic, carol, alice, monday):
    mine = booked_for(alice, clinic, carol)  # tomorrow 09:00: cutoff is 24 h, it is 27 h
    with time_machine.travel(TUESDAY_9 - dt.timedelta(hours=5), tick=False):
        sign_in_fully(client, alice)
        page = client.get(f"/patient/appointments/{mine.pk}/")
        assert "please call the clinic" in page.content.decode()
        assert "Cancel the appointment" not in page.content.decode()
        response = client.post(
            f"/patient/appointments/{mine.pk}/cancel/", {"reason": "x"}, follow=True
        )
    assert "Please call the clinic." in response.content.decode()
    assert Appointment.objects.get(pk=mine.pk).status == Appointment.Status.BOOKED


def test_it_reschedules_from_the_page(alice_in, clinic, carol, alice):
    mine = booked_for(alice, clinic, carol, starts_at=dt.datetime(2026, 1, 8, 14, 0, tzinfo=UTC))
    page = alice_in.get(f"/patient/appointments/{mine.pk}/reschedule/")
    target = page.context["found"].slots[0]
    response = alice_in.post(f"/patient/appointments/{mine.pk}/reschedule/", target.fields)
    new = Appointment.objects.get(status=Appointment.Status.BOOKED)
    assert response.url == f"/patient/appointments/{new.pk}/"
    assert new.starts_at == target.starts_at


def test_its_calendar_file_carries_time_and_place_but_no_reason(alice_in, clinic, carol, alice):
    mine = booked_for(alice, clinic, carol, reason="Embarrassing rash")
    response = alice_in.get(f"/patient/appointments/{mine.pk}/appointment.ics")
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    text = response.content.decode()
    assert "DTSTART:20260106T140000Z\r\n" in text
    assert "SUMMARY:Appointment\r\n" in text
    assert "LOCATION:Main Street Clinic\\, 1 Main Street\r\n" in text
    assert "rash" not in text.lower()
    assert "Follow-up" not in text
    assert "Carol" not in text


def test_it_shows_the_video_link_only_in_the_15_minutes_before(client, carol, alice, monday):
    place = builders.location()
    kind = builders.visit_type(name="Video check-in", mode=VisitType.Mode.VIDEO)
    builders.weekdays(carol, place, kind)
    mine = booked_for(alice, (place, kind), carol)
    url = f"/patient/appointments/{mine.pk}/"
    with time_machine.travel(TUESDAY_9 - dt.timedelta(minutes=16), tick=False):
        sign_in_fully(client, alice)
        page = client.get(url)
        assert page.context["appointment"].join_url is None
        assert "appears here 15 minutes before" in page.content.decode()
    with time_machine.travel(TUESDAY_9 - dt.timedelta(minutes=14), tick=False):
        page = client.get(url)
        assert page.context["appointment"].join_url.startswith("https://video.clinic.invalid/room/")
        assert str(mine.pk) not in page.context["appointment"].join_url


def test_the_front_desk_sees_names_but_no_reasons_and_marks_arrival(
    client, clinic, carol, alice, fran, monday
):
    mine = booked_for(alice, clinic, carol, reason="Embarrassing rash")
    PatientDemographics.objects.create(
        patient=alice.patient, given_name="Alice", family_name="Liddell", mrn="MRN-1"
    )
    sign_in_fully(client, fran)
    page = client.get("/staff/schedule/", {"day": "2026-01-06", "clinician": str(carol.pk)})
    html = page.content.decode()
    assert "Alice Liddell" in html
    assert "rash" not in html
    found = client.post("/staff/schedule/find-patient/", {"mrn": "MRN-1"})
    assert found.url == f"/staff/schedule/patients/{alice.patient_id}/"
    in_url = client.get("/staff/schedule/find-patient/", {"mrn": "MRN-1"})
    assert in_url.status_code == 200  # an MRN in a URL searches nothing: no redirect
    assert "rash" not in client.get(found.url).content.decode()
    client.post(
        f"/staff/schedule/patients/{alice.patient_id}/{mine.pk}/mark/", {"status": "arrived"}
    )
    assert Appointment.objects.get(pk=mine.pk).status == Appointment.Status.ARRIVED


def test_the_front_desk_books_for_a_patient(client, clinic, carol, alice, fran, monday):
    sign_in_fully(client, fran)
    response = client.post(
        f"/staff/schedule/patients/{alice.patient_id}/book/",
        slot_fields(clinic, carol) | {"reason": ""},
    )
    assert response.url == f"/staff/schedule/patients/{alice.patient_id}/"
    assert Appointment.objects.get().booked_by_id == fran.pk


def test_a_clinician_sees_their_own_schedule_with_reasons(client, clinic, carol, alice, monday):
    booked_for(alice, clinic, carol, reason="Knee pain")
    sign_in_fully(client, carol)
    page = client.get("/staff/schedule/", {"day": "2026-01-06"})
    assert "Knee pain" in page.content.decode()


def test_the_patient_home_links_to_appointments(alice_in):
    assert "/patient/appointments/" in alice_in.get("/patient/").content.decode()


def test_the_front_desk_sees_a_week_per_clinician_and_location(
    client, clinic, carol, alice, mallory, fran, monday
):
    place, _ = clinic
    booked_for(alice, clinic, carol)
    booked_for(mallory, clinic, carol, starts_at=dt.datetime(2026, 1, 9, 15, 0, tzinfo=UTC))
    sign_in_fully(client, fran)
    query = {"clinician": str(carol.pk), "location": str(place.pk), "day": "2026-01-05"}
    day = client.get("/staff/schedule/", query)
    assert day.context["page"].appointments == []
    week = client.get("/staff/schedule/", query | {"span": "week"})
    assert len(week.context["page"].appointments) == 2
    assert "Times are in America/New_York" in week.content.decode()

"""A proxy (a parent, a caregiver) books, moves and cancels visits for the person they act
for, under the patients' rules; without a grant, or once it has ended, nothing."""

import datetime as dt

import pytest

from appointments.models import Appointment
from patients.models import ProxyGrant
from portal.access import clinic_today
from tests.appointments.test_pages import slot_fields
from tests.conftest import sign_in_fully


def grant(greta, alice, *, ends_in_days=365, scope=ProxyGrant.Scope.FULL):
    today = clinic_today()
    return ProxyGrant.objects.create(
        patient=alice.patient,
        proxy=greta,
        kind=ProxyGrant.Kind.CAREGIVER,
        relationship=ProxyGrant.Relationship.ADULT_CHILD,
        scope=scope,
        starts_on=today - dt.timedelta(days=1),
        ends_on=today + dt.timedelta(days=ends_in_days),
        accepted_at=dt.datetime.now(dt.UTC),
    )


@pytest.fixture
def greta_in(client, greta, monday):
    sign_in_fully(client, greta)
    return client


@pytest.mark.parametrize("scope", [ProxyGrant.Scope.FULL, ProxyGrant.Scope.LIMITED])
def test_a_proxy_books_for_the_person_they_act_for(greta_in, greta, alice, clinic, carol, scope):
    grant(greta, alice, scope=scope)
    assert "Appointments" in greta_in.get("/patient/").content.decode()
    response = greta_in.post(
        "/patient/appointments/book/", slot_fields(clinic, carol) | {"reason": "Check-up"}
    )
    booked = Appointment.objects.get()
    assert (booked.patient_id, response.url) == (
        alice.patient_id,
        f"/patient/appointments/{booked.pk}/",
    )
    cancel = greta_in.post(f"/patient/appointments/{booked.pk}/cancel/", {"reason": "Better"})
    assert cancel.status_code == 302
    assert Appointment.objects.get().status == Appointment.Status.CANCELLED


def test_a_proxy_without_a_grant_has_no_appointments_at_all(greta_in, alice, clinic, carol):
    assert greta_in.get("/patient/appointments/").status_code == 404
    response = greta_in.post(
        "/patient/appointments/book/", slot_fields(clinic, carol) | {"reason": "Check-up"}
    )
    assert response.status_code == 404
    assert not Appointment.objects.exists()


def test_a_proxy_cannot_touch_the_patients_visit_once_the_grant_has_ended(
    greta_in, greta, alice, clinic, carol
):
    given = grant(greta, alice)
    greta_in.post("/patient/appointments/book/", slot_fields(clinic, carol) | {"reason": "X"})
    booked = Appointment.objects.get()
    ProxyGrant.objects.filter(pk=given.pk).update(ends_on=clinic_today() - dt.timedelta(days=1))
    assert greta_in.get(f"/patient/appointments/{booked.pk}/").status_code == 404
    cancel = greta_in.post(f"/patient/appointments/{booked.pk}/cancel/", {"reason": "x"})
    assert cancel.status_code == 404
    assert Appointment.objects.get().status == Appointment.Status.BOOKED

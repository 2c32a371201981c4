"""Response-time escalation in working hours, and out-of-office delegation."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail

from audit.actions import Action
from messaging import escalation, selectors, services
from messaging.models import Pool
from tests.audit_helpers import events, last_event
from tests.conftest import sign_in_fully
from tests.messaging.conftest import CONTEXT, start

BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture(autouse=True)
def _clinic_hours(settings):
    settings.MESSAGING_CLINIC_TIME_ZONE = "Europe/Berlin"
    settings.MESSAGING_WORKING_HOURS = "08:00-17:00"
    settings.MESSAGING_WORKING_DAYS = "1,2,3,4,5"
    settings.MESSAGING_HOLIDAYS = "2026-12-25"
    settings.MESSAGING_RESPONSE_HOURS = 8
    settings.MESSAGING_POOL_LEADS = "clinical=lead@clinic.example"


def at(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=BERLIN)


@pytest.mark.parametrize(
    ("start", "end", "hours"),
    [
        (at(2026, 12, 21, 9), at(2026, 12, 21, 12), 3),  # Monday morning
        (at(2026, 12, 21, 16), at(2026, 12, 22, 9), 2),  # over a night
        (at(2026, 12, 18, 16), at(2026, 12, 21, 9), 2),  # Friday to Monday
        (at(2026, 12, 24, 16), at(2026, 12, 28, 9), 2),  # over Christmas Day
        (at(2026, 12, 19, 10), at(2026, 12, 20, 18), 0),  # a weekend
        (at(2026, 12, 21, 12), at(2026, 12, 21, 9), 0),
    ],
)
def test_it_counts_only_the_clinics_working_hours(start, end, hours):
    assert escalation.working_hours_between(start, end) == hours


def test_it_flags_a_thread_waiting_past_the_response_time_once_and_tells_the_lead(
    ward, alice, carol
):
    with time_machine.travel(at(2026, 12, 21, 9), tick=False):
        thread = start(alice, subject="Rash question")
    with time_machine.travel(at(2026, 12, 21, 16, 59), tick=False):
        assert escalation.threads_escalate() == {}
    with time_machine.travel(at(2026, 12, 22, 9, 1), tick=False):
        assert escalation.threads_escalate() == {Pool.CLINICAL: 1}
        assert escalation.threads_escalate() == {}
    thread.refresh_from_db()
    assert thread.escalated_at is not None
    event = last_event(Action.MESSAGE_ESCALATE)
    assert (event.patient_id, event.object_id, event.actor_id) == (
        alice.patient_id,
        str(thread.pk),
        None,
    )
    (notice,) = mail.outbox
    assert notice.to == ["lead@clinic.example"]
    assert "Care team" in notice.body
    for secret in ("Rash", "CANARY", "alice", str(alice.patient_id), str(thread.pk)):
        assert secret not in notice.subject + notice.body
    assert selectors.pool_page(actor=carol, context=CONTEXT).threads[0].overdue is True

    services.message_reply(actor=carol, thread_id=thread.pk, body="Sorry for the wait")
    thread.refresh_from_db()
    assert (thread.escalated_at, thread.awaiting_staff_since) == (None, None)


def test_it_gives_an_away_clinicians_threads_to_the_delegate(ward, alice, carol, nina):
    thread = start(alice)
    services.thread_claim(actor=carol, thread_id=thread.pk)
    now = dt.datetime.now(dt.UTC)
    services.absence_set(
        actor=carol,
        starts_at=now - dt.timedelta(minutes=1),
        ends_at=now + dt.timedelta(days=3),
        delegate_id=nina.pk,
    )
    thread.refresh_from_db()
    assert thread.assigned_to == nina
    assert last_event(Action.MESSAGE_ASSIGN).object_type == "absence:user"


def test_it_sends_threads_back_to_the_pool_when_the_delegate_cannot_hold_them(
    ward, alice, carol, dave
):
    thread = start(alice)
    services.thread_claim(actor=carol, thread_id=thread.pk)
    now = dt.datetime.now(dt.UTC)
    # dave is a physician, but not on alice's care team: he may not hold her thread.
    services.absence_set(
        actor=carol, starts_at=now, ends_at=now + dt.timedelta(days=1), delegate_id=dave.pk
    )
    thread.refresh_from_db()
    assert thread.assigned_to is None


def test_it_moves_threads_when_a_future_absence_begins(ward, alice, carol, nina):
    thread = start(alice)
    services.thread_claim(actor=carol, thread_id=thread.pk)
    now = dt.datetime.now(dt.UTC)
    services.absence_set(
        actor=carol,
        starts_at=now + dt.timedelta(hours=1),
        ends_at=now + dt.timedelta(days=1),
        delegate_id=nina.pk,
    )
    thread.refresh_from_db()
    assert thread.assigned_to == carol
    with time_machine.travel(now + dt.timedelta(hours=2)):
        assert escalation.absences_apply() == 1
    thread.refresh_from_db()
    assert thread.assigned_to == nina


def test_it_refuses_a_delegate_from_another_pool_and_assignment_to_someone_away(
    ward, alice, carol, nina, bill
):
    now = dt.datetime.now(dt.UTC)
    with pytest.raises(Exception, match="own pool"):
        services.absence_set(
            actor=carol, starts_at=now, ends_at=now + dt.timedelta(days=1), delegate_id=bill.pk
        )
    services.absence_set(actor=nina, starts_at=now, ends_at=now + dt.timedelta(days=1))
    thread = start(alice)
    with pytest.raises(Exception, match="away"):
        services.thread_reassign(actor=carol, thread_id=thread.pk, to_user_id=nina.pk)


def test_it_sets_and_ends_an_absence_from_the_page(client, ward, carol, nina):
    sign_in_fully(client, carol)
    assert client.get("/staff/messages/away/").status_code == 200
    response = client.post(
        "/staff/messages/away/",
        {"starts_at": "2026-12-21T08:00", "ends_at": "2026-12-20T08:00", "delegate": str(nina.pk)},
    )
    assert response.status_code == 200
    assert response.context["form"].errors["ends_at"]
    response = client.post(
        "/staff/messages/away/",
        {"starts_at": "2030-12-21T08:00", "ends_at": "2030-12-24T08:00", "delegate": str(nina.pk)},
    )
    assert response.status_code == 302
    assert client.get("/staff/messages/away/").context["page"].current.delegate == nina
    client.post("/staff/messages/away/", {"end": "1"})
    assert client.get("/staff/messages/away/").context["page"].current is None
    assert [e.object_type for e in events(Action.MESSAGE_ABSENCE)] == ["delegate", "ended"]


def test_it_keeps_the_away_page_from_patients(client, alice):
    sign_in_fully(client, alice)
    assert client.get("/staff/messages/away/").status_code == 403


def test_the_escalation_job_is_periodic_on_the_mail_queue():
    from messaging import tasks

    assert tasks.escalate_and_delegate.queue == "mail"

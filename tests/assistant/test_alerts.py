"""Care-team alerts: raising one (encrypted, audited, a notice with no PHI after commit),
the staff queue (scoped to the clinician's patients, break-glass honoured, urgent first)
and acknowledging (once, audited; 404 for anyone else's)."""

import datetime as dt

import pytest
import time_machine
from django.core import mail
from django.db import connection, transaction
from django.utils import timezone
from procrastinate.contrib.django.models import ProcrastinateJob

from assistant import alerts, tasks
from assistant.models import AlertKind, AlertPriority, CareAlert
from audit.actions import Action, Severity
from patients.models import BreakGlassGrant
from tests.assistant.conftest import CONTEXT
from tests.audit_helpers import events, last_event
from tests.conftest import sign_in_fully

QUEUE = "/staff/assistant/alerts/"
PHRASE = "crushing chest pain CANARY"


def urgent(patient_id, **extra) -> CareAlert:
    return alerts.alert_raise(
        patient_id=patient_id,
        kind=AlertKind.RED_FLAG,
        priority=AlertPriority.URGENT,
        red_flag_kind="chest_pain",
        detail=PHRASE,
        context=CONTEXT,
        **extra,
    )


def routine(patient_id) -> CareAlert:
    return alerts.alert_raise(
        patient_id=patient_id, kind=AlertKind.CHECKIN_UNANSWERED, priority=AlertPriority.ROUTINE
    )


def test_it_stores_the_alert_with_the_detail_encrypted(ward, alice):
    alert = urgent(alice.patient_id, actor=alice)
    with connection.cursor() as cursor:
        cursor.execute("SELECT detail::text FROM assistant_carealert WHERE id = %s", [alert.pk])
        (stored,) = cursor.fetchone()
    assert "CANARY" not in stored
    fresh = CareAlert.objects.get(pk=alert.pk)
    assert fresh.detail == PHRASE
    assert (fresh.kind, fresh.priority, fresh.red_flag_kind) == ("red_flag", "urgent", "chest_pain")
    assert fresh.acknowledged_at is None


def test_it_audits_an_urgent_alert_as_high_severity_with_ids_only(ward, alice):
    alert = urgent(alice.patient_id, actor=alice)
    event = last_event(Action.ASSISTANT_ALERT_RAISED)
    assert event.severity == Severity.HIGH
    assert (event.patient_id, event.object_id) == (alice.patient_id, str(alert.pk))
    assert (event.actor_id, event.request_id) == (alice.pk, CONTEXT.request_id)
    assert "CANARY" not in f"{event.reason}{event.object_type}{event.object_id}"
    routine(alice.patient_id)
    assert last_event(Action.ASSISTANT_ALERT_RAISED).severity == Severity.INFO


def test_it_refuses_an_unknown_kind_or_priority(ward, alice):
    with pytest.raises(ValueError, match="unknown"):
        alerts.alert_raise(patient_id=alice.patient_id, kind="gossip", priority="urgent")
    with pytest.raises(ValueError, match="unknown"):
        alerts.alert_raise(patient_id=alice.patient_id, kind="red_flag", priority="whenever")
    assert not CareAlert.objects.exists()


def test_it_queues_the_notice_on_the_mail_queue_with_the_alert_id_only(ward, alice):
    alert = urgent(alice.patient_id)
    (job,) = ProcrastinateJob.objects.all()
    assert (job.queue_name, job.task_name, job.args) == (
        "mail",
        "assistant.send_alert_notice",
        {"alert_id": str(alert.pk)},
    )


def test_a_rolled_back_caller_leaves_no_alert_and_no_notice(ward, alice):
    class Boom(Exception):
        pass

    def raise_then_fail() -> None:
        with transaction.atomic():
            urgent(alice.patient_id)
            raise Boom

    with pytest.raises(Boom):
        raise_then_fail()
    assert not CareAlert.objects.exists()
    assert not ProcrastinateJob.objects.exists()
    assert not events(Action.ASSISTANT_ALERT_RAISED)


def test_the_notice_goes_to_the_care_team_and_the_pool_lead_without_phi(
    ward, alice, carol, nina, dave, settings
):
    settings.MESSAGING_POOL_LEADS = "clinical=lead@clinic.example,billing=money@clinic.example"
    alert = urgent(alice.patient_id)
    tasks.send(str(alert.pk))
    assert sorted(m.to[0] for m in mail.outbox) == sorted(
        [carol.email, nina.email, "lead@clinic.example"]
    )
    for message in mail.outbox:
        assert message.subject == "Carebridge: an urgent alert is waiting"
        assert "An urgent alert is waiting in the portal" in message.body
        assert "/staff/assistant/alerts/" in message.body
        text = message.subject + message.body
        for secret in ("CANARY", "chest", "Alice", "Anders", str(alice.patient_id), "Ward"):
            assert secret not in text
    assert dave.email not in [m.to[0] for m in mail.outbox]


def test_a_routine_notice_says_so(ward, alice):
    tasks.send(str(routine(alice.patient_id).pk))
    assert {m.subject for m in mail.outbox} == {"Carebridge: an alert is waiting"}


def test_the_queue_shows_urgent_first_then_oldest_first(client, ward, alice, carol):
    start = timezone.now()
    with time_machine.travel(start - dt.timedelta(hours=3)):
        old_routine = routine(alice.patient_id)
    with time_machine.travel(start - dt.timedelta(hours=2)):
        old_urgent = urgent(alice.patient_id)
    with time_machine.travel(start - dt.timedelta(hours=1)):
        new_urgent = urgent(alice.patient_id)
    sign_in_fully(client, carol)
    response = client.get(QUEUE)
    assert response.status_code == 200
    rows = [row.alert.pk for row in response.context["queue"].rows]
    assert rows == [old_urgent.pk, new_urgent.pk, old_routine.pk]
    html = response.content.decode()
    assert "Alice Anders" in html
    assert PHRASE in html
    assert "chest pain" in html
    assert last_event(Action.ASSISTANT_ALERT_QUEUE).object_id == "3"


def test_the_queue_leaves_out_patients_the_clinician_does_not_treat(
    client, make_client, ward, alice, mallory, dave, carol
):
    urgent(mallory.patient_id)
    sign_in_fully(client, carol)
    assert client.get(QUEUE).context["queue"].rows == []
    urgent(alice.patient_id)
    other = sign_in_fully(make_client(), dave)
    response = other.get(QUEUE)
    assert response.context["queue"].rows == []
    assert "CANARY" not in response.content.decode()


def test_the_queue_honours_a_break_glass_grant(client, ward, alice, dave):
    alert = urgent(alice.patient_id)
    BreakGlassGrant.objects.create(
        clinician=dave,
        patient=alice.patient,
        reason="Covering the ward",
        expires_at=timezone.now() + dt.timedelta(hours=1),
    )
    sign_in_fully(client, dave)
    assert [r.alert.pk for r in client.get(QUEUE).context["queue"].rows] == [alert.pk]
    response = client.post(f"{QUEUE}{alert.pk}/acknowledge/")
    assert response.status_code == 302
    assert last_event(Action.ASSISTANT_ALERT_ACK).severity == Severity.HIGH


@pytest.mark.parametrize("who", ["alice", "bill", "fran", "ada", "otto"])
def test_the_queue_is_for_physicians_and_nurses_only(client, ward, request, who):
    alert = urgent(request.getfixturevalue("alice").patient_id)
    sign_in_fully(client, request.getfixturevalue(who))
    assert client.get(QUEUE).status_code == 403
    assert client.post(f"{QUEUE}{alert.pk}/acknowledge/").status_code == 403
    assert CareAlert.objects.get(pk=alert.pk).acknowledged_at is None


def test_a_nurse_acknowledges_with_one_post_and_it_leaves_the_queue(client, ward, alice, nina):
    alert = urgent(alice.patient_id)
    sign_in_fully(client, nina)
    response = client.post(f"{QUEUE}{alert.pk}/acknowledge/")
    assert response.status_code == 302
    assert response["Location"] == QUEUE
    fresh = CareAlert.objects.get(pk=alert.pk)
    assert (fresh.acknowledged_by_id, fresh.acknowledged_at is not None) == (nina.pk, True)
    event = last_event(Action.ASSISTANT_ALERT_ACK)
    assert (event.actor_id, event.object_id, event.severity) == (nina.pk, str(alert.pk), "info")
    assert client.get(QUEUE).context["queue"].rows == []
    again = client.post(f"{QUEUE}{alert.pk}/acknowledge/")  # double submit
    assert again.status_code == 302
    assert len(events(Action.ASSISTANT_ALERT_ACK)) == 1
    assert CareAlert.objects.get(pk=alert.pk).acknowledged_at == fresh.acknowledged_at


def test_acknowledging_another_teams_alert_is_a_404_and_changes_nothing(
    client, ward, alice, mallory, dave, carol
):
    alert = urgent(alice.patient_id)
    sign_in_fully(client, dave)
    assert client.post(f"{QUEUE}{alert.pk}/acknowledge/").status_code == 404
    missing = "00000000-0000-4000-8000-000000000000"
    assert client.post(f"{QUEUE}{missing}/acknowledge/").status_code == 404
    assert CareAlert.objects.get(pk=alert.pk).acknowledged_at is None
    assert not events(Action.ASSISTANT_ALERT_ACK)


def test_acknowledging_takes_a_post(client, ward, alice, carol):
    alert = urgent(alice.patient_id)
    sign_in_fully(client, carol)
    assert client.get(f"{QUEUE}{alert.pk}/acknowledge/").status_code == 405
    assert CareAlert.objects.get(pk=alert.pk).acknowledged_at is None


def test_the_staff_home_links_the_queue_for_clinicians(client, ward, carol):
    sign_in_fully(client, carol)
    assert QUEUE in client.get("/staff/").content.decode()

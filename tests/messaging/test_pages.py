"""The messaging pages, from the patient's and the staff's side, and who may not see what."""

import datetime as dt
import uuid

import pytest
import time_machine
from django.core import mail

from audit.actions import Action
from messaging.models import Message, Note, Pool, Status, Thread, Topic
from tests.audit_helpers import events, last_event
from tests.conftest import sign_in_fully
from tests.messaging.conftest import CANARY, start

INBOX = "/patient/messages/"


def thread_url(thread, staff=False) -> str:
    return f"/{'staff' if staff else 'patient'}/messages/{thread.pk}/"


def test_it_shows_the_emergency_banner_on_compose(client, ward, alice):
    sign_in_fully(client, alice)
    page = client.get(INBOX + "new/")
    assert page.status_code == 200
    assert b"not for emergencies" in page.content.lower()


def test_it_sends_a_message_to_the_pool_the_topic_chooses(client, ward, alice):
    sign_in_fully(client, alice)
    response = client.post(
        INBOX + "new/", {"topic": Topic.BILLING, "subject": "Invoice", "body": "Two charges?"}
    )
    (thread,) = Thread.objects.all()
    assert response.url == thread_url(thread)
    assert (thread.pool, thread.topic, thread.subject) == (Pool.BILLING, Topic.BILLING, "Invoice")
    assert last_event(Action.MESSAGE_SEND).patient_id == alice.patient_id


def test_it_keeps_the_input_and_says_what_is_wrong(client, ward, alice):
    sign_in_fully(client, alice)
    response = client.post(INBOX + "new/", {"topic": "", "subject": "x" * 101, "body": "Kept"})
    assert response.status_code == 200
    form = response.context["form"]
    assert set(form.errors) == {"topic", "subject"}
    assert form["body"].value() == "Kept"
    assert b"Kept" in response.content
    assert not Thread.objects.exists()


def test_it_refuses_a_body_over_ten_thousand_characters(client, ward, alice):
    sign_in_fully(client, alice)
    response = client.post(
        INBOX + "new/", {"topic": Topic.MEDICAL, "subject": "Long", "body": "x" * 10_001}
    )
    assert response.context["form"].errors["body"]


def test_it_lists_threads_newest_first_with_unread_counts(client, ward, alice, carol):
    from messaging import services

    first = start(alice, subject="First")
    with time_machine.travel(dt.timedelta(minutes=-5)):
        second = start(alice, subject="Second")
    services.message_reply(actor=carol, thread_id=first.pk, body="Answer one")
    services.message_reply(actor=carol, thread_id=first.pk, body="Answer two")
    sign_in_fully(client, alice)
    page = client.get(INBOX).context["page"]
    assert [t.id for t in page.threads] == [first.pk, second.pk]  # newest message first
    assert [t.unread for t in page.threads] == [2, 0]
    assert page.unread_total == 2
    home = client.get("/patient/")
    assert home.context["unread_messages"] == 2
    assert b"2 unread" in home.content
    client.get(thread_url(first))
    assert client.get("/patient/").context["unread_messages"] == 0


def test_each_view_of_a_thread_moves_the_readers_one_receipt(client, ward, alice, carol):
    from messaging import services
    from messaging.models import ReadReceipt

    thread = start(alice, subject="First")
    sign_in_fully(client, alice)
    client.get(thread_url(thread))
    services.message_reply(actor=carol, thread_id=thread.pk, body="A later answer")
    assert client.get("/patient/").context["unread_messages"] == 1

    client.get(thread_url(thread))

    assert client.get("/patient/").context["unread_messages"] == 0
    assert ReadReceipt.objects.filter(thread=thread, user=alice).count() == 1


def test_it_searches_only_the_patients_own_messages(client, ward, alice, mallory):
    start(alice, subject="Elbow", body="It itches at night")
    start(alice, subject="Knee", body="Hurts when running")
    start(mallory, topic=Topic.OTHER, subject="Itches too", body="itches")
    sign_in_fully(client, alice)
    page = client.get(INBOX, {"q": "ITCHES"}).context["page"]
    assert [t.subject for t in page.threads] == ["Elbow"]


def test_it_lists_sent_messages(client, ward, alice):
    start(alice, subject="Elbow")
    sign_in_fully(client, alice)
    (item,) = client.get(INBOX + "sent/").context["page"].sent
    assert item.subject == "Elbow"


def test_it_answers_404_for_another_patients_thread_on_every_route(client, ward, alice, mallory):
    theirs = start(mallory, topic=Topic.OTHER, subject="Mine")
    sign_in_fully(client, alice)
    assert client.get(thread_url(theirs)).status_code == 404
    assert client.post(thread_url(theirs) + "reply/", {"body": "hi"}).status_code == 404
    assert client.get(thread_url(Thread(pk=uuid.uuid4()))).status_code == 404
    assert Message.objects.filter(thread=theirs).count() == 1


def test_it_takes_a_reply_while_open_and_offers_a_new_message_once_closed(
    client, ward, alice, carol
):
    thread = start(alice)
    sign_in_fully(client, alice)
    assert client.post(thread_url(thread) + "reply/", {"body": "More"}).status_code == 302
    from messaging import services

    services.thread_close(actor=carol, thread_id=thread.pk)
    page = client.get(thread_url(thread))
    assert page.context["page"].can_reply is False
    assert b"Start a new message" in page.content
    refused = client.post(thread_url(thread) + "reply/", {"body": "Still there?"})
    assert refused.status_code == 400
    assert b"closed" in refused.content
    assert thread.messages.count() == 2


def test_it_offers_a_new_message_after_45_idle_days(client, ward, alice, settings):
    thread = start(alice)
    sign_in_fully(client, alice)
    with time_machine.travel(dt.timedelta(days=46)):
        sign_in_fully(client, alice)
        assert client.get(thread_url(thread)).context["page"].can_reply is False
        assert client.post(thread_url(thread) + "reply/", {"body": "x"}).status_code == 400


def test_it_lets_the_care_team_claim_reply_note_and_close(make_client, ward, alice, carol, nina):
    thread = start(alice)
    staff = make_client()
    sign_in_fully(staff, carol)
    pool = staff.get("/staff/messages/").context["page"]
    assert [t.id for t in pool.threads] == [thread.pk]
    assert staff.post(thread_url(thread, True) + "claim/").status_code == 302
    staff.post(thread_url(thread, True) + "note/", {"body": "INTERNAL-NOTE-42 check labs"})
    staff.post(thread_url(thread, True) + "reply/", {"body": "Please come in on Monday."})
    staff.post(thread_url(thread, True) + "reassign/", {"to": f"user:{nina.pk}"})
    thread.refresh_from_db()
    assert thread.assigned_to == nina
    staff.post(thread_url(thread, True) + "close/")
    thread.refresh_from_db()
    assert thread.status == Status.CLOSED
    assert [e.action for e in events()[-4:]] == [
        Action.MESSAGE_NOTE,
        Action.MESSAGE_SEND,
        Action.MESSAGE_ASSIGN,
        Action.MESSAGE_CLOSE,
    ]

    patient = make_client()
    sign_in_fully(patient, alice)
    page = patient.get(thread_url(thread))
    assert b"Please come in on Monday." in page.content
    assert b"INTERNAL-NOTE-42" not in page.content
    assert page.context["page"].notes == []


def test_it_never_lets_a_clinical_topic_leave_the_care_team(client, ward, alice, carol, fran):
    thread = start(alice)
    sign_in_fully(client, carol)
    response = client.post(
        thread_url(thread, True) + "reassign/", {"to": f"pool:{Pool.FRONT_DESK}"}
    )
    assert response.status_code == 400
    response = client.post(thread_url(thread, True) + "reassign/", {"to": f"user:{fran.pk}"})
    assert response.status_code == 400
    thread.refresh_from_db()
    assert (thread.pool, thread.assigned_to) == (Pool.CLINICAL, None)


def test_it_lets_the_front_desk_pass_other_questions_to_the_care_team(client, ward, alice, fran):
    thread = start(alice, topic=Topic.OTHER, subject="A question")
    sign_in_fully(client, fran)
    assert client.get(thread_url(thread, True)).status_code == 200
    client.post(thread_url(thread, True) + "reassign/", {"to": f"pool:{Pool.CLINICAL}"})
    assert client.get(thread_url(thread, True)).status_code == 404


@pytest.mark.parametrize("cast", ["fran", "bill", "dave"])
def test_it_refuses_a_clinical_thread_on_every_staff_route(client, ward, alice, cast, request):
    thread = start(alice)
    sign_in_fully(client, request.getfixturevalue(cast))
    base = thread_url(thread, True)
    assert client.get(base).status_code == 404
    for action in ("reply/", "note/", "claim/", "close/", "reassign/"):
        assert client.post(base + action, {"body": "x", "to": "pool:billing"}).status_code == 404
    thread.refresh_from_db()
    assert (thread.status, thread.assigned_to, thread.pool) == (Status.OPEN, None, Pool.CLINICAL)
    assert not Note.objects.exists()
    assert thread.messages.count() == 1


def test_it_mails_the_patient_a_notice_without_phi(
    client, ward, alice, carol, django_capture_on_commit_callbacks
):
    from messaging import services
    from messaging.tasks import _send as send_message_notice

    thread = start(alice, subject="Rash question")
    services.message_reply(actor=carol, thread_id=thread.pk, body=CANARY)
    send_message_notice(str(alice.patient_id))
    (message,) = mail.outbox
    assert message.to == [alice.email]
    assert message.subject == "You have a new message in Carebridge"
    assert "/patient/messages/" in message.body
    for secret in (CANARY, "Rash", "rash", "Carol", "Chen", "alice", str(alice.patient_id), "Ward"):
        assert secret not in message.subject + message.body


def test_it_queues_the_notice_on_the_mail_queue_only_for_staff_replies(ward, alice, carol):
    from procrastinate.contrib.django.models import ProcrastinateJob

    from messaging import services

    thread = start(alice)
    assert not ProcrastinateJob.objects.exists()
    services.message_reply(actor=carol, thread_id=thread.pk, body="Answer")
    (job,) = ProcrastinateJob.objects.all()
    assert (job.queue_name, job.task_name, job.args) == (
        "mail",
        "messaging.send_message_notice",
        {"patient_id": str(alice.patient_id)},
    )


def test_it_sends_no_notice_to_a_patient_who_opted_out(client, ward, alice, carol):
    from messaging.tasks import _send as send_message_notice

    sign_in_fully(client, alice)
    assert client.post(INBOX + "notifications/", {}).status_code == 302
    mail.outbox.clear()
    send_message_notice(str(alice.patient_id))
    assert mail.outbox == []
    client.post(INBOX + "notifications/", {"email": "on"})
    send_message_notice(str(alice.patient_id))
    assert len(mail.outbox) == 1


def test_it_never_stores_the_canary_in_clear(ward, alice, carol):
    from django.db import connection

    thread = start(alice)
    from messaging import services

    services.note_add(actor=carol, thread_id=thread.pk, body=CANARY)
    with connection.cursor() as cursor:
        for table in ("messaging_thread", "messaging_message", "messaging_note", "audit_event"):
            cursor.execute(f"SELECT * FROM {table}")  # noqa: S608 (fixed names)
            dump = repr(cursor.fetchall())
            assert "CANARY" not in dump, table
            assert "rash" not in dump, table


def test_it_puts_threads_and_messages_in_the_record_download_as_fhir_communications(
    client, ward, alice, carol
):
    import json

    from fhir.resources.R4B.communication import Communication

    from messaging import services

    thread = start(alice, subject="Rash question")
    services.note_add(actor=carol, thread_id=thread.pk, body="INTERNAL-NOTE-42")
    reply = services.message_reply(actor=carol, thread_id=thread.pk, body="Come in on Monday")
    sign_in_fully(client, alice)
    response = client.get("/patient/records/download/health-record.json")
    bundle = json.loads(
        b"".join(response.streaming_content) if response.streaming else response.content
    )
    resources = [
        e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Communication"
    ]
    assert [r["id"] for r in resources[:1]] == [str(thread.pk)]
    for resource in resources:
        Communication.model_validate(resource)
    by_id = {r["id"]: r for r in resources}
    answer = by_id[str(reply.pk)]
    assert answer["partOf"] == [{"reference": f"Communication/{thread.pk}"}]
    assert answer["payload"] == [{"contentString": "Come in on Monday"}]
    assert answer["inResponseTo"][0]["reference"].startswith("Communication/")
    assert resources[0]["topic"] == {"text": "Rash question"}
    assert "INTERNAL-NOTE-42" not in json.dumps(bundle)


def test_it_keeps_the_canary_out_of_every_log_line(client, ward, alice, carol, caplog, settings):
    import logging

    from messaging import escalation, services
    from messaging.tasks import _send as send_message_notice

    settings.MESSAGING_RESPONSE_HOURS = 0
    caplog.set_level(logging.DEBUG)
    sign_in_fully(client, alice)
    client.post(INBOX + "new/", {"topic": Topic.MEDICAL, "subject": CANARY, "body": CANARY})
    thread = Thread.objects.get()
    client.get(thread_url(thread))
    client.get(INBOX, {"q": "CANARY"})
    services.message_reply(actor=carol, thread_id=thread.pk, body=CANARY)
    services.note_add(actor=carol, thread_id=thread.pk, body=CANARY)
    send_message_notice(str(alice.patient_id))
    client.post(thread_url(thread) + "reply/", {"body": CANARY})
    escalation.threads_escalate()
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert caplog.records
    assert "CANARY" not in logged
    assert all("CANARY" not in m.subject + m.body for m in mail.outbox)


def test_it_refuses_a_medical_question_nobody_could_read(client, mallory):
    sign_in_fully(client, mallory)  # mallory has no care team
    response = client.post(
        INBOX + "new/", {"topic": Topic.MEDICAL, "subject": "Help", "body": "Kept text"}
    )
    assert response.status_code == 200
    assert "care team" in str(response.context["form"].errors["topic"])
    assert response.context["form"]["body"].value() == "Kept text"
    assert not Thread.objects.exists()
    other = client.post(INBOX + "new/", {"topic": Topic.OTHER, "subject": "Help", "body": "Hi"})
    assert other.status_code == 302

"""The chat page, with the real language part: form posts, the transcript, red flags first,
proxies, tampered forms, start over, and no network."""

import datetime as dt
import socket

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from appointments import services as appointment_services
from appointments.models import Appointment
from appointments.slots import open_slots
from assistant import replies, states
from assistant.models import AlertKind, CareAlert, Conversation, Turn
from audit.actions import Action
from audit.models import AuditEvent
from messaging.models import Thread
from patients.models import ProxyGrant
from refills.models import RefillRequest
from tests.assistant.conftest import conversation_with, next_weekday
from tests.audit_helpers import events, last_event
from tests.conftest import sign_in_fully
from tests.refills.test_proxies import grant

pytestmark = pytest.mark.usefixtures("clinic_zone")

CHAT = "/patient/assistant/"
ANSWER = CHAT + "answer/"


def send(client, text):
    response = client.post(CHAT, {"text": text})
    assert response.status_code == 302, response.content[:500]
    return client.get(CHAT)


def current_state(actor):
    return Conversation.objects.get(started_by=actor, ended_at=None).state


def last_said() -> str:
    return Turn.objects.order_by("created_at").last().text


def press(client, actor, choice, **extra):
    pending = current_state(actor)["pending_id"]
    response = client.post(ANSWER, {"pending": pending, "choice": choice, **extra})
    assert response.status_code == 302
    return client.get(CHAT)


def test_the_page_greets_and_records_a_view(client, ward, alice):
    sign_in_fully(client, alice)
    response = client.get(CHAT)
    assert response.status_code == 200
    assert replies.WELCOME in response.content.decode()
    assert last_event(Action.ASSISTANT_VIEW).patient_id == alice.patient_id


def test_the_home_page_links_the_assistant(client, ward, alice):
    sign_in_fully(client, alice)
    assert CHAT in client.get("/patient/").content.decode()


@pytest.mark.parametrize("who", ["carol", "bill", "fran", "ada", "otto"])
def test_staff_cannot_open_the_assistant(client, ward, request, who):
    sign_in_fully(client, request.getfixturevalue(who))
    assert client.get(CHAT).status_code == 403
    assert client.post(CHAT, {"text": "cancel my appointment"}).status_code == 403
    assert not Turn.objects.exists()


def test_alice_books_dr_chen_by_typing_and_confirming(client, clinic, ward, alice, carol):
    sign_in_fully(client, alice)
    page = send(client, "can I see dr chen next tuesday afternoon").content.decode()
    assert "can I see dr chen next tuesday afternoon" in page
    state = current_state(alice)
    if state["step"] == "choose":
        page = press(client, alice, "0").content.decode()
    assert "Book Dr Carol Chen," in page
    assert "(clinic time, America/New_York)" in page
    assert not Appointment.objects.exists()
    page = press(client, alice, "yes").content.decode()
    (booked,) = Appointment.objects.all()
    assert (booked.patient_id, booked.clinician_id) == (alice.patient_id, carol.pk)
    assert "Done: you are booked with Dr Carol Chen" in page


def test_every_turn_is_encrypted_and_audited_by_id_only(client, clinic, ward, alice):
    sign_in_fully(client, alice)
    send(client, "cancel my appointment CANARY")
    turns = list(Turn.objects.order_by("position"))
    assert [t.speaker for t in turns] == ["patient", "assistant"]
    assert turns[0].intent == "cancel_appointment"
    with connection.cursor() as cursor:
        cursor.execute("SELECT text::text FROM assistant_turn")
        stored = " ".join(row[0] for row in cursor.fetchall())
        cursor.execute("SELECT state::text FROM assistant_conversation")
        stored += " ".join(row[0] for row in cursor.fetchall())
    assert "CANARY" not in stored
    assert "appointment" not in stored
    turn_events = events(Action.ASSISTANT_TURN)
    assert {e.object_id for e in turn_events} == {str(t.pk) for t in turns}
    for event in AuditEvent.objects.all():
        assert "CANARY" not in f"{event.object_type}{event.object_id}{event.reason}"


def test_a_red_flag_stops_everything_shows_911_and_alerts_the_care_team(
    client, clinic, ward, alice
):
    sign_in_fully(client, alice)
    page = send(client, "I have chest pain, also book me with dr chen tomorrow").content.decode()
    assert "Call 911 now" in page
    assert "emergency department" in page
    assert "988" not in page
    assert 'name="text"' not in page  # the conversation is stopped
    (alert,) = CareAlert.objects.all()
    assert (alert.kind, alert.priority, alert.red_flag_kind) == (
        AlertKind.RED_FLAG,
        "urgent",
        "chest_pain",
    )
    assert alert.detail == "chest pain"
    patient_turn = Turn.objects.get(speaker="patient")
    assert (patient_turn.intent, alert.source_id) == ("emergency", patient_turn.pk)
    assert current_state(alice)["step"] == states.EMERGENCY
    # Nothing else was done with that message: no slot search, no booking.
    assert not events(Action.APPOINTMENT_SEARCH)
    assert not Appointment.objects.exists()
    raised = last_event(Action.ASSISTANT_ALERT_RAISED)
    assert (raised.severity, raised.actor_id) == ("high", alice.pk)
    # A message posted anyway is not processed.
    client.post(CHAT, {"text": "book me with dr chen tomorrow"})
    assert last_said() == replies.EMERGENCY_STOPPED
    assert not events(Action.APPOINTMENT_SEARCH)


def test_thoughts_of_self_harm_also_give_the_988_lifeline(client, ward, alice):
    sign_in_fully(client, alice)
    page = send(client, "i want to kill myself").content.decode()
    assert "988" in page
    assert "Suicide &amp; Crisis Lifeline" in page
    assert CareAlert.objects.get().red_flag_kind == "self_harm"


def test_a_negated_symptom_is_not_a_red_flag(client, ward, alice):
    sign_in_fully(client, alice)
    send(client, "no chest pain, I just want to see my bill")
    assert not CareAlert.objects.exists()
    assert current_state(alice)["step"] != states.EMERGENCY


def test_start_over_ends_the_conversation_and_opens_a_new_one(client, ward, alice):
    sign_in_fully(client, alice)
    send(client, "I have chest pain")
    response = client.post(CHAT + "start-over/")
    assert response.status_code == 302
    page = client.get(CHAT).content.decode()
    assert replies.WELCOME in page
    assert 'name="text"' in page
    assert Conversation.objects.filter(ended_at__isnull=False).count() == 1
    assert last_event(Action.ASSISTANT_RESTART).actor_id == alice.pk


def test_an_empty_or_too_long_message_re_renders_with_the_text_kept(client, ward, alice):
    sign_in_fully(client, alice)
    response = client.post(CHAT, {"text": "   "})
    assert response.status_code == 400
    assert "Write what you would like to do." in response.content.decode()
    long = "refill " * 400
    response = client.post(CHAT, {"text": long})
    assert response.status_code == 400
    html = response.content.decode()
    assert "Please keep it under 2000 characters." in html
    assert long.strip()[:100] in html
    assert not Turn.objects.exists()


def test_a_forged_answer_is_refused_and_does_nothing(client, clinic, ward, alice):
    sign_in_fully(client, alice)
    send(client, f"book with dr chen on {next_weekday(1):%B} {next_weekday(1).day} at 10am")
    state = current_state(alice)
    assert client.post(ANSWER, {"pending": state["pending_id"], "choice": "drop"}).status_code == (
        400
    )
    client.post(ANSWER, {"pending": "00000000-0000-4000-8000-000000000000", "choice": "yes"})
    assert last_said() == replies.STALE
    assert not Appointment.objects.exists()


# --- Another patient's things, whatever the form says ---------------------------------------


@pytest.fixture
def mallorys_visit(clinic, mallory):
    place, kind = clinic
    slot = open_slots(
        visit_type=kind,
        earliest=timezone.now() + dt.timedelta(days=3),
        latest=timezone.now() + dt.timedelta(days=20),
        limit=1,
    )[0]
    return appointment_services.appointment_book(
        actor=mallory,
        patient_id=mallory.patient_id,
        choice=appointment_services.SlotChoice(
            slot.clinician_id, place.pk, kind.pk, slot.starts_at
        ),
        reason="",
    )


def test_it_cannot_cancel_another_patients_appointment_even_from_a_doctored_state(
    client, ward, alice, mallorys_visit
):
    """The state is encrypted and server-side, so a form cannot name another appointment;
    were it ever to, the appointment service refuses with the 404 of "not yours"."""
    sign_in_fully(client, alice)
    pending = "11111111-1111-4111-8111-111111111111"
    doctored = {
        "step": "confirm",
        "kind": "cancel",
        "question": "Cancel?",
        "pending_id": pending,
        "data": {
            "appointment": {
                "id": str(mallorys_visit.pk),
                "clinician": "Dr Carol Chen",
                "starts_at": mallorys_visit.starts_at.isoformat(),
            }
        },
    }
    conversation_with(alice, doctored)
    client.post(ANSWER, {"pending": pending, "choice": "yes"})
    mallorys_visit.refresh_from_db()
    assert mallorys_visit.status == Appointment.Status.BOOKED
    said = last_said()
    assert said.startswith("That could not be done")
    assert not events(Action.APPOINTMENT_CANCEL)


def test_it_cannot_ask_for_another_patients_medicine_whatever_the_text_or_state(
    client, alice_medicines, mallory_medicines, alice, pharmacy
):
    sign_in_fully(client, alice)
    send(client, "refill my Metformin 500 mg")  # Mallory's medicine, by its very name
    state = current_state(alice)
    assert state.get("kind") in ("pharmacy", "medicine", None)
    if state.get("kind") == "pharmacy":
        assert state["data"]["id"] == "med-metformin"  # Alice's own, not Mallory's
    pending = "22222222-2222-4222-8222-222222222222"
    doctored = {
        "step": "confirm",
        "kind": "refill",
        "question": "Refill?",
        "pending_id": pending,
        "data": {
            "medicine": {"id": "med-mallory-1", "medicine": "Metformin 500 mg", "kind": "refill"},
            "pharmacy": {"id": str(pharmacy.pk), "label": "Corner"},
        },
    }
    Conversation.objects.update(ended_at=timezone.now())
    conversation_with(alice, doctored)
    client.post(ANSWER, {"pending": pending, "choice": "yes"})
    assert not RefillRequest.objects.exists()
    assert last_said().startswith("That could not be done")
    assert last_event(Action.REFILL_REFUSED).patient_id == alice.patient_id


# --- Proxies: no more through the assistant than through the pages -----------------------------


def test_a_proxy_books_for_the_patient_like_on_the_appointment_pages_but_writes_no_message(
    client, clinic, ward, alice, greta
):
    grant(greta, alice, scope=ProxyGrant.Scope.LIMITED)
    sign_in_fully(client, greta)
    send(client, f"book with dr chen on {next_weekday(1):%B} {next_weekday(1).day} at 10am")
    if current_state(greta)["step"] == "choose":
        press(client, greta, "0")
    page = press(client, greta, "yes").content.decode()
    (booked,) = Appointment.objects.all()
    assert (booked.patient_id, booked.booked_by_id) == (alice.patient_id, greta.pk)
    assert "Done: you are booked with Dr Carol Chen" in page
    send(client, "can I take ibuprofen with warfarin? please ask my doctor")
    assert last_said() == replies.MESSAGES_BY_PATIENT
    assert not Thread.objects.exists()


def test_someone_whose_grant_ended_cannot_use_the_assistant_for_that_patient(
    client, clinic, ward, alice, greta
):
    ended = grant(greta, alice)
    sign_in_fully(client, greta)
    ended.revoked_at = timezone.now()
    ended.save()
    assert client.get(CHAT).status_code == 404
    assert client.post(CHAT, {"text": "cancel my appointment"}).status_code == 404
    assert not Turn.objects.exists()


def test_a_limited_proxy_may_not_ask_for_refills_or_see_bills(
    client, alice_medicines, alice, greta
):
    grant(greta, alice, scope=ProxyGrant.Scope.LIMITED)
    sign_in_fully(client, greta)
    page = send(client, "refill my metformin").content.decode()
    assert replies.REFILLS_BY_FULL_PROXY in page
    send(client, "what is my balance")
    assert last_said() == replies.NO_BILLS
    assert not RefillRequest.objects.exists()


def test_a_full_proxy_asks_for_a_refill_like_on_the_refill_page(
    client, alice_medicines, alice, greta, pharmacy
):
    grant(greta, alice)
    sign_in_fully(client, greta)
    send(client, "refill my warfarin please")
    press(client, greta, "0")  # the pharmacy
    page = press(client, greta, "yes").content.decode()
    (request,) = RefillRequest.objects.all()
    assert (request.patient_id, request.requested_by_id) == (alice.patient_id, greta.pk)
    assert "was sent to your care team" in page


# --- No network ---------------------------------------------------------------------------------


def test_a_whole_conversation_opens_no_socket_but_the_databases(
    client, clinic, alice_medicines, alice, monkeypatch
):
    """A guard, not a mock: every connect and name lookup goes through as usual and is
    written down; only the database's own address may appear."""
    sign_in_fully(client, alice)
    database = settings.DATABASES["default"]
    allowed_hosts = {database["HOST"] or "localhost", "127.0.0.1", "::1", "localhost", ""}
    seen: list[object] = []
    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex
    real_getaddrinfo = socket.getaddrinfo

    def connect(self, address):
        seen.append(address)
        return real_connect(self, address)

    def connect_ex(self, address):
        seen.append(address)
        return real_connect_ex(self, address)

    def getaddrinfo(host, port, *args, **kwargs):
        seen.append((host, port))
        return real_getaddrinfo(host, port, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    # The guard sees what Python code opens: one connection to the database's port, seen.
    socket.create_connection((database["HOST"], int(database["PORT"])), timeout=5).close()
    assert (database["HOST"], int(database["PORT"])) in seen
    seen.clear()
    for text in (
        "can I see dr chen next tuesday afternoon",
        "refill my metfromin",
        "what do I owe",
        "list my appointments",
        "I have chest pain",
    ):
        send(client, text)
        state = current_state(alice)
        if state.get("step") == "choose":
            press(client, alice, "0")
        if current_state(alice).get("step") == "confirm":
            press(client, alice, "yes")
    assert CareAlert.objects.count() == 1
    assert RefillRequest.objects.count() == 1
    assert Appointment.objects.count() == 1
    for address in seen:
        if isinstance(address, tuple):
            host, port = address[0], address[1]
            assert host in allowed_hosts, address
            assert str(port) == str(database["PORT"]), address
        else:
            # A local socket file (the database's).
            assert str(address).startswith("/"), address

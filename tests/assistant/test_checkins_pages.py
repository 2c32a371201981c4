"""Answering a check-in: the questionnaire as FHIR, the page (no JavaScript), red flags alert at
once and show the emergency instructions, and nobody but the patient reaches it."""

import datetime as dt
import json
import re

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from assistant import checkins, questionnaire
from assistant.models import AlertKind, AlertPriority, CareAlert, CheckIn, CheckInStatus
from audit.actions import Action, Severity
from portal.fhir import validate
from tests.assistant.checkin_helpers import AFTER, answers, discharged
from tests.audit_helpers import events, last_event
from tests.conftest import sign_in_fully
from tests.records import resources as r

pytestmark = pytest.mark.django_db

DAY_2 = dt.datetime(2026, 11, 22, 9, 0, tzinfo=dt.UTC)  # PORTAL_TIME_ZONE is UTC in tests


@pytest.fixture
def checkin(alice, ward, time_machine):
    alice.patient.fhir_id = r.PATIENT_FHIR_ID
    alice.patient.save()
    made = discharged(alice.patient)
    time_machine.move_to(DAY_2, tick=False)
    return made[0]


@pytest.fixture
def signed_in(client, alice, checkin):
    return sign_in_fully(client, alice)


def url(checkin) -> str:
    return f"/patient/assistant/checkins/{checkin.pk}/"


# --- The questionnaire ---------------------------------------------------------------


def test_the_questionnaire_is_a_valid_fhir_questionnaire_with_the_red_flag_questions():
    resource = questionnaire.questionnaire()
    model = validate(resource)

    assert type(model).__name__ == "Questionnaire"
    assert [i["linkId"] for i in questionnaire.red_flag_items()] == [
        "chest_pain",
        "breathing",
        "fever",
        "bleeding",
        "confusion",
    ]
    assert "101.3" in questionnaire.red_flag_label("fever")


def test_answers_become_a_valid_questionnaire_response_and_read_back():
    response = questionnaire.response_from(
        answers(breathing="yes", followup_booked="no", anything_else="Ankles swollen"),
        authored=AFTER,
        subject_fhir_id="pat-1",
    )

    assert type(validate(response)).__name__ == "QuestionnaireResponse"
    assert response["questionnaire"] == questionnaire.canonical()
    assert response["status"] == "completed"
    read = questionnaire.answers_of(response)
    assert read["feeling"] == "better"
    assert read["breathing"] is True
    assert read["chest_pain"] is False
    assert read["followup_booked"] is False
    assert read["anything_else"] == "Ankles swollen"
    assert questionnaire.red_flags_of(response) == ["breathing"]


# --- Answering -------------------------------------------------------------------------


def test_it_shows_the_questions_and_records_the_view(signed_in, checkin, alice):
    response = signed_in.get(url(checkin))

    assert response.status_code == 200
    page = response.content.decode()
    assert "Chest pain or pressure" in page
    assert 'type="radio"' in page
    event = last_event(Action.CHECKIN_VIEWED)
    assert (event.actor_id, event.patient_id, event.object_id) == (
        alice.pk,
        alice.patient_id,
        str(checkin.pk),
    )


def test_a_red_flag_answer_shows_the_emergency_instructions_and_alerts_urgently(
    signed_in, checkin, alice
):
    response = signed_in.post(url(checkin), answers(chest_pain="yes", confusion="yes"))

    assert response.status_code == 200
    page = response.content.decode()
    assert 'role="alert"' in page
    assert "Call 911" in page
    assert "nearest emergency department" in page
    assert page.index("Call 911") < page.index("Your answers were sent")
    (alert,) = CareAlert.objects.all()
    assert (alert.patient_id, alert.kind, alert.priority) == (
        alice.patient_id,
        AlertKind.CHECKIN_RED_FLAG,
        AlertPriority.URGENT,
    )
    assert (alert.red_flag_kind, alert.source_id) == ("chest_pain", checkin.pk)
    assert "Chest pain" in alert.detail
    assert "confusion" in alert.detail
    raised = last_event(Action.ASSISTANT_ALERT_RAISED)
    assert (raised.severity, raised.actor_id) == (Severity.HIGH, alice.pk)


def test_answers_without_a_red_flag_thank_the_patient_and_alert_no_one(signed_in, checkin):
    response = signed_in.post(url(checkin), answers())

    page = response.content.decode()
    assert response.status_code == 200
    assert "Thank you" in page
    assert "Call 911 or go" not in page.split("<main")[1].split("If you get worse")[0]
    assert "Book your follow-up visit" not in page
    assert not CareAlert.objects.exists()


def test_no_follow_up_visit_offers_the_booking_page(signed_in, checkin):
    response = signed_in.post(url(checkin), answers(followup_booked="no"))

    page = response.content.decode()
    assert "Book your follow-up visit" in page
    assert 'href="/patient/appointments/find/"' in page


def test_the_answer_is_stored_encrypted_as_a_questionnaire_response_and_audited(
    signed_in, checkin, alice
):
    signed_in.post(url(checkin), answers(anything_else="Dizzy CANARY when standing"))

    stored = CheckIn.objects.get(pk=checkin.pk)
    assert stored.status == CheckInStatus.ANSWERED
    assert stored.answered_by_id == alice.pk
    assert type(validate(stored.response)).__name__ == "QuestionnaireResponse"
    assert stored.response["subject"] == {"reference": f"Patient/{r.PATIENT_FHIR_ID}"}
    with connection.cursor() as cursor:
        cursor.execute("SELECT response FROM assistant_checkin WHERE id = %s", [checkin.pk])
        (raw,) = cursor.fetchone()
    assert b"CANARY" not in bytes(raw)
    event = last_event(Action.CHECKIN_ANSWERED)
    assert (event.actor_id, event.object_type, event.object_id) == (
        alice.pk,
        "CheckIn",
        str(checkin.pk),
    )
    assert "CANARY" not in json.dumps([e.__dict__ for e in events()], default=str)


def test_bad_input_re_renders_with_clear_errors_and_keeps_every_answer(signed_in, checkin):
    incomplete = answers(medicines_obtained="no", anything_else="Keep this CANARY text")
    del incomplete["breathing"], incomplete["feeling"]

    response = signed_in.post(url(checkin), incomplete)

    page = response.content.decode()
    assert response.status_code == 400
    assert page.count("Please answer yes or no.") == 1
    assert "Please choose one." in page
    assert "Keep this CANARY text" in page
    assert re.search(r'name="medicines_obtained" value="no"[^>]*checked', page)
    assert not re.search(r'name="medicines_obtained" value="yes"[^>]*checked', page)
    assert CheckIn.objects.get(pk=checkin.pk).status == CheckInStatus.PENDING
    assert not CareAlert.objects.exists()


def test_a_red_flag_is_acted_on_even_with_other_questions_unanswered(signed_in, checkin):
    response = signed_in.post(url(checkin), {"fever": "yes", "followup_booked": "no"})

    page = response.content.decode()
    assert response.status_code == 200
    assert "Call 911" in page
    assert "Please answer" not in page
    assert "Book your follow-up visit" in page
    stored = CheckIn.objects.get(pk=checkin.pk)
    assert stored.status == CheckInStatus.ANSWERED
    assert stored.response["status"] == "stopped"  # answering ended early, on purpose
    assert questionnaire.answers_of(stored.response) == {"fever": True, "followup_booked": False}
    (alert,) = CareAlert.objects.all()
    assert (alert.priority, alert.red_flag_kind) == (AlertPriority.URGENT, "fever")


def test_the_service_refuses_missing_answers_without_a_red_flag(checkin, alice):
    partial = answers()
    del partial["feeling"]

    with pytest.raises(ValidationError):
        checkins.checkin_answer(actor=alice, checkin_id=checkin.pk, answers=partial)

    assert CheckIn.objects.get(pk=checkin.pk).status == CheckInStatus.PENDING


def test_a_second_submit_changes_nothing_and_raises_no_second_alert(signed_in, checkin):
    signed_in.post(url(checkin), answers(bleeding="yes"))
    first = CheckIn.objects.get(pk=checkin.pk).response

    response = signed_in.post(url(checkin), answers())

    assert response.status_code == 200
    assert "Call 911" in response.content.decode()  # still the first answer's outcome
    assert CheckIn.objects.get(pk=checkin.pk).response == first
    assert CareAlert.objects.count() == 1


def test_the_answered_check_in_shows_its_outcome_again(signed_in, checkin):
    signed_in.post(url(checkin), answers(breathing="yes"))

    page = signed_in.get(url(checkin)).content.decode()

    assert "Call 911" in page
    assert "Trouble breathing" in page
    assert '<form method="post" novalidate>' not in page


def test_a_check_in_closed_or_not_yet_due_cannot_be_answered(client, alice, ward, time_machine):
    alice.patient.fhir_id = r.PATIENT_FHIR_ID
    alice.patient.save()
    day_2, day_7, day_14 = discharged(alice.patient)
    time_machine.move_to(DAY_2 + dt.timedelta(days=5), tick=False)  # day 2's window has closed
    sign_in_fully(client, alice)

    closed = client.post(url(day_2), answers())
    early = client.post(url(day_14), answers())
    due = client.post(url(day_7), answers())

    assert closed.status_code == 400
    assert "This check-in closed on" in closed.content.decode()
    assert early.status_code == 400
    assert "This check-in opens on Friday 4 December 2026, 00:00 UTC" in early.content.decode()
    assert due.status_code == 200
    statuses = dict(CheckIn.objects.values_list("day", "status"))
    assert statuses == {2: "pending", 7: "answered", 14: "pending"}


def test_the_home_page_shows_a_due_check_in_with_its_link(signed_in, checkin):
    page = signed_in.get("/patient/").content.decode()

    assert "A check-in is waiting" in page
    assert url(checkin) in page


def test_the_home_page_shows_none_once_answered(signed_in, checkin):
    signed_in.post(url(checkin), answers())

    assert "A check-in is waiting" not in signed_in.get("/patient/").content.decode()


# --- Who may -----------------------------------------------------------------------------


def test_another_patients_check_in_is_404_like_a_missing_one(client, mallory, checkin):
    sign_in_fully(client, mallory)

    assert client.get(url(checkin)).status_code == 404
    assert client.post(url(checkin), answers(chest_pain="yes")).status_code == 404
    assert (
        client.get("/patient/assistant/checkins/00000000-0000-4000-8000-000000000000/").status_code
        == 404
    )
    assert CheckIn.objects.get(pk=checkin.pk).status == CheckInStatus.PENDING
    assert not CareAlert.objects.exists()
    assert "A check-in is waiting" not in client.get("/patient/").content.decode()


# Staff, and a proxy (greta): the check-in asks the patient how they feel.
@pytest.mark.parametrize("who", ["carol", "nina", "bill", "fran", "ada", "otto", "greta"])
def test_staff_and_proxies_cannot_open_or_answer_a_check_in(client, request, checkin, who):
    sign_in_fully(client, request.getfixturevalue(who))

    assert client.get(url(checkin)).status_code == 403
    assert client.post(url(checkin), answers()).status_code == 403
    assert CheckIn.objects.get(pk=checkin.pk).status == CheckInStatus.PENDING


def test_a_withdrawn_check_in_says_so_and_cannot_be_answered(signed_in, checkin):
    CheckIn.objects.filter(pk=checkin.pk).update(status=CheckInStatus.WITHDRAWN)

    shown = signed_in.get(url(checkin)).content.decode()
    posted = signed_in.post(url(checkin), answers(chest_pain="yes"))

    assert "You do not need to answer this check-in" in shown
    assert posted.status_code == 400
    assert CheckIn.objects.get(pk=checkin.pk).status == CheckInStatus.WITHDRAWN
    assert not CareAlert.objects.exists()


def test_a_red_flag_in_the_free_text_alerts_too_with_the_words_for_the_care_team(
    signed_in, checkin
):
    response = signed_in.post(
        url(checkin), answers(anything_else="Since last night I cant breathe lying down")
    )

    page = response.content.decode()
    assert "Call 911" in page
    assert "what you wrote under “anything else”" in page
    assert "breathe lying down" not in page  # their words are not repeated back
    (alert,) = CareAlert.objects.all()
    assert (alert.priority, alert.red_flag_kind) == (AlertPriority.URGENT, "breathing")
    assert "breathe" in alert.detail
    assert "breathe" not in json.dumps([e.__dict__ for e in events()], default=str)


def test_a_free_text_red_flag_is_acted_on_with_other_questions_unanswered(signed_in, checkin):
    response = signed_in.post(url(checkin), {"anything_else": "my chest hurts really badly"})

    assert "Call 911" in response.content.decode()
    assert CheckIn.objects.get(pk=checkin.pk).response["status"] == "stopped"
    assert CareAlert.objects.get().red_flag_kind == "chest_pain"


def test_a_negated_symptom_in_the_free_text_is_not_a_red_flag(signed_in, checkin):
    response = signed_in.post(
        url(checkin), answers(anything_else="No chest pain and no trouble breathing now")
    )

    assert "Thank you" in response.content.decode()
    assert not CareAlert.objects.exists()


def test_times_are_shown_in_the_clinics_zone_and_named(client, alice, ward, settings, time_machine):
    settings.PORTAL_TIME_ZONE = "America/New_York"
    time_machine.move_to(DAY_2, tick=False)
    alice.patient.fhir_id = r.PATIENT_FHIR_ID
    alice.patient.save()
    *_, day_14 = discharged(alice.patient)
    sign_in_fully(client, alice)

    page = client.get(url(day_14)).content.decode()

    assert day_14.due_at == dt.datetime(2026, 12, 4, 5, 0, tzinfo=dt.UTC)  # stored in UTC
    assert "This check-in opens on Friday 4 December 2026, 00:00 EST" in page

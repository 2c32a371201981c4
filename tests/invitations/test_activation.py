"""A patient activates their account: code, last name, birth date, then sign-in details.

Every refusal says the same thing; codes die after five wrong tries; one client
address gets a limited number of tries across all codes; a code works once.
"""

import logging
from datetime import timedelta

import pytest
from django.utils import timezone
from django.utils.html import escape
from procrastinate.contrib.django.models import ProcrastinateJob

from accounts.models import User
from audit.actions import Action, Outcome
from audit.models import AuditEvent
from invitations import services
from invitations.models import Invitation
from portal.access import Role
from tests.audit_helpers import events, last_event
from tests.invitations.conftest import patient_resource

ACTIVATE = "/activate/"
ACCOUNT = "/activate/account/"
PASSWORD = "a long enough passphrase 71"


def identity(code: str, family: str = "Delgado", birth: str = "1954-11-02") -> dict:
    return {"code": code, "family_name": family, "birth_date": birth}


def account(username: str = "rosa", email: str = "rosa@example.org") -> dict:
    return {"username": username, "email": email, "password1": PASSWORD, "password2": PASSWORD}


def refused(response) -> bool:
    return response.status_code == 200 and escape(services.REFUSED) in response.content.decode()


def test_a_patient_activates_and_goes_on_to_set_up_their_second_factor(client, issue, settings):
    settings.FHIR_BASE_URL = "https://ehr.example.org/fhir"  # so the first sync is queued
    issued = issue()

    step_one = client.post(ACTIVATE, identity(issued.shown_code.lower(), family="delgado"))
    assert step_one.status_code == 302
    assert step_one["Location"] == ACCOUNT
    step_two = client.post(ACCOUNT, account())
    assert step_two.status_code == 302
    assert step_two["Location"] == "/accounts/sign-in/enrol/"

    user = User.objects.get(username="rosa")
    assert user.role == Role.PATIENT
    assert user.patient_id == issued.invitation.patient_id
    assert user.check_password(PASSWORD)
    issued.invitation.refresh_from_db()
    assert issued.invitation.status == Invitation.Status.ACTIVATED
    assert issued.invitation.account == user
    linked = last_event(Action.ACCOUNT_LINKED)
    assert linked.actor_id == user.pk
    assert linked.patient_id == user.patient_id
    # The first sync waits in the queue, for the patient's record only.
    job = ProcrastinateJob.objects.get(task_name="records.sync_patient")
    assert job.args == {"patient_id": str(user.patient_id)}
    # Signed in with the password only: the record stays closed until the second factor.
    assert client.get("/patient/records/labs/").status_code == 302
    assert client.get("/accounts/sign-in/enrol/").status_code == 200


@pytest.mark.parametrize(
    "change",
    [
        {"family_name": "Delgada"},
        {"birth_date": "1954-11-03"},
        {"code": "ACDE-FGHJ-KMNP-QRTW"},
        {"code": "not a code"},
    ],
    ids=["last name", "birth date", "unknown code", "malformed code"],
)
def test_any_mismatch_gets_the_same_words_and_keeps_the_form(client, issue, change):
    issued = issue()
    response = client.post(ACTIVATE, {**identity(issued.code), **change})

    assert refused(response)
    assert 'value="1954-11-03"' in response.content.decode() or "birth_date" not in change
    assert not User.objects.filter(role=Role.PATIENT).exists()
    assert last_event(Action.ACTIVATION).outcome == Outcome.FAILURE


def test_expired_used_and_revoked_codes_get_the_same_words(client, make_client, issue):
    expired = issue("inv-exp", mrn="MRN-EXP")
    Invitation.objects.filter(pk=expired.invitation.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    revoked = issue("inv-rev", mrn="MRN-REV")
    issue("inv-rev", mrn="MRN-REV")  # inviting again revokes the first code
    used = issue("inv-used", mrn="MRN-USED")
    first = make_client()
    first.post(ACTIVATE, identity(used.code))
    assert first.post(ACCOUNT, account()).status_code == 302

    for code in (expired.code, revoked.code, used.code):
        assert refused(client.post(ACTIVATE, identity(code))), code
    assert User.objects.filter(role=Role.PATIENT).count() == 1


def test_a_code_dies_after_five_wrong_tries_even_for_the_right_details_after(
    client, issue, settings
):
    settings.PORTAL_ACTIVATION_LIMIT_PER_CLIENT = 100
    issued = issue()
    for _ in range(5):
        assert refused(client.post(ACTIVATE, identity(issued.code, birth="1960-01-01")))

    issued.invitation.refresh_from_db()
    assert issued.invitation.status == Invitation.Status.LOCKED
    assert refused(client.post(ACTIVATE, identity(issued.code)))
    assert last_event(Action.INVITATION_LOCKED).patient_id == issued.invitation.patient_id


def test_one_client_address_runs_out_of_tries_across_codes(make_client, issue, settings):
    settings.PORTAL_ACTIVATION_LIMIT_PER_CLIENT = 3
    issued = issue()
    guesser, other = make_client(), make_client()
    for n in range(3):
        wrong = identity(f"ACDE-FGHJ-KMNP-QRT{'WXY'[n]}")
        assert refused(guesser.post(ACTIVATE, wrong, REMOTE_ADDR="203.0.113.9"))

    # Now even the right details are refused from that address: brute force stops here...
    stopped = guesser.post(ACTIVATE, identity(issued.code), REMOTE_ADDR="203.0.113.9")
    assert "Too many tries from this device" in stopped.content.decode()
    assert last_event(Action.ACTIVATION).outcome == Outcome.DENIED
    # ...and the patient at home is not locked out by someone else's guessing.
    assert (
        other.post(ACTIVATE, identity(issued.code), REMOTE_ADDR="198.51.100.4").status_code == 302
    )


def test_the_limit_lives_in_the_database_not_the_session(make_client, issue, settings):
    """Dropping the cookie (a new client each try) does not reset the count."""
    settings.PORTAL_ACTIVATION_LIMIT_PER_CLIENT = 2
    issued = issue()
    for _ in range(2):
        refused(make_client().post(ACTIVATE, identity("ACDE-FGHJ-KMNP-QRTW")))
    response = make_client().post(ACTIVATE, identity(issued.code))
    assert "Too many tries from this device" in response.content.decode()


def test_the_account_step_needs_a_proven_identity(client, issue):
    issue()
    assert client.get(ACCOUNT)["Location"] == ACTIVATE
    assert client.post(ACCOUNT, account())["Location"] == ACTIVATE
    assert not User.objects.filter(username="rosa").exists()


def test_the_account_form_keeps_the_input_and_says_what_to_fix(client, issue, alice):
    issued = issue()
    client.post(ACTIVATE, identity(issued.code))

    mismatch = client.post(ACCOUNT, {**account(), "password2": "something else entirely"})
    assert "The two passwords differ" in mismatch.content.decode()
    assert 'value="rosa@example.org"' in mismatch.content.decode()
    taken = client.post(ACCOUNT, account(username="ALICE"))
    assert "That username is taken" in taken.content.decode()
    weak = client.post(ACCOUNT, {**account(), "password1": "rosa", "password2": "rosa"})
    assert weak.status_code == 200
    assert not User.objects.filter(username="rosa").exists()
    assert client.post(ACCOUNT, account()).status_code == 302


def test_the_code_appears_in_no_log_and_no_audit_row(client, issue, caplog):
    caplog.set_level(logging.DEBUG)
    issued = issue()
    client.post(ACTIVATE, identity(issued.code, birth="1960-01-01"))
    client.post(ACTIVATE, identity(issued.code))
    client.post(ACCOUNT, account())

    for text in (issued.code, issued.shown_code):
        assert text not in caplog.text
        for event in AuditEvent.objects.all():
            assert text not in f"{event.object_id} {event.object_type} {event.reason}"
    # The table keeps the keyed hash only.
    row = Invitation.objects.values().get(pk=issued.invitation.pk)
    assert all(issued.code not in str(value) for value in row.values())


def test_a_signed_in_user_is_told_the_page_adds_access_to_their_account(client, alice):
    from tests.conftest import sign_in_fully

    sign_in_fully(client, alice)
    page = client.get(ACTIVATE)
    assert page.status_code == 200
    assert "You are signed in as <strong>alice</strong>" in page.content.decode()


def test_two_patients_with_the_same_mrn_in_different_systems_are_both_invited(issue):
    issue("inv-a", mrn="100234", system="https://north.example.org/mrn")
    issue("inv-b", mrn="100234", system="https://south.example.org/mrn", family="Other")
    assert Invitation.objects.filter(status=Invitation.Status.PENDING).count() == 2


def test_the_same_mrn_in_the_same_system_is_never_a_second_patient(issue):
    issue("inv-a", mrn="100234")
    with pytest.raises(services.InvitationError, match="already has this medical record"):
        issue("inv-b", mrn="100234", family="Other")


def test_a_patient_with_an_account_is_not_invited_again(client, issue):
    issued = issue()
    client.post(ACTIVATE, identity(issued.code))
    client.post(ACCOUNT, account())
    with pytest.raises(services.InvitationError, match="already has a portal account"):
        issue()
    assert events(Action.INVITATION_CREATED)
    assert len(events(Action.INVITATION_CREATED)) == 1


def test_invitation_email_has_the_code_and_nothing_clinical(
    issue, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        issued = issue(resource=patient_resource(email="rosa@example.org"))
    assert issued.invitation.emailed
    (mail,) = mailoutbox
    assert mail.to == ["rosa@example.org"]
    assert issued.shown_code in mail.body
    for phi in ("Rosa", "Delgado", "1954", "MRN-1"):
        assert phi not in mail.body
        assert phi not in mail.subject


def test_no_email_goes_out_when_the_ehr_has_no_address(
    issue, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        issued = issue()
    assert not issued.invitation.emailed
    assert mailoutbox == []

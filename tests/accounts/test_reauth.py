"""Sudo mode: a signed-in session alone cannot change how the account is signed in to.

Each sensitive change (authenticator, backup codes, password, other sessions, e-mail
address) is refused without a recent password-and-code confirmation, refused again
once PORTAL_REAUTH_SECONDS have passed, and accepted, audited and told to the
owner by e-mail within them.
"""

import datetime as dt

import time_machine
from axes.models import AccessAttempt
from django.core import mail
from django.utils.http import urlencode
from django_otp.plugins.otp_email.models import EmailDevice
from procrastinate.contrib.django import app
from procrastinate.contrib.django.models import ProcrastinateJob

from accounts.models import AuthenticatorDevice, BackupCode, BackupCodeDevice, User, UserSession
from accounts.services import _new_backup_codes
from accounts.session_store import REAUTH_AT
from audit.actions import Action, Outcome
from tests.audit_helpers import events, last_event
from tests.conftest import PASSWORD, device_of, sign_in_fully, totp_from_secret, totp_now

CONFIRM = "/accounts/security/confirm/"
SECURITY = "/accounts/security/"
ENROL = "/accounts/sign-in/enrol/"
BACKUP_CODES = "/accounts/security/backup-codes/"
PASSWORD_CHANGE = "/accounts/security/password/"
END_OTHERS = "/accounts/security/sessions/end-others/"
EMAIL_CHANGE = "/accounts/security/email/"
NEW_PASSWORD = "a new and long passphrase"
START = dt.datetime(2026, 5, 4, 8, 0, tzinfo=dt.UTC)
REFUSED = "That password or code didn't work. Check both and try again."


def at(seconds: float):
    return time_machine.travel(START + dt.timedelta(seconds=seconds), tick=False)


def reauthenticate(client, user, password: str = PASSWORD):
    """Confirm the password and a fresh authenticator code on the confirm page.

    As in sign_in_fully, forgetting the last used step stands in for waiting
    for the phone's next code.
    """
    AuthenticatorDevice.objects.filter(user=user, confirmed=True).update(last_t=-1)
    response = client.post(
        CONFIRM, {"password": password, "method": "totp", "token": totp_now(device_of(user))}
    )
    assert response.status_code == 302, response
    return client


def confirm_page(response, next_url: str = SECURITY) -> bool:
    """Whether the response sends the user to confirm, then back to next_url."""
    return (
        response.status_code == 302 and response.url == f"{CONFIRM}?{urlencode({'next': next_url})}"
    )


def account_mail(kind: str | None = None) -> list[dict]:
    """The account e-mails queued for the worker, as their job arguments."""
    jobs = ProcrastinateJob.objects.filter(task_name="accounts.send_account_email").order_by("id")
    return [job.args for job in jobs if kind is None or job.args["kind"] == kind]


def run_mail_worker() -> None:
    with app.replace_connector(app.connector.get_worker_connector()):
        app.run_worker(queues=["mail"], wait=False, install_signal_handlers=False)


def change_password(client):
    return client.post(
        PASSWORD_CHANGE,
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )


def two_sessions(make_client, user):
    phone, laptop = make_client(), make_client()
    sign_in_fully(phone, user)
    sign_in_fully(laptop, user)
    return phone, laptop


def codes_of(user) -> set[bytes]:
    """The user's unused backup codes, as the keyed digests that are all we store."""
    return {
        bytes(d)
        for d in BackupCode.objects.filter(device__user=user).values_list("digest", flat=True)
    }


def digests(user, codes) -> set[bytes]:
    device = BackupCodeDevice.objects.get(user=user)
    return {device.code_digest(c) for c in codes}


# --- The confirm page ------------------------------------------------------------


def test_it_confirms_with_password_and_code_and_returns_to_next(client, alice):
    sign_in_fully(client, alice)
    AuthenticatorDevice.objects.filter(user=alice).update(last_t=-1)
    response = client.post(
        f"{CONFIRM}?next={PASSWORD_CHANGE}",
        {"password": PASSWORD, "method": "totp", "token": totp_now(device_of(alice))},
    )
    assert response.url == PASSWORD_CHANGE
    assert client.session[REAUTH_AT]
    event = last_event(Action.REAUTH)
    assert (event.actor_id, event.outcome, event.object_type) == (alice.pk, Outcome.SUCCESS, "totp")


def test_it_only_returns_to_pages_on_this_site(client, alice):
    sign_in_fully(client, alice)
    AuthenticatorDevice.objects.filter(user=alice).update(last_t=-1)
    response = client.post(
        f"{CONFIRM}?next=https://evil.example/",
        {"password": PASSWORD, "method": "totp", "token": totp_now(device_of(alice))},
    )
    assert response.url == SECURITY


def test_it_refuses_a_wrong_password_counts_it_for_the_lockout_and_records_it(client, alice):
    sign_in_fully(client, alice)
    AuthenticatorDevice.objects.filter(user=alice).update(last_t=-1)
    response = client.post(
        CONFIRM,
        {"password": "not my password!", "method": "totp", "token": totp_now(device_of(alice))},
    )
    assert response.status_code == 200
    assert response.context["form"].non_field_errors() == [REFUSED]
    assert REAUTH_AT not in client.session
    assert AccessAttempt.objects.get(username="alice").failures_since_start == 1
    event = last_event(Action.REAUTH)
    assert (event.actor_id, event.outcome, event.object_type) == (
        alice.pk,
        Outcome.FAILURE,
        "password",
    )
    assert change_password(client).url.startswith(CONFIRM)


def test_it_refuses_a_wrong_code_with_the_same_words_and_throttles_the_device(client, alice):
    # The clock stands still: the throttle's one-second wait must not pass while
    # a loaded machine hashes the password twice.
    with at(0):
        sign_in_fully(client, alice)
        response = client.post(CONFIRM, {"password": PASSWORD, "method": "totp", "token": "000000"})
        assert response.status_code == 200
        assert response.context["form"].non_field_errors() == [REFUSED]
        assert REAUTH_AT not in client.session
        assert device_of(alice).throttling_failure_count == 1
        event = last_event(Action.REAUTH)
        assert (event.outcome, event.object_type) == (Outcome.FAILURE, "totp")
        # The device now waits before it checks another code, right or wrong.
        code = totp_now(device_of(alice), 1)
        response = client.post(CONFIRM, {"password": PASSWORD, "method": "totp", "token": code})
        assert response.context["form"].non_field_errors() == [REFUSED]


def test_it_signs_the_session_out_when_wrong_passwords_lock_the_account(client, alice):
    sign_in_fully(client, alice)
    for _ in range(5):
        response = client.post(
            CONFIRM, {"password": "not my password!", "method": "totp", "token": "123456"}
        )
    assert response.status_code == 429
    assert b"Too many attempts" in response.content
    assert client.get("/patient/").url.startswith("/accounts/sign-in/")
    assert last_event(Action.REAUTH).outcome == Outcome.DENIED


def test_it_accepts_a_backup_code_once(client, carol):
    sign_in_fully(client, carol)
    codes = _new_backup_codes(carol)
    confirm = {"password": PASSWORD, "method": "backup", "token": codes[0]}
    assert client.post(CONFIRM, confirm).status_code == 302
    assert last_event(Action.REAUTH).object_type == "backup"
    assert client.post(CONFIRM, confirm).status_code == 200


def test_it_accepts_an_e_mailed_code_from_a_patient(client, alice):
    EmailDevice.objects.create(user=alice, name="E-mail", confirmed=True)
    sign_in_fully(client, alice)
    page = client.get(f"{CONFIRM}?method=email")
    assert page.context["email_allowed"]
    client.post(CONFIRM, {"send_code": "1", "next": PASSWORD_CHANGE})
    code = next(word for word in mail.outbox[-1].body.split() if word.isdigit())
    response = client.post(
        f"{CONFIRM}?next={PASSWORD_CHANGE}",
        {"password": PASSWORD, "method": "email", "token": code},
    )
    assert response.url == PASSWORD_CHANGE
    assert client.get(PASSWORD_CHANGE).status_code == 200


def test_it_never_takes_an_e_mailed_code_from_staff(client, carol):
    EmailDevice.objects.create(user=carol, name="E-mail", confirmed=True)
    sign_in_fully(client, carol)
    assert not client.get(f"{CONFIRM}?method=email").context["email_allowed"]
    response = client.post(CONFIRM, {"password": PASSWORD, "method": "email", "token": "123456"})
    assert response.status_code == 200
    assert REAUTH_AT not in client.session


def test_it_returns_a_refused_post_to_the_page_it_came_from(client, alice):
    sign_in_fully(client, alice)
    response = client.post(
        BACKUP_CODES, HTTP_REFERER="https://testserver/accounts/security/?tab=codes"
    )
    assert response.url == f"{CONFIRM}?next=%2Faccounts%2Fsecurity%2F%3Ftab%3Dcodes"
    foreign = client.post(BACKUP_CODES, HTTP_REFERER="https://evil.example/accounts/security/")
    assert confirm_page(foreign)


def test_it_sends_a_get_of_a_post_only_action_to_the_confirm_page(client, alice):
    sign_in_fully(client, alice)
    assert client.get(BACKUP_CODES).url.startswith(CONFIRM)
    assert client.get(END_OTHERS).url.startswith(CONFIRM)


# --- Replacing the authenticator --------------------------------------------------


def test_it_shows_no_new_secret_to_a_signed_in_user_without_re_authentication(client, alice):
    sign_in_fully(client, alice)
    response = client.get(ENROL)
    assert confirm_page(response, ENROL)
    assert not AuthenticatorDevice.objects.filter(user=alice, confirmed=False).exists()
    assert client.post(ENROL, {"token": "123456"}).url.startswith(CONFIRM)
    assert list(AuthenticatorDevice.objects.filter(user=alice)) == [device_of(alice)]


def test_it_refuses_to_replace_the_authenticator_once_the_window_has_passed(client, alice):
    with at(0):
        sign_in_fully(client, alice)
        reauthenticate(client, alice)
        secret = client.get(ENROL).context["secret"]
    old = device_of(alice)
    with at(301):
        response = client.post(ENROL, {"token": totp_from_secret(secret)})
        assert response.url.startswith(CONFIRM)
    assert device_of(alice) == old
    assert account_mail() == []


def test_it_replaces_the_authenticator_after_re_authentication(make_client, alice):
    phone, laptop = two_sessions(make_client, alice)
    old = device_of(alice)
    reauthenticate(laptop, alice)
    secret = laptop.get(ENROL).context["secret"]
    response = laptop.post(ENROL, {"token": totp_from_secret(secret)})
    assert len(response.context["codes"]) == 10
    assert device_of(alice) != old
    assert phone.get("/patient/").status_code == 302
    assert last_event(Action.OTP_ENROL).outcome == Outcome.SUCCESS
    assert account_mail() == [{"user_id": str(alice.pk), "kind": "second_factor_changed", "to": ""}]


# --- New backup codes ----------------------------------------------------------------


def test_it_refuses_new_backup_codes_without_re_authentication(client, alice):
    old = _new_backup_codes(alice)
    sign_in_fully(client, alice)
    assert confirm_page(client.post(BACKUP_CODES))
    assert codes_of(alice) == digests(alice, old)
    assert events(Action.BACKUP_CODES_CREATED) == []
    assert account_mail() == []


def test_it_refuses_new_backup_codes_once_the_window_has_passed(client, alice):
    old = _new_backup_codes(alice)
    with at(0):
        sign_in_fully(client, alice)
        reauthenticate(client, alice)
    with at(301):
        assert confirm_page(client.post(BACKUP_CODES))
    assert codes_of(alice) == digests(alice, old)


def test_it_makes_new_backup_codes_after_re_authentication_and_tells_the_owner(client, alice):
    old = _new_backup_codes(alice)
    with at(0):
        sign_in_fully(client, alice)
        reauthenticate(client, alice)
    with at(299):
        codes = client.post(BACKUP_CODES).context["codes"]
    assert codes_of(alice) == digests(alice, codes)
    assert not codes_of(alice) & digests(alice, old)
    assert last_event(Action.BACKUP_CODES_CREATED).actor_id == alice.pk
    assert [m["kind"] for m in account_mail()] == ["backup_codes_changed"]


# --- Password ---------------------------------------------------------------------------


def test_it_refuses_a_password_change_without_re_authentication(client, alice):
    sign_in_fully(client, alice)
    assert confirm_page(client.get(PASSWORD_CHANGE), PASSWORD_CHANGE)
    assert change_password(client).url.startswith(CONFIRM)
    alice.refresh_from_db()
    assert alice.check_password(PASSWORD)
    assert account_mail() == []


def test_it_refuses_a_password_change_once_the_window_has_passed(client, alice):
    with at(0):
        sign_in_fully(client, alice)
        reauthenticate(client, alice)
        assert client.get(PASSWORD_CHANGE).status_code == 200
    with at(301):
        assert change_password(client).url.startswith(CONFIRM)
    alice.refresh_from_db()
    assert alice.check_password(PASSWORD)


def test_it_changes_the_password_after_re_authentication_and_tells_the_owner(make_client, alice):
    phone, laptop = two_sessions(make_client, alice)
    reauthenticate(laptop, alice)
    assert change_password(laptop).url == SECURITY
    alice.refresh_from_db()
    assert alice.check_password(NEW_PASSWORD)
    assert phone.get("/patient/").status_code == 302
    assert laptop.get(PASSWORD_CHANGE).status_code == 200  # still within the window
    assert last_event(Action.PASSWORD_CHANGE).actor_id == alice.pk
    assert account_mail("password_changed") == [
        {"user_id": str(alice.pk), "kind": "password_changed", "to": ""}
    ]


# --- Other sessions -------------------------------------------------------------------


def test_it_refuses_to_end_other_sessions_without_re_authentication(make_client, alice):
    phone, laptop = two_sessions(make_client, alice)
    assert confirm_page(laptop.post(END_OTHERS))
    assert phone.get("/patient/").status_code == 200
    assert events(Action.SESSION_ENDED) == []


def test_it_refuses_to_end_other_sessions_once_the_window_has_passed(make_client, alice):
    with at(0):
        phone, laptop = two_sessions(make_client, alice)
        reauthenticate(laptop, alice)
    with at(301):
        assert confirm_page(laptop.post(END_OTHERS))
        assert phone.get("/patient/").status_code == 200


def test_it_ends_other_sessions_after_re_authentication(make_client, alice):
    phone, laptop = two_sessions(make_client, alice)
    reauthenticate(laptop, alice)
    assert laptop.post(END_OTHERS).url == SECURITY
    assert phone.get("/patient/").status_code == 302
    assert laptop.get("/patient/").status_code == 200
    assert last_event(Action.SESSION_ENDED).object_id == "1"


def _phone_session(phone) -> str:
    """The end-session URL of the phone's session (found by its cookie: both clients
    signed in at the same frozen instant, so the time cannot tell them apart)."""
    row = UserSession.objects.get(session_key=phone.cookies["__Host-session"].value)
    return f"/accounts/security/sessions/{row.public_id}/end/"


def test_it_refuses_to_end_one_session_without_re_authentication(make_client, alice):
    with at(0):
        phone, laptop = two_sessions(make_client, alice)
    with at(1):
        assert confirm_page(laptop.post(_phone_session(phone)))
        assert phone.get("/patient/").status_code == 200
    assert events(Action.SESSION_ENDED) == []


def test_it_refuses_to_end_one_session_once_the_window_has_passed(make_client, alice):
    with at(0):
        phone, laptop = two_sessions(make_client, alice)
        reauthenticate(laptop, alice)
    with at(301):
        assert confirm_page(laptop.post(_phone_session(phone)))
        assert phone.get("/patient/").status_code == 200


def test_it_ends_one_session_after_re_authentication(make_client, alice):
    with at(0):
        phone, laptop = two_sessions(make_client, alice)
    with at(1):
        reauthenticate(laptop, alice)
        assert laptop.post(_phone_session(phone)).url == SECURITY
        assert phone.get("/patient/").status_code == 302
        assert laptop.get("/patient/").status_code == 200
    assert last_event(Action.SESSION_ENDED).actor_id == alice.pk


# --- E-mail address ----------------------------------------------------------------------


def test_it_refuses_an_e_mail_change_without_re_authentication(client, alice):
    sign_in_fully(client, alice)
    assert confirm_page(client.get(EMAIL_CHANGE), EMAIL_CHANGE)
    assert client.post(EMAIL_CHANGE, {"email": "new@example.org"}).url.startswith(CONFIRM)
    alice.refresh_from_db()
    assert alice.email == "alice@example.org"
    assert events(Action.EMAIL_CHANGE) == []


def test_it_refuses_an_e_mail_change_once_the_window_has_passed(client, alice):
    with at(0):
        sign_in_fully(client, alice)
        reauthenticate(client, alice)
        assert client.get(EMAIL_CHANGE).status_code == 200
    with at(301):
        assert client.post(EMAIL_CHANGE, {"email": "new@example.org"}).url.startswith(CONFIRM)
    alice.refresh_from_db()
    assert alice.email == "alice@example.org"


def test_it_changes_the_e_mail_address_and_tells_the_old_one(client, alice):
    sign_in_fully(client, alice)
    reauthenticate(client, alice)
    assert client.post(EMAIL_CHANGE, {"email": "alice.new@example.org"}).url == SECURITY
    alice.refresh_from_db()
    assert alice.email == "alice.new@example.org"
    event = last_event(Action.EMAIL_CHANGE)
    assert (event.actor_id, event.object_id) == (alice.pk, str(alice.pk))
    assert account_mail() == [
        {"user_id": str(alice.pk), "kind": "email_changed", "to": "alice@example.org"}
    ]


def test_it_refuses_an_address_another_account_has_in_any_case(client, alice, mallory):
    sign_in_fully(client, alice)
    reauthenticate(client, alice)
    response = client.post(EMAIL_CHANGE, {"email": "MALLORY@example.org"})
    assert response.status_code == 200
    assert response.context["form"].errors["email"] == [
        "Another account already uses that address. Enter a different one."
    ]
    same = client.post(EMAIL_CHANGE, {"email": "Alice@Example.org"})
    assert same.context["form"].errors["email"] == ["That is already your address."]
    alice.refresh_from_db()
    assert alice.email == "alice@example.org"
    assert events(Action.EMAIL_CHANGE) == []
    assert account_mail() == []


def test_it_shows_the_address_and_the_change_link_on_the_security_page(client, carol):
    sign_in_fully(client, carol)
    page = client.get(SECURITY).content.decode()
    assert "carol@example.org" in page
    assert EMAIL_CHANGE in page


# --- The mail itself, sent by the worker -----------------------------------------------------


def test_the_worker_mails_the_old_address_and_nothing_about_the_patient(committed, client, alice):
    sign_in_fully(client, alice)
    reauthenticate(client, alice)
    client.post(EMAIL_CHANGE, {"email": "alice.new@example.org"})
    mail.outbox.clear()
    run_mail_worker()
    (message,) = mail.outbox
    assert message.to == ["alice@example.org"]
    assert "e-mail address" in message.subject
    assert "alice" not in message.body.lower()
    assert "alice.new" not in message.body


def test_the_worker_mails_the_owner_when_the_password_changes(committed, client, carol):
    sign_in_fully(client, carol)
    reauthenticate(client, carol)
    change_password(client)
    mail.outbox.clear()
    run_mail_worker()
    (message,) = mail.outbox
    assert message.to == [carol.email]
    assert message.subject == "Your Carebridge password was changed"
    assert "/accounts/password-reset/" in message.body
    assert "Carol" not in message.body
    assert User.objects.get(pk=carol.pk).check_password(NEW_PASSWORD)


def test_it_tells_the_owner_when_a_password_reset_completes(client, alice):
    from django.contrib.auth.tokens import default_token_generator
    from django.utils.encoding import force_bytes
    from django.utils.http import urlsafe_base64_encode

    uid = urlsafe_base64_encode(force_bytes(alice.pk))
    token = default_token_generator.make_token(alice)
    page = client.get(f"/accounts/password-reset/{uid}/{token}/", follow=True)
    client.post(
        page.redirect_chain[-1][0], {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    )
    assert User.objects.get(pk=alice.pk).check_password(NEW_PASSWORD)
    assert account_mail("password_changed") == [
        {"user_id": str(alice.pk), "kind": "password_changed", "to": ""}
    ]

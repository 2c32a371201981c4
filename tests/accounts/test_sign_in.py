from django.core import mail
from django_otp.plugins.otp_email.models import EmailDevice

from accounts.models import BackupCode
from accounts.session_store import CLIENT_IP
from audit.actions import Action, Outcome
from tests.audit_helpers import events, last_event
from tests.conftest import (
    PASSWORD,
    device_of,
    sign_in_fully,
    sign_in_password,
    totp_now,
)

VERIFY = "/accounts/sign-in/verify/"


def test_it_asks_for_the_second_factor_after_the_password(client, alice):
    response = sign_in_password(client, alice)
    assert response.status_code == 302
    assert response.url.startswith(VERIFY)
    assert client.get("/patient/").url.startswith(VERIFY)


def test_it_says_the_same_thing_for_an_unknown_user_and_a_wrong_password(client, alice):
    wrong = client.post("/accounts/sign-in/", {"username": "alice", "password": "nope-nope-nope"})
    unknown = client.post("/accounts/sign-in/", {"username": "zelda", "password": "nope-nope-nope"})
    assert wrong.status_code == unknown.status_code == 200
    assert wrong.context["form"].non_field_errors() == unknown.context["form"].non_field_errors()
    assert "_auth_user_id" not in client.session


def test_it_accepts_any_case_of_the_username(client, alice):
    response = client.post("/accounts/sign-in/", {"username": "ALICE", "password": PASSWORD})
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(alice.pk)


def test_it_rotates_the_session_key_at_password_and_at_second_factor(client, alice):
    client.get("/accounts/sign-in/")
    client.session.save()
    anonymous_key = client.session.session_key
    sign_in_password(client, alice)
    password_key = client.session.session_key
    client.post(VERIFY, {"method": "totp", "token": totp_now(device_of(alice))})
    verified_key = client.session.session_key
    assert len({anonymous_key, password_key, verified_key}) == 3
    assert client.get("/patient/").status_code == 200


def test_it_refuses_a_replayed_totp_code(client, make_client, alice):
    code = totp_now(device_of(alice))
    sign_in_password(client, alice)
    assert client.post(VERIFY, {"method": "totp", "token": code}).status_code == 302

    attacker = make_client()
    sign_in_password(attacker, alice)
    response = attacker.post(VERIFY, {"method": "totp", "token": code})
    assert response.status_code == 200
    assert response.context["form"].errors["token"] == [
        "That code didn't work. Check it and try again."
    ]
    assert attacker.get("/patient/").url.startswith(VERIFY)


def test_it_refuses_a_wrong_code_and_records_it(client, alice):
    sign_in_password(client, alice)
    response = client.post(VERIFY, {"method": "totp", "token": "000000"})
    assert response.status_code == 200
    assert client.get("/patient/").status_code != 200
    event = last_event(Action.OTP_VERIFY)
    assert event.outcome == Outcome.FAILURE
    assert event.actor_id == alice.pk


def test_it_throttles_repeated_wrong_codes_even_with_the_right_one_after(client, alice):
    sign_in_password(client, alice)
    client.post(VERIFY, {"method": "totp", "token": "000000"})
    client.post(VERIFY, {"method": "totp", "token": "111111"})
    # The device now waits before it will check another code, right or wrong.
    response = client.post(VERIFY, {"method": "totp", "token": totp_now(device_of(alice))})
    assert "Too many wrong codes" in response.content.decode()
    assert client.get("/patient/").status_code == 302


def test_it_accepts_a_backup_code_once(client, make_client, carol):
    from tests.accounts.test_reauth import reauthenticate

    sign_in_fully(client, carol)
    reauthenticate(client, carol)
    codes = client.post("/accounts/security/backup-codes/").context["codes"]
    assert len(codes) == 10

    first = make_client()
    sign_in_password(first, carol)
    assert first.post(VERIFY, {"method": "backup", "token": codes[0]}).status_code == 302
    assert first.get("/staff/").status_code == 200

    second = make_client()
    sign_in_password(second, carol)
    assert second.post(VERIFY, {"method": "backup", "token": codes[0]}).status_code == 200
    assert BackupCode.objects.filter(device__user=carol).count() == 9


def test_it_emails_a_patient_a_code_that_signs_them_in(client, alice):
    EmailDevice.objects.create(user=alice, name="E-mail", confirmed=True)
    sign_in_password(client, alice)
    client.post("/accounts/sign-in/email-code/")
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    code = next(word for word in message.body.split() if word.isdigit())
    assert client.post(VERIFY, {"method": "email", "token": code}).status_code == 302
    assert client.get("/patient/").status_code == 200
    assert last_event(Action.OTP_EMAIL_SENT).actor_id == alice.pk


def test_it_never_emails_codes_to_staff(client, carol):
    EmailDevice.objects.create(user=carol, name="E-mail", confirmed=True)
    sign_in_password(client, carol)
    client.post("/accounts/sign-in/email-code/")
    assert mail.outbox == []
    response = client.post(VERIFY, {"method": "email", "token": "123456"})
    assert response.status_code == 200
    assert client.get("/staff/").status_code == 302


def test_it_records_sign_in_success_and_failure_with_ids_only(client, alice):
    client.post("/accounts/sign-in/", {"username": "alice", "password": "wrong password!"})
    sign_in_fully(client, alice)
    failure, success = events(Action.LOGIN)
    assert (failure.outcome, failure.actor_id) == (Outcome.FAILURE, alice.pk)
    assert (success.outcome, success.actor_id, success.actor_role) == (
        Outcome.SUCCESS,
        alice.pk,
        "patient",
    )
    assert success.client_ip == "127.0.0.1"
    assert success.request_id
    assert last_event(Action.OTP_VERIFY).outcome == Outcome.SUCCESS
    assert client.session[CLIENT_IP] == "127.0.0.1"


def test_it_only_follows_next_to_pages_on_this_site(client, alice):
    sign_in_password(client, alice)
    response = client.post(
        VERIFY + "?next=https://evil.example/",
        {"method": "totp", "token": totp_now(device_of(alice))},
    )
    assert response.url == "/"


def test_it_sends_a_signed_in_user_from_the_sign_in_page_home(client, alice):
    sign_in_fully(client, alice)
    assert client.get("/accounts/sign-in/").url == "/"

import base64

from django_otp.plugins.otp_email.models import EmailDevice

from accounts.models import AuthenticatorDevice
from audit.actions import Action, Outcome
from tests.accounts.test_reauth import reauthenticate
from tests.audit_helpers import last_event
from tests.conftest import sign_in_fully, sign_in_password, totp_from_secret

ENROL = "/accounts/sign-in/enrol/"


def test_it_shows_a_qr_code_and_the_secret_as_text(client, newcomer):
    response = sign_in_password(client, newcomer)
    assert response.url.startswith(ENROL)
    page = client.get(ENROL)
    assert "<svg" in page.content.decode()
    secret = page.context["secret"]
    device = AuthenticatorDevice.objects.get(user=newcomer, confirmed=False)
    assert base64.b32decode(secret) == device.bin_key


def test_it_keeps_the_same_secret_while_the_user_types(client, newcomer):
    sign_in_password(client, newcomer)
    assert client.get(ENROL).context["secret"] == client.get(ENROL).context["secret"]


def test_it_turns_on_two_step_sign_in_with_a_code_and_hands_out_backup_codes(client, newcomer):
    sign_in_password(client, newcomer)
    secret = client.get(ENROL).context["secret"]
    response = client.post(ENROL, {"token": totp_from_secret(secret)})
    assert response.status_code == 200
    assert len(response.context["codes"]) == 10
    assert AuthenticatorDevice.objects.get(user=newcomer).confirmed
    assert EmailDevice.objects.filter(user=newcomer).exists()  # patients get e-mail fallback
    assert client.get("/patient/").status_code == 200
    event = last_event(Action.OTP_ENROL)
    assert (event.actor_id, event.outcome) == (newcomer.pk, Outcome.SUCCESS)


def test_it_gives_staff_no_e_mail_fallback(client, db):
    from tests.conftest import UserFactory

    nurse = UserFactory(username="nora", role="nurse", authenticator=False)
    sign_in_password(client, nurse)
    secret = client.get(ENROL).context["secret"]
    client.post(ENROL, {"token": totp_from_secret(secret)})
    assert not EmailDevice.objects.filter(user=nurse).exists()


def test_it_refuses_a_wrong_code_and_keeps_the_page(client, newcomer):
    sign_in_password(client, newcomer)
    secret = client.get(ENROL).context["secret"]
    response = client.post(ENROL, {"token": "000000"})
    assert response.status_code == 200
    assert response.context["form"].errors["token"]
    assert response.context["secret"] == secret
    assert client.get("/patient/").url.startswith(ENROL)
    assert last_event(Action.OTP_ENROL).outcome == Outcome.FAILURE


def test_it_replaces_the_authenticator_and_ends_other_sessions(make_client, alice):
    phone, laptop = make_client(), make_client()
    sign_in_fully(phone, alice)
    sign_in_fully(laptop, alice)
    old = AuthenticatorDevice.objects.get(user=alice)
    reauthenticate(laptop, alice)
    secret = laptop.get(ENROL).context["secret"]
    laptop.post(ENROL, {"token": totp_from_secret(secret)})
    assert list(AuthenticatorDevice.objects.filter(user=alice)) != [old]
    assert AuthenticatorDevice.objects.filter(user=alice).count() == 1
    assert phone.get("/patient/").status_code == 302
    assert laptop.get("/patient/").status_code == 200

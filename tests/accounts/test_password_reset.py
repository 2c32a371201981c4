import re

from django.core import mail

from accounts.models import UserSession
from audit.actions import Action, Outcome
from tests.audit_helpers import last_event
from tests.conftest import PASSWORD, sign_in_fully, sign_in_password

RESET = "/accounts/password-reset/"
NEW_PASSWORD = "fresh long passphrase 42"


def reset_link(message) -> str:
    return re.search(r"https://[^/\s]+(/accounts/password-reset/\S+)", message.body).group(1)


def test_it_says_the_same_for_known_and_unknown_addresses(client, alice):
    known = client.post(RESET, {"email": alice.email})
    unknown = client.post(RESET, {"email": "nobody@example.org"})
    assert known.status_code == unknown.status_code == 302
    assert known.url == unknown.url == "/accounts/password-reset/sent/"
    assert len(mail.outbox) == 1
    assert last_event(Action.PASSWORD_RESET_REQUEST).outcome == Outcome.FAILURE


def test_it_mails_a_link_and_nothing_about_the_patient(client, alice):
    client.post(RESET, {"email": alice.email.upper()})
    (message,) = mail.outbox
    assert message.to == [alice.email]
    assert reset_link(message).startswith("/accounts/password-reset/")
    assert "alice" not in message.body.lower()
    assert "alice" not in message.subject.lower()


def test_it_resets_ends_every_session_and_still_asks_for_the_second_factor(
    client, make_client, alice
):
    other = make_client()
    sign_in_fully(other, alice)
    client.post(RESET, {"email": alice.email})
    link = reset_link(mail.outbox[0])
    form_page = client.get(link, follow=True)
    assert form_page.context["validlink"]
    done = client.post(
        form_page.redirect_chain[-1][0],
        {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert done.url == "/accounts/password-reset/done/"
    assert (
        not UserSession.objects.filter(user=alice, session_data__contains="")
        .exclude(session_key=client.session.session_key)
        .exists()
    )
    assert other.get("/patient/").status_code == 302
    assert last_event(Action.PASSWORD_RESET).actor_id == alice.pk

    assert sign_in_password(client, alice, password=PASSWORD).status_code == 200
    response = sign_in_password(client, alice, password=NEW_PASSWORD)
    assert response.url.startswith("/accounts/sign-in/verify/")
    assert client.get("/patient/").status_code == 302


def test_it_refuses_a_used_link(client, alice):
    client.post(RESET, {"email": alice.email})
    link = reset_link(mail.outbox[0])
    page = client.get(link, follow=True)
    client.post(
        page.redirect_chain[-1][0],
        {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    again = client.get(link, follow=True)
    assert not again.context["validlink"]

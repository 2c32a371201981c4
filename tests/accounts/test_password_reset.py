"""Password reset: a link by mail from the job queue, rationed per address and per client.

The request only queues the mail (accounts/tasks.py); `deliver_mail()` does here
what the worker does, and one test runs the real worker on committed rows.
"""

import datetime as dt
import re

import pytest
import time_machine
from django.core import mail
from django.db import connection
from procrastinate.contrib.django import app
from procrastinate.contrib.django.models import ProcrastinateJob

from accounts.models import UserSession
from accounts.tasks import _send
from audit.actions import Action, Outcome
from portal.models import ThrottleHit
from tests.audit_helpers import events, last_event
from tests.conftest import PASSWORD, UserFactory, sign_in_fully, sign_in_password

RESET = "/accounts/password-reset/"
SENT = "/accounts/password-reset/sent/"
NEW_PASSWORD = "fresh long passphrase 42"


def reset_link(message) -> str:
    return re.search(r"https://[^/\s]+(/accounts/password-reset/\S+)", message.body).group(1)


def queued_resets() -> list[ProcrastinateJob]:
    return list(
        ProcrastinateJob.objects.filter(
            task_name="accounts.send_account_email", args__kind="password_reset", status="todo"
        ).order_by("id")
    )


def deliver_mail() -> None:
    """Send the queued reset mail as the worker would, inside the test's transaction."""
    for job in queued_resets():
        _send(job.args["user_id"], job.args["kind"], job.args.get("to", ""))


def run_worker() -> None:
    """Process every waiting mail job with procrastinate's own worker, then return."""
    with app.replace_connector(app.connector.get_worker_connector()):
        app.run_worker(queues=["mail"], wait=False, install_signal_handlers=False)


def test_it_says_the_same_for_known_and_unknown_addresses(client, alice):
    known = client.post(RESET, {"email": alice.email})
    unknown = client.post(RESET, {"email": "nobody@example.org"})
    assert known.status_code == unknown.status_code == 302
    assert known.url == unknown.url == SENT
    deliver_mail()
    assert len(mail.outbox) == 1
    assert last_event(Action.PASSWORD_RESET_REQUEST).outcome == Outcome.FAILURE


def test_it_queues_the_mail_instead_of_sending_it_during_the_request(client, alice):
    client.post(RESET, {"email": alice.email})
    assert mail.outbox == []
    (job,) = queued_resets()
    assert job.queue_name == "mail"
    # The job row names the user and the kind of mail: no address, no token.
    assert job.args == {"user_id": str(alice.pk), "kind": "password_reset", "to": ""}


def test_it_mails_a_link_and_nothing_about_the_patient(client, alice):
    client.post(RESET, {"email": alice.email.upper()})
    deliver_mail()
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
    deliver_mail()
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
    deliver_mail()
    link = reset_link(mail.outbox[0])
    page = client.get(link, follow=True)
    client.post(
        page.redirect_chain[-1][0],
        {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    again = client.get(link, follow=True)
    assert not again.context["validlink"]


# --- Rate limits --------------------------------------------------------------------


def test_it_queues_at_most_the_limit_for_one_address(client, alice, settings):
    for n in range(20):
        # However it is typed, it is the same address.
        email = alice.email.upper() if n % 2 else f"  {alice.email}"
        assert client.post(RESET, {"email": email}).url == SENT
    assert len(queued_resets()) == settings.PORTAL_RESET_LIMIT_PER_ADDRESS == 3
    deliver_mail()
    assert len(mail.outbox) == 3
    denied = events(Action.PASSWORD_RESET_REQUEST, outcome=Outcome.DENIED)
    assert len(denied) == 17
    assert {e.actor_id for e in denied} == {alice.pk}


def test_it_limits_a_client_asking_for_many_addresses(make_client, db, settings):
    users = UserFactory.create_batch(15)
    prober = make_client()
    for user in users:
        assert prober.post(RESET, {"email": user.email}, REMOTE_ADDR="203.0.113.5").url == SENT
    assert len(queued_resets()) == settings.PORTAL_RESET_LIMIT_PER_CLIENT == 10
    assert last_event(Action.PASSWORD_RESET_REQUEST).object_id == "reset_client"
    # Someone else, from another address, is not held up by the prober.
    make_client().post(RESET, {"email": users[-1].email}, REMOTE_ADDR="198.51.100.8")
    assert len(queued_resets()) == 11


def test_it_counts_unknown_addresses_against_the_client_too(client, alice, settings):
    for n in range(settings.PORTAL_RESET_LIMIT_PER_CLIENT):
        client.post(RESET, {"email": f"nobody{n}@example.org"})
    client.post(RESET, {"email": alice.email})
    assert queued_resets() == []
    assert last_event(Action.PASSWORD_RESET_REQUEST).outcome == Outcome.DENIED


def test_it_answers_known_unknown_and_throttled_addresses_alike(make_client, alice, settings):
    for _ in range(settings.PORTAL_RESET_LIMIT_PER_ADDRESS):
        make_client().post(RESET, {"email": alice.email})
    answers = [
        make_client().post(RESET, {"email": email}, follow=True)
        for email in ("nobody@example.org", "bob@example.org", alice.email)  # the last: throttled
    ]
    assert last_event(Action.PASSWORD_RESET_REQUEST).outcome == Outcome.DENIED
    first = answers[0]
    for answer in answers:
        assert answer.redirect_chain == [(SENT, 302)]
        assert answer.status_code == 200
        assert answer.content == first.content
        assert set(answer.cookies) == set(first.cookies)


def test_it_allows_the_address_again_after_the_window(client, alice):
    start = dt.datetime(2026, 5, 4, 8, 0, tzinfo=dt.UTC)
    with time_machine.travel(start, tick=False):
        for _ in range(5):
            client.post(RESET, {"email": alice.email})
    with time_machine.travel(start + dt.timedelta(minutes=59), tick=False):
        client.post(RESET, {"email": alice.email})
    assert len(queued_resets()) == 3
    with time_machine.travel(start + dt.timedelta(hours=1, seconds=1), tick=False):
        client.post(RESET, {"email": alice.email})
    assert len(queued_resets()) == 4


def test_it_keeps_no_address_in_the_limiter_table(client, alice):
    client.post(RESET, {"email": alice.email}, REMOTE_ADDR="203.0.113.77")
    assert ThrottleHit.objects.count() == 2
    with connection.cursor() as cursor:
        cursor.execute("SELECT scope, encode(key_digest, 'escape') FROM portal_throttle_hit")
        dump = repr(cursor.fetchall()).lower()
    for plain in ("alice", "example.org", "203.0.113.77"):
        assert plain not in dump
    for row in ThrottleHit.objects.all():
        assert alice.email.encode() not in bytes(row.key_digest)


# --- The worker and the base URL ------------------------------------------------------


@pytest.mark.usefixtures("committed")
def test_the_worker_mails_a_link_built_from_the_base_url(make_client, mailoutbox, settings):
    settings.PORTAL_BASE_URL = "https://portal.example.org"
    user = UserFactory(username="walter")
    # A Host (and port) the client chose must not end up in the link.
    response = make_client().post(RESET, {"email": user.email}, HTTP_HOST="localhost:6666")
    assert response.url == SENT
    assert mailoutbox == []
    run_worker()
    (message,) = mailoutbox
    assert message.to == [user.email]
    (link,) = re.findall(r"https?://\S+", message.body)
    assert link.startswith("https://portal.example.org/accounts/password-reset/")
    assert "6666" not in message.body
    page = make_client().get(link.removeprefix(settings.PORTAL_BASE_URL), follow=True)
    assert page.context["validlink"]

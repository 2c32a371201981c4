import datetime as dt

import time_machine
from django.contrib.sessions.backends.base import SessionBase
from django.test import override_settings

from accounts.models import UserSession
from audit.actions import Action
from tests.accounts.test_reauth import reauthenticate
from tests.audit_helpers import events, last_event
from tests.conftest import sign_in_fully

START = dt.datetime(2026, 5, 4, 8, 0, tzinfo=dt.UTC)
BACKGROUND = {"HTTP_X_PORTAL_BACKGROUND": "1"}


def signed_in_at_start(client, user):
    with time_machine.travel(START, tick=False):
        sign_in_fully(client, user)


def at(minutes: float):
    return time_machine.travel(START + dt.timedelta(minutes=minutes), tick=False)


def test_it_signs_out_after_fifteen_idle_minutes(client, alice):
    signed_in_at_start(client, alice)
    with at(14):
        assert client.get("/patient/").status_code == 200
    with at(14 + 15.1):
        response = client.get("/patient/")
    assert response.status_code == 302
    assert response.url == "/accounts/sign-in/?signed_out=idle"
    assert last_event(Action.SESSION_IDLE_TIMEOUT).actor_id == alice.pk
    assert not UserSession.objects.filter(user=alice).exists()


def test_it_writes_the_activity_time_at_most_once_per_resolution(client, alice, settings):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    settings.PORTAL_ACTIVITY_RESOLUTION = 30

    def session_writes() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get("/patient/").status_code == 200
        return sum(q["sql"].startswith('UPDATE "accounts_session"') for q in queries)

    signed_in_at_start(client, alice)
    with at(5):
        assert session_writes() == 1  # 5 minutes since the last write
    with at(5.25):
        assert session_writes() == 0  # 15 s later: nothing to write
    with at(5.6):
        assert session_writes() == 1
    # The unrecorded activity at 5.25 never makes the logoff late: idle counts from 5.6.
    with at(5.6 + 15.05):
        assert client.get("/patient/").url == "/accounts/sign-in/?signed_out=idle"


def test_it_does_not_count_background_requests_as_activity(client, alice):
    signed_in_at_start(client, alice)
    with at(10):
        status = client.get("/accounts/session/status/", **BACKGROUND)
        assert status.json()["remaining"] == 5 * 60
    with at(15.1):
        response = client.get("/accounts/session/status/", **BACKGROUND)
    assert response.status_code == 401
    assert response.json()["signed_in"] is False


def test_it_keeps_the_session_when_the_user_chooses_to_stay(client, alice):
    signed_in_at_start(client, alice)
    with at(13):
        assert client.post("/accounts/session/extend/").json()["remaining"] == 15 * 60
    with at(27):
        assert client.get("/patient/").status_code == 200


@override_settings(PORTAL_IDLE_TIMEOUT=60)
def test_it_takes_the_idle_timeout_from_settings(client, alice):
    signed_in_at_start(client, alice)
    with at(1.1):
        assert client.get("/patient/").status_code == 302


def test_it_ends_a_busy_session_after_twelve_hours_anyway(client, alice):
    signed_in_at_start(client, alice)
    for minute in range(10, 12 * 60, 10):
        with at(minute):
            assert client.get("/patient/").status_code == 200
    with at(12 * 60 + 1):
        response = client.get("/patient/")
    assert response.url == "/accounts/sign-in/?signed_out=expired"
    assert last_event(Action.SESSION_EXPIRED).actor_id == alice.pk


def test_it_refuses_a_replayed_cookie_after_sign_out(client, make_client, alice):
    sign_in_fully(client, alice)
    cookie = client.cookies["__Host-session"].value
    client.post("/accounts/sign-out/")
    assert not UserSession.objects.filter(session_key=cookie).exists()

    replay = make_client()
    replay.cookies["__Host-session"] = cookie
    response = replay.get("/patient/")
    assert response.status_code == 302
    assert response.url.startswith("/accounts/sign-in/")
    assert last_event(Action.LOGOUT).actor_id == alice.pk


def test_it_lists_the_users_own_sessions_only(make_client, alice, mallory):
    phone, laptop, other = make_client(), make_client(), make_client()
    sign_in_fully(phone, alice)
    sign_in_fully(laptop, alice)
    sign_in_fully(other, mallory)
    sessions = laptop.get("/accounts/security/").context["sessions"]
    assert {s.user_id for s in sessions} == {alice.pk}
    assert len(sessions) == 2


def test_it_ends_all_other_sessions_on_request(make_client, alice, mallory):
    phone, laptop, other = make_client(), make_client(), make_client()
    sign_in_fully(phone, alice)
    sign_in_fully(laptop, alice)
    sign_in_fully(other, mallory)
    reauthenticate(laptop, alice)
    laptop.post("/accounts/security/sessions/end-others/")
    assert phone.get("/patient/").status_code == 302
    assert laptop.get("/patient/").status_code == 200
    assert other.get("/patient/").status_code == 200
    assert last_event(Action.SESSION_ENDED).object_id == "1"


def test_it_cannot_end_another_users_session_by_its_id(make_client, alice, mallory):
    attacker, victim = make_client(), make_client()
    sign_in_fully(attacker, mallory)
    sign_in_fully(victim, alice)
    victim_session = UserSession.objects.get(user=alice)
    reauthenticate(attacker, mallory)
    attacker.post(f"/accounts/security/sessions/{victim_session.public_id}/end/")
    assert victim.get("/patient/").status_code == 200
    assert events(Action.SESSION_ENDED) == []


def test_it_ends_other_sessions_when_the_password_changes(make_client, alice):
    phone, laptop = make_client(), make_client()
    sign_in_fully(phone, alice)
    sign_in_fully(laptop, alice)
    reauthenticate(laptop, alice)
    response = laptop.post(
        "/accounts/security/password/",
        {
            "old_password": "correct horse battery staple",
            "new_password1": "a new and long passphrase",
            "new_password2": "a new and long passphrase",
        },
    )
    assert response.status_code == 302
    assert laptop.get("/patient/").status_code == 200
    assert phone.get("/patient/").status_code == 302
    assert last_event(Action.PASSWORD_CHANGE).actor_id == alice.pk


def test_it_rejects_a_short_or_common_password_and_keeps_the_form(client, alice):
    sign_in_fully(client, alice)
    reauthenticate(client, alice)
    response = client.post(
        "/accounts/security/password/",
        {
            "old_password": "correct horse battery staple",
            "new_password1": "password1234",
            "new_password2": "password1234",
        },
    )
    assert response.status_code == 200
    assert "too common" in str(response.context["form"].errors["new_password2"])
    assert response.context["form"]["old_password"].value() == "correct horse battery staple"


def test_it_ends_other_sessions_when_the_second_factor_changes(make_client, alice):
    phone, laptop = make_client(), make_client()
    sign_in_fully(phone, alice)
    sign_in_fully(laptop, alice)
    reauthenticate(laptop, alice)
    laptop.post("/accounts/security/backup-codes/")
    assert phone.get("/patient/").status_code == 302
    assert laptop.get("/patient/").status_code == 200


def test_it_stores_sessions_in_the_database_with_their_owner(client, alice):
    sign_in_fully(client, alice)
    row = UserSession.objects.get(user=alice)
    assert row.session_key == client.cookies["__Host-session"].value
    assert row.client_ip == "127.0.0.1"
    assert isinstance(row.get_session_store_class()(row.session_key), SessionBase)


def test_it_tells_the_user_why_they_were_signed_out(client, db, settings):
    response = client.get("/accounts/sign-in/?signed_out=idle")
    assert "signed out after 15 minutes without activity" in response.context["notice"]
    settings.PORTAL_IDLE_TIMEOUT = 8
    response = client.get("/accounts/sign-in/?signed_out=idle")
    assert "signed out after 8 seconds without activity" in response.context["notice"]

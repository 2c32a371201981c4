"""Five failed sign-ins for one username from one address lock that pair for
15 minutes. The counter lives in the database: dropping the cookie or forging
X-Forwarded-For changes nothing."""

import datetime as dt

import pytest
import time_machine
from django.test import override_settings

from audit.actions import Action, Outcome
from tests.audit_helpers import last_event
from tests.conftest import PASSWORD, sign_in_password

SIGN_IN = "/accounts/sign-in/"


def fail(client, username="alice", **extra):
    return client.post(SIGN_IN, {"username": username, "password": "wrong password!"}, **extra)


def test_it_locks_the_account_after_five_failures_even_with_the_right_password(client, alice):
    for _ in range(5):
        fail(client)
    response = sign_in_password(client, alice)
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session
    event = last_event(Action.LOGIN_LOCKED_OUT)
    assert (event.outcome, event.actor_id) == (Outcome.DENIED, alice.pk)


def test_it_keeps_the_lock_when_the_cookie_is_dropped(make_client, alice):
    for _ in range(5):
        fail(make_client())  # a fresh client every time: no cookie at all
    assert sign_in_password(make_client(), alice).status_code == 429


def test_it_keeps_the_lock_with_a_forged_x_forwarded_for(make_client, alice):
    for n in range(5):
        fail(make_client(), HTTP_X_FORWARDED_FOR=f"203.0.113.{n}")
    response = sign_in_password(make_client(), alice, HTTP_X_FORWARDED_FOR="198.51.100.7")
    assert response.status_code == 429


@override_settings(PORTAL_TRUSTED_PROXY_COUNT=1)
def test_it_trusts_the_address_our_own_proxy_adds(make_client, alice):
    # Behind one proxy, the right-most entry is the client our proxy saw; what
    # the client wrote further left does not matter.
    for n in range(5):
        fail(make_client(), HTTP_X_FORWARDED_FOR=f"10.9.9.{n}, 192.0.2.10")
    assert (
        sign_in_password(make_client(), alice, HTTP_X_FORWARDED_FOR="192.0.2.10").status_code == 429
    )
    assert (
        sign_in_password(make_client(), alice, HTTP_X_FORWARDED_FOR="192.0.2.99").status_code == 302
    )


def test_it_counts_usernames_in_any_case_together(client, alice):
    for username in ["alice", "ALICE", "Alice", "aLiCe", "alicE"]:
        fail(client, username)
    assert sign_in_password(client, alice).status_code == 429


def test_it_locks_unknown_usernames_alike_so_nothing_is_revealed(client, db):
    for _ in range(5):
        fail(client, "nobody")
    known = fail(client, "nobody")
    assert known.status_code == 429
    assert b"Too many attempts" in known.content


def test_it_leaves_other_addresses_alone(make_client, alice):
    for _ in range(5):
        fail(make_client(), REMOTE_ADDR="203.0.113.66")
    assert sign_in_password(make_client(), alice, REMOTE_ADDR="203.0.113.67").status_code == 302


def test_it_lifts_the_lock_after_fifteen_minutes(client, alice):
    start = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)
    with time_machine.travel(start, tick=False):
        for _ in range(5):
            fail(client)
        assert sign_in_password(client, alice).status_code == 429
    with time_machine.travel(start + dt.timedelta(minutes=14), tick=False):
        assert sign_in_password(client, alice).status_code == 429
    with time_machine.travel(start + dt.timedelta(minutes=15, seconds=1), tick=False):
        assert sign_in_password(client, alice).status_code == 302


@pytest.mark.parametrize("failures", [4])
def test_it_forgets_failures_after_a_success(client, make_client, alice, failures):
    for _ in range(failures):
        fail(client)
    assert sign_in_password(make_client(), alice).status_code == 302
    for _ in range(failures):
        fail(client)
    response = client.post(SIGN_IN, {"username": "alice", "password": PASSWORD})
    assert response.status_code == 302

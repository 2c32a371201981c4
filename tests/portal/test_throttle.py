"""The database rate limiter: N events per key in a sliding window, keys stored only as digests."""

import datetime as dt
import threading

import pytest
import time_machine
from django.db import connection

from portal import throttle
from portal.crypto.blind_index import blind_index
from portal.models import ThrottleHit

START = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)


def attempt(key="alice@example.org", scope="test", limit=3, window=600):
    return throttle.attempt(scope=scope, key=key, limit=limit, window=window)


@pytest.mark.django_db
def test_it_allows_up_to_the_limit_then_refuses():
    assert [attempt().allowed for _ in range(5)] == [True, True, True, False, False]


@pytest.mark.django_db
def test_it_counts_each_key_and_scope_apart():
    for _ in range(3):
        attempt()
    assert not attempt().allowed
    assert attempt(key="bob@example.org").allowed
    assert attempt(scope="other").allowed


@pytest.mark.django_db
def test_it_frees_a_slot_when_the_oldest_event_leaves_the_window():
    with time_machine.travel(START, tick=False):
        attempt()
    with time_machine.travel(START + dt.timedelta(minutes=4), tick=False):
        attempt()
        attempt()
        refused = attempt()
    assert (refused.allowed, refused.retry_after) == (False, 6 * 60)
    with time_machine.travel(START + dt.timedelta(minutes=10, seconds=1), tick=False):
        assert attempt().allowed
        assert not attempt().allowed


@pytest.mark.django_db
def test_refused_attempts_take_no_slot():
    with time_machine.travel(START, tick=False):
        for _ in range(10):
            attempt()
    assert ThrottleHit.objects.count() == 3
    with time_machine.travel(START + dt.timedelta(minutes=10, seconds=1), tick=False):
        assert attempt().allowed


@pytest.mark.django_db
def test_check_records_nothing_and_hit_counts_failures():
    failures = {"scope": "codes", "key": 42, "window": 900}
    assert throttle.check(**failures, limit=2).allowed
    throttle.hit(**failures)
    assert throttle.check(**failures, limit=2).allowed
    throttle.hit(**failures)
    verdict = throttle.check(**failures, limit=2)
    assert not verdict.allowed
    assert 0 < verdict.retry_after <= 900
    assert ThrottleHit.objects.count() == 2


@pytest.mark.django_db
def test_clear_forgets_the_key_and_only_that_key():
    throttle.hit(scope="codes", key=1, window=900)
    throttle.hit(scope="codes", key=2, window=900)
    throttle.clear(scope="codes", key=1)
    assert throttle.check(scope="codes", key=1, limit=1, window=900).allowed
    assert not throttle.check(scope="codes", key=2, limit=1, window=900).allowed


@pytest.mark.django_db
def test_it_stores_only_a_keyed_digest_of_the_key():
    attempt(key="Alice@Example.org")
    attempt(key="alice@example.org", scope="other")
    first, second = ThrottleHit.objects.order_by("id")
    assert bytes(first.key_digest) == blind_index("alice@example.org", purpose="throttle_test")
    assert b"alice" not in bytes(first.key_digest)
    # The same key under two scopes cannot be matched up.
    assert bytes(first.key_digest) != bytes(second.key_digest)


@pytest.mark.django_db
def test_it_deletes_expired_rows_when_it_writes():
    with time_machine.travel(START, tick=False):
        attempt(key="old@example.org")
    with time_machine.travel(START + dt.timedelta(minutes=11), tick=False):
        attempt(key="new@example.org")
    assert ThrottleHit.objects.count() == 1


@pytest.mark.django_db
def test_it_refuses_a_scope_that_is_not_an_identifier():
    with pytest.raises(ValueError, match="scope"):
        attempt(scope="Reset Address")


@pytest.mark.usefixtures("committed")  # each thread has its own connection: rows must commit
def test_parallel_requests_cannot_share_the_last_slot():
    results: list[bool] = []
    start = threading.Barrier(6)

    def race() -> None:
        try:
            start.wait()
            results.append(attempt(key="racer@example.org", limit=2).allowed)
        finally:
            connection.close()

    threads = [threading.Thread(target=race) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False] * 4 + [True] * 2
    assert ThrottleHit.objects.count() == 2

"""The FHIR client against a fake EHR that pages, stalls, fails and lies."""

import time

import pytest

from portal.fhir import FhirError
from tests.fake_ehr import Clock, Reply, bundle, observation


def test_it_follows_next_links_across_three_pages(ehr, fhir_client_for):
    pages = {
        "1": bundle([observation(1), observation(2)], ehr.url("Observation?page=2")),
        "2": bundle([observation(3)], ehr.url("Observation?page=3")),
        "3": bundle([observation(4)]),
    }
    ehr.app = lambda request: Reply(body=pages[request.query.get("page", ["1"])[0]])

    found = list(fhir_client_for(ehr).search("Observation", {"patient": "p1"}))

    assert [resource["id"] for resource in found] == ["obs-1", "obs-2", "obs-3", "obs-4"]
    assert len(ehr.requests) == 3
    assert ehr.requests[0].query == {"patient": ["p1"]}
    assert ehr.requests[0].headers["accept"] == "application/fhir+json"


def test_it_stops_at_the_page_limit(ehr, fhir_client_for):
    ehr.app = lambda request: Reply(
        body=bundle([], ehr.url(f"Observation?page={len(ehr.requests) + 1}"))
    )

    with pytest.raises(FhirError, match="page_limit"):
        list(fhir_client_for(ehr, max_pages=4).search("Observation", {}))
    assert len(ehr.requests) == 4


def test_it_refuses_a_next_link_loop(ehr, fhir_client_for):
    pages = {
        "1": bundle([observation(1)], ehr.url("Observation?page=2")),
        "2": bundle([observation(2)], ehr.url("Observation?page=1")),
    }
    ehr.app = lambda request: Reply(body=pages[request.query["page"][0]])

    with pytest.raises(FhirError) as caught:
        list(fhir_client_for(ehr).search("Observation", {"page": "1"}))
    assert caught.value.reason == "next_loop"
    assert len(ehr.requests) == 2


def test_it_refuses_a_next_link_to_another_host(ehr, fhir_client_for):
    foreign = f"https://localhost:{ehr.port}/fhir/Observation?page=2"
    ehr.app = lambda request: Reply(body=bundle([observation(1)], foreign))

    results = fhir_client_for(ehr).search("Observation", {})

    assert next(results)["id"] == "obs-1"
    with pytest.raises(FhirError) as caught:
        next(results)
    assert caught.value.reason == "next_foreign_host"
    assert len(ehr.requests) == 1


def test_it_gives_up_on_a_hanging_server_in_bounded_time(ehr, fhir_client_for, sleeps):
    ehr.app = lambda request: Reply(body=bundle([]), delay=10)

    started = time.monotonic()
    with pytest.raises(FhirError) as caught:
        list(fhir_client_for(ehr).search("Observation", {}))
    assert caught.value.reason == "timeout"
    # Four attempts of a 0.3 s read timeout each, and no real sleeping.
    assert time.monotonic() - started < 3
    assert len(ehr.requests) == 4
    assert len(sleeps) == 3


def test_it_gives_up_on_a_trickling_server_at_the_total_deadline(ehr, fhir_client_for):
    clock = Clock()

    def trickle(request):
        clock.advance(10)
        return Reply(flood=16384 * 2)

    ehr.app = trickle

    with pytest.raises(FhirError, match="timeout"):
        list(
            fhir_client_for(ehr, clock=clock, total_timeout=5, max_retries=0).search(
                "Observation", {}
            )
        )


def test_it_retries_server_errors_with_growing_backoff(ehr, fhir_client_for, sleeps):
    replies = [Reply(500), Reply(502), Reply(503), Reply(body=bundle([observation(1)]))]
    ehr.app = lambda request: replies[len(ehr.requests) - 1]

    found = list(fhir_client_for(ehr).search("Observation", {}))

    assert [resource["id"] for resource in found] == ["obs-1"]
    # Full jitter draws from [0, ceiling]; the test's jitter returns the ceiling.
    assert sleeps == [0.5, 1.0, 2.0]


def test_it_honours_retry_after_on_429(ehr, fhir_client_for, sleeps):
    replies = [
        Reply(429, headers={"Retry-After": "7"}),
        Reply(429, headers={"Retry-After": "86400"}),
        Reply(body=bundle([observation(1)])),
    ]
    ehr.app = lambda request: replies[len(ehr.requests) - 1]

    found = list(fhir_client_for(ehr, retry_after_cap=30).search("Observation", {}))

    assert len(found) == 1
    assert sleeps == [7.0, 30.0]


def test_it_raises_when_retries_are_exhausted(ehr, fhir_client_for, sleeps):
    ehr.app = lambda request: Reply(503, body=b"patient Jane Doe is down")

    with pytest.raises(FhirError) as caught:
        list(fhir_client_for(ehr).search("Observation", {"patient": "p1"}))
    assert caught.value.reason == "server_error"
    assert caught.value.status == 503
    assert "Jane" not in str(caught.value)
    assert "p1" not in str(caught.value)
    assert len(ehr.requests) == 4
    assert len(sleeps) == 3


def test_it_does_not_retry_a_client_error(ehr, fhir_client_for):
    ehr.app = lambda request: Reply(404, body=b"{}")

    with pytest.raises(FhirError) as caught:
        list(fhir_client_for(ehr).search("Observation", {}))
    assert (caught.value.reason, caught.value.status) == ("http_status", 404)
    assert len(ehr.requests) == 1


def test_it_retries_after_a_connection_reset(ehr, fhir_client_for):
    replies = [Reply(reset=True), Reply(body=bundle([observation(1)]))]
    ehr.app = lambda request: replies[len(ehr.requests) - 1]

    found = list(fhir_client_for(ehr).search("Observation", {}))

    assert len(found) == 1
    assert len(ehr.requests) == 2


def test_it_raises_when_the_connection_keeps_resetting(ehr, fhir_client_for):
    ehr.app = lambda request: Reply(reset=True)

    with pytest.raises(FhirError, match="connection"):
        list(fhir_client_for(ehr).search("Observation", {}))
    assert len(ehr.requests) == 4


def test_it_raises_on_malformed_json(ehr, fhir_client_for):
    ehr.app = lambda request: Reply(body=b'{"resourceType": "Bundle", "entry": [')

    with pytest.raises(FhirError, match="bad_json"):
        list(fhir_client_for(ehr).search("Observation", {}))
    assert len(ehr.requests) == 1


def test_it_raises_on_a_wrong_resource_type(ehr, fhir_client_for):
    ehr.app = lambda request: Reply(body=observation(1))

    with pytest.raises(FhirError, match="wrong_type"):
        list(fhir_client_for(ehr).search("Observation", {}))


def test_it_skips_the_servers_remarks_about_the_search(ehr, fhir_client_for):
    page = bundle([observation(1)])
    page["entry"].insert(
        0,
        {
            "resource": {"resourceType": "OperationOutcome", "issue": []},
            "search": {"mode": "outcome"},
        },
    )
    ehr.app = lambda request: Reply(body=page)

    found = list(fhir_client_for(ehr).search("Observation", {"unknown-param": "x"}))

    assert [resource["id"] for resource in found] == ["obs-1"]


def test_it_refuses_a_declared_oversized_response(ehr, fhir_client_for):
    ehr.app = lambda request: Reply(body=b" " * (70 * 1024))

    with pytest.raises(FhirError, match="too_large"):
        list(fhir_client_for(ehr).search("Observation", {}))


def test_it_stops_reading_an_oversized_streamed_response(ehr, fhir_client_for):
    ehr.app = lambda request: Reply(flood=50 * 1024 * 1024)

    started = time.monotonic()
    with pytest.raises(FhirError, match="too_large"):
        list(fhir_client_for(ehr).search("Observation", {}))
    assert time.monotonic() - started < 2
    assert len(ehr.requests) == 1


def test_it_refuses_a_server_it_cannot_verify(ehr):
    from portal.fhir import FhirClient, FhirConfig

    ehr.app = lambda request: Reply(body=bundle([]))
    with (
        FhirClient(
            FhirConfig(base_url=ehr.base_url, max_retries=0, read_timeout=1),
            sleep=lambda seconds: None,
        ) as client,
        pytest.raises(FhirError, match="connection"),
    ):
        list(client.search("Observation", {}))
    assert ehr.requests == []


def test_it_refuses_a_plain_http_base_url():
    from portal.fhir import FhirClient, FhirConfig

    with pytest.raises(FhirError, match="config"):
        FhirClient(FhirConfig(base_url="http://127.0.0.1:1/fhir"))


def test_it_opens_the_breaker_and_fails_fast(ehr, fhir_client_for):
    clock = Clock()
    ehr.app = lambda request: Reply(500)
    client = fhir_client_for(ehr, clock=clock, breaker_threshold=3, breaker_cooldown=60)

    with pytest.raises(FhirError, match="circuit_open"):
        list(client.search("Observation", {}))
    assert len(ehr.requests) == 3

    with pytest.raises(FhirError, match="circuit_open"):
        list(client.search("Observation", {}))
    assert len(ehr.requests) == 3

    clock.advance(59)
    with pytest.raises(FhirError, match="circuit_open"):
        list(client.search("Observation", {}))
    assert len(ehr.requests) == 3


def test_it_half_opens_the_breaker_after_the_cool_down(ehr, fhir_client_for):
    clock = Clock()
    ehr.app = lambda request: Reply(500)
    client = fhir_client_for(
        ehr, clock=clock, breaker_threshold=3, breaker_cooldown=60, max_retries=0
    )
    for _ in range(3):
        with pytest.raises(FhirError, match="server_error"):
            list(client.search("Observation", {}))
    assert client.breaker.is_open

    # A failed probe opens it again for a whole cool-down.
    clock.advance(61)
    with pytest.raises(FhirError, match="server_error"):
        list(client.search("Observation", {}))
    assert len(ehr.requests) == 4
    with pytest.raises(FhirError, match="circuit_open"):
        list(client.search("Observation", {}))

    # A good probe closes it.
    clock.advance(61)
    ehr.app = lambda request: Reply(body=bundle([observation(1)]))
    assert len(list(client.search("Observation", {}))) == 1
    assert not client.breaker.is_open
    assert len(list(client.search("Observation", {}))) == 1
    assert len(ehr.requests) == 6


def test_it_counts_garbage_answers_as_breaker_failures(ehr, fhir_client_for):
    ehr.app = lambda request: Reply(body=b"<html>maintenance</html>")
    client = fhir_client_for(ehr, clock=Clock(), breaker_threshold=2)

    for _ in range(2):
        with pytest.raises(FhirError, match="bad_json"):
            list(client.search("Observation", {}))

    with pytest.raises(FhirError, match="circuit_open"):
        list(client.search("Observation", {}))
    assert len(ehr.requests) == 2

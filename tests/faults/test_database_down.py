"""PostgreSQL stopped in immediate mode (a crash) while a patient posts messages and books
visits and Stripe delivers webhooks: every request answered with success is in the
database after the restart; while it is down the portal answers 503 with a clear page,
and it recovers by itself (same gunicorn, no restart).

Real processes: a cluster of the test's own (tests/faults/conftest.py: initdb on a free
port, never the shared one) holding a copy of the test database, the real front (nginx
and gunicorn, tests/front.py) on it, and clients over TLS in threads.
"""

import datetime as dt
import http.client
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import dj_database_url
import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from appointments.models import Appointment
from billing.models import WebhookEvent
from messaging.models import Message, Topic
from patients.models import CareTeam
from tests import front
from tests.appointments import builders
from tests.billing.conftest import WEBHOOK_SECRET, event, signature
from tests.conftest import sign_in_fully
from tests.faults.conftest import (
    copy_test_database,
    free_port,
    make_self_signed,
    server_env,
    wait_for,
)

DOWN_FOR = 3  # s the database stays down
RECOVERY_TIMEOUT = 30  # s for both kinds of client to succeed again after the restart


@dataclass
class Answer:
    at: float
    key: str
    status: int
    body: str


@dataclass
class Client:
    """One kind of request sent in a loop, answers kept."""

    port: int
    context: ssl.SSLContext
    answers: list[Answer] = field(default_factory=list)

    def send(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> tuple:
        conn = http.client.HTTPSConnection("localhost", self.port, context=self.context, timeout=15)
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            return response.status, response.read().decode(errors="replace")
        finally:
            conn.close()

    def successes(self, ok: int, after: float = 0.0) -> list[str]:
        return [a.key for a in self.answers if a.status == ok and a.at > after]


def loop(client: Client, make, stop: threading.Event) -> None:
    n = 0
    while not stop.is_set():
        n += 1
        key, method, path, body, headers = make(n)
        try:
            status, text = client.send(method, path, body, headers)
        except OSError as error:  # the front itself unreachable: recorded as 0
            status, text = 0, repr(error)
        client.answers.append(Answer(time.monotonic(), key, status, text))
        time.sleep(0.05)


@contextmanager
def on_server(url: str) -> Iterator[None]:
    """Django's connection pointed at another server's database for the block."""
    keys = ("HOST", "PORT", "USER", "PASSWORD", "NAME")
    old = {k: connection.settings_dict[k] for k in keys}
    connection.close()
    connection.settings_dict.update({k: dj_database_url.parse(url)[k] or "" for k in keys})
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict.update(old)


@pytest.fixture
def ward(alice, carol):
    team = CareTeam.objects.create(name="Ward 3")
    team.members.add(carol)
    team.patients.add(alice.patient)
    return team


@pytest.fixture
def clinic(carol):
    """Carol's weekday mornings (New York) at the Main Street Clinic, 30-minute visits."""
    place, kind = builders.location(), builders.visit_type()
    builders.weekdays(carol, place, kind)
    return place, kind


def free_slots(clinic, carol, count: int) -> Iterator[dict[str, str]]:
    """Carol's slots from the day after tomorrow on, as the booking form sends them."""
    place, kind = clinic
    zone = ZoneInfo(builders.NEW_YORK)
    day = timezone.now().astimezone(zone).date() + dt.timedelta(days=2)
    found = 0
    while found < count:
        if day.weekday() < 5:
            for minutes in range(0, 180, 30):
                start = dt.datetime.combine(day, dt.time(9), tzinfo=zone)
                start += dt.timedelta(minutes=minutes)
                yield {
                    "clinician": str(carol.pk),
                    "location": str(place.pk),
                    "visit_type": str(kind.pk),
                    "starts_at": start.astimezone(dt.UTC).isoformat(),
                }
                found += 1
        day += dt.timedelta(days=1)


@pytest.fixture
def served(committed, shared_dirs, own_cluster, ward, clinic, alice, client, tmp_path):
    """Alice signed in, the test database copied to the cluster, the front serving it."""
    sign_in_fully(client, alice)
    cookies = {
        name: client.cookies[name].value
        for name in (settings.SESSION_COOKIE_NAME, settings.CSRF_COOKIE_NAME)
    }
    url = copy_test_database(own_cluster)
    var_dir, key_store = shared_dirs
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    make_self_signed(cert, key)
    env = server_env(
        var_dir,
        key_store,
        DATABASE_URL=url,
        DATABASE_CONN_MAX_AGE="60",  # production's persistent connections: they break too
        ALLOWED_HOSTS="localhost",
        GUNICORN_WORKERS="2",
        PORTAL_TLS_CERT=str(cert),
        PORTAL_TLS_KEY=str(key),
        STRIPE_SECRET_KEY="sk_test_carebridge",
        STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET,
    )
    port = free_port()
    log = tmp_path / "front.log"
    proc = front.start(
        app="portal.wsgi:application", port=port, run_dir=tmp_path / "run", log=log, env=env
    )
    context = ssl.create_default_context(cafile=str(cert))
    probe = Client(port, context)

    def healthy() -> bool:
        try:
            return probe.send("GET", "/healthz", b"", {})[0] == 200
        except OSError:
            return False

    try:
        wait_for(healthy, 30, "the portal to answer /healthz")
        yield Served(port=port, context=context, cookies=cookies, url=url, log=log)
    finally:
        front.stop(proc)
        print(log.read_text(errors="replace")[-8000:])  # shown when the test failed


@dataclass
class Served:
    port: int
    context: ssl.SSLContext
    cookies: dict[str, str]
    url: str
    log: Path


def test_a_database_crash_loses_no_answered_request_shows_503_and_recovers(
    served, own_cluster, clinic, alice, carol
):
    origin = f"https://localhost:{served.port}"
    cookie = "; ".join(f"{k}={v}" for k, v in served.cookies.items())
    csrf = served.cookies[settings.CSRF_COOKIE_NAME]

    def message(n: int):
        body = f"fault-message-{n}"
        form = {"topic": Topic.MEDICAL, "subject": f"Question {n}", "body": body}
        headers = {
            "Cookie": cookie,
            "X-CSRFToken": csrf,
            "Origin": origin,
            "Referer": origin + "/patient/messages/new/",
            "Content-Type": "application/x-www-form-urlencoded",
        }
        return body, "POST", "/patient/messages/new/", urlencode(form).encode(), headers

    def webhook(n: int):
        event_id = f"evt_fault_{n}"
        payload = event("customer.updated", {"id": "cus_fault"}, event_id=event_id)
        headers = {"Content-Type": "application/json", "Stripe-Signature": signature(payload)}
        return event_id, "POST", "/billing/stripe/webhook", payload, headers

    slots = free_slots(clinic, carol, 2000)

    def booking(n: int):
        slot = next(slots)
        form = {**slot, "reason": f"fault-booking-{n}"}
        headers = {
            "Cookie": cookie,
            "X-CSRFToken": csrf,
            "Origin": origin,
            "Referer": origin + "/patient/appointments/book/",
            "Content-Type": "application/x-www-form-urlencoded",
        }
        return (
            slot["starts_at"],
            "POST",
            "/patient/appointments/book/",
            urlencode(form).encode(),
            headers,
        )

    patients, stripe = Client(served.port, served.context), Client(served.port, served.context)
    bookings = Client(served.port, served.context)
    kinds = [(patients, message, 302), (stripe, webhook, 200), (bookings, booking, 302)]
    stop = threading.Event()
    threads = [threading.Thread(target=loop, args=(c, make, stop)) for c, make, _ in kinds]
    for thread in threads:
        thread.start()
    try:
        wait_for(
            lambda: all(len(c.successes(ok)) >= 3 for c, _, ok in kinds),
            30,
            "requests to succeed before the crash",
        )
        own_cluster.stop("immediate")
        down_at = time.monotonic()
        time.sleep(DOWN_FOR)
        own_cluster.start()
        up_at = time.monotonic()
        wait_for(
            lambda: all(c.successes(ok, after=up_at) for c, _, ok in kinds),
            RECOVERY_TIMEOUT,
            "every client to succeed again after the restart",
        )
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)

    # Only success or 503, never a 500, a stack trace or a dead front.
    assert {a.status for a in patients.answers} <= {302, 503}, patients.answers[-5:]
    assert {a.status for a in stripe.answers} <= {200, 503}, stripe.answers[-5:]
    assert {a.status for a in bookings.answers} <= {302, 503}, bookings.answers[-5:]
    unavailable = [a for a in patients.answers + bookings.answers if a.status == 503]
    assert [a for a in unavailable if down_at <= a.at <= up_at], "no 503 while it was down"
    for answer in unavailable:
        assert "Carebridge is briefly unavailable" in answer.body
        assert "try again" in answer.body
        assert "Traceback" not in answer.body
        assert "fault-message" not in answer.body
        assert alice.username not in answer.body
    assert any(a.status == 503 for a in stripe.answers)  # Stripe retries a 503

    # Every answered request is in the database after the crash.
    with on_server(served.url):
        bodies = {m.body for m in Message.objects.all()}
        events = set(WebhookEvent.objects.values_list("event_id", flat=True))
        booked = {
            a.starts_at.isoformat()
            for a in Appointment.objects.filter(patient=alice.patient, status="booked")
        }
    assert set(patients.successes(302)) <= bodies
    assert set(stripe.successes(200)) <= events
    assert set(bookings.successes(302)) <= booked
    assert len(patients.successes(302)) >= 4

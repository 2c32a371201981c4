"""Bill pay's fixtures: a statement of alice's, Stripe settings, a signed-webhook helper,
a real localstripe server (PaymentIntents, refunds, customers, SetupIntents), and a
recorder standing in for api.stripe.com where localstripe has nothing (Checkout Sessions).
"""

import contextlib
import hashlib
import hmac
import json
import socket
import subprocess
import sys
import threading
import time
import uuid
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl

import pytest
from django.utils import timezone

from billing.services import ItemInput, statement_issue
from patients.models import PatientDemographics, ProxyGrant

ROOT = Path(__file__).resolve().parents[2]
LOCALSTRIPE_PYTHON = ROOT / "var/localstripe/venv/bin/python"
WEBHOOK_SECRET = "whsec_test_carebridge"
# Clinical words the line items carry: none may reach Stripe.
CLINICAL = ("MRI", "knee", "73721", "M17.11", "Physiotherapy")


@pytest.fixture
def stripe_on(settings):
    settings.STRIPE_SECRET_KEY = "sk_test_carebridge"
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.BILLING_MIN_PAYMENT = 500
    return settings


@pytest.fixture
def alice_mrn(alice):
    PatientDemographics.objects.create(
        patient=alice.patient, given_name="Alice", family_name="Liddell", mrn="MRN-1"
    )
    return "MRN-1"


def items() -> list[ItemInput]:
    return [
        ItemInput(
            service_date=date(2026, 10, 2),
            description="MRI knee without contrast (CPT 73721), M17.11",
            charge=120_000,
            insurance_paid=90_000,
            adjustment=10_000,
            patient_responsibility=20_000,
        ),
        ItemInput(
            service_date=date(2026, 10, 9),
            description="Physiotherapy session",
            charge=15_000,
            insurance_paid=10_000,
            adjustment=0,
            patient_responsibility=5_000,
        ),
    ]


@pytest.fixture
def statement(alice, bill):
    """Alice's issued statement: 250.00 USD to pay."""
    return statement_issue(
        actor=bill,
        patient_id=alice.patient_id,
        number=f"S-{uuid.uuid4().hex[:8]}",
        due_on=date(2026, 12, 31),
        items=items(),
        currency="usd",
    )


@pytest.fixture
def grant_to_greta(alice, greta):
    def grant(*, scope=ProxyGrant.Scope.FULL, guarantor=False):
        today = timezone.localdate()
        return ProxyGrant.objects.create(
            patient=alice.patient,
            proxy=greta,
            kind=ProxyGrant.Kind.CAREGIVER,
            relationship=ProxyGrant.Relationship.SPOUSE,
            scope=scope,
            guarantor=guarantor,
            starts_on=today - timedelta(days=1),
            ends_on=today + timedelta(days=365),
            accepted_at=timezone.now(),
        )

    return grant


def signature(payload: bytes, *, secret: str = WEBHOOK_SECRET, at: int | None = None) -> str:
    """A Stripe-Signature header, computed as Stripe does (HMAC-SHA256 of "t.payload")."""
    stamp = int(time.time()) if at is None else at
    mac = hmac.new(secret.encode(), f"{stamp}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={stamp},v1={mac}"


def event(kind: str, obj: dict, *, event_id: str | None = None) -> bytes:
    return json.dumps(
        {
            "id": event_id or f"evt_{uuid.uuid4().hex}",
            "object": "event",
            "type": kind,
            "api_version": "2026-10-28",
            "created": int(time.time()),
            "data": {"object": obj},
        }
    ).encode()


@pytest.fixture
def deliver(client):
    """POST a signed event to the webhook, as Stripe does."""

    def send(payload: bytes, header: str | None = None):
        return client.post(
            "/billing/stripe/webhook",
            data=payload,
            content_type="application/json",
            HTTP_STRIPE_SIGNATURE=header if header is not None else signature(payload),
        )

    return send


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def localstripe_running():
    """A real localstripe on 127.0.0.1, with the Checkout Sessions of
    scripts/localstripe_serve.py (its own venv: scripts/localstripe.sh install)."""
    if not LOCALSTRIPE_PYTHON.exists():
        subprocess.run([str(ROOT / "scripts/localstripe.sh"), "install"], check=True)
    port = _free_port()
    process = subprocess.Popen(
        [str(LOCALSTRIPE_PYTHON), str(ROOT / "scripts/localstripe_serve.py"), str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.1)
    else:
        process.kill()
        pytest.fail("localstripe did not start")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="session")
def localstripe_url():
    with localstripe_running() as url:
        yield url


@pytest.fixture
def localstripe(stripe_on, localstripe_url):
    stripe_on.STRIPE_API_BASE = localstripe_url
    return localstripe_url


class Recorder:
    """Stands in for api.stripe.com (the network peer, not our code): records each request
    and answers a Checkout Session as Stripe documents it."""

    def __init__(self) -> None:
        self.requests: list[dict] = []

    def session(self, form: dict) -> dict:
        number = len(self.requests) - 1
        return {
            "id": f"cs_test_{number}",
            "object": "checkout.session",
            "url": f"https://checkout.stripe.test/c/pay/cs_test_{number}",
            "mode": form.get("mode"),
            "amount_total": int(form.get("line_items[0][price_data][unit_amount]", 0)),
        }


@pytest.fixture
def recorder(stripe_on):
    record = Recorder()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
            form = dict(parse_qsl(body))
            record.requests.append(
                {"path": self.path, "form": form, "headers": dict(self.headers), "body": body}
            )
            answer = json.dumps(record.session(form)).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    stripe_on.STRIPE_API_BASE = f"http://127.0.0.1:{server.server_address[1]}"
    yield record
    server.shutdown()
    server.server_close()


__all__ = ["CLINICAL", "event", "items", "signature", "sys"]

"""Bill pay benchmarks: the webhook, and a patient's statement list.

    .venv/bin/python bench/bench_billing.py     # prints one JSON object per figure

On a scratch database (bench/scratch.py: ``carebridge_bench_billing``, fresh keys,
temporary key store, dropped at the end):

- ``billing_webhook_per_s``: 1,000 signed ``payment_intent.succeeded`` events (each a
  new payment on one of 200 statements) and 250 replays of them, POSTed through the
  whole middleware stack to ``/billing/stripe/webhook``: signature check on the raw
  body, the event id's unique insert, the ledger entry and its audit event, the
  receipt job queued. Stripe delivers events concurrently and the server runs
  several workers, so they come from SENDERS threads at once (each its own
  database connection; PostgreSQL overlaps their commits). Events handled per
  second, replays included. Target >= 300.
- ``billing_webhook_one_at_a_time_per_s``: the same with one sender and another
  500 events and 125 replays: the latency of one delivery, as context (no target;
  each event's commit waits for its WAL flush).
- ``billing_statements_p95_ms``: a patient with 200 statements (two encrypted line
  items each) GETs ``/patient/bills/`` (access check, balances summed in SQL, payment
  history, one audit event, the template). 30 requests after 3 warm-up requests.
  Target p95 <= 150 ms.
"""

import gc
import hashlib
import hmac
import json
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_pages import _p95, _signed_in_client  # noqa: E402
from bench.scratch import run_in_scratch  # noqa: E402

BENCH_DB = "carebridge_bench_billing"
STATEMENTS = 200
EVENTS = 1_000
REPLAYS = 250
SENDERS = 4
REQUESTS = 30
WARM_UP = 3
SECRET = "whsec_bench"  # noqa: S105 (the scratch run's throwaway endpoint secret)
TARGET_PER_S = 300
TARGET_MS = 150


def _data():
    from datetime import date

    from accounts.models import User
    from billing.services import ItemInput, statement_issue
    from patients.models import Patient
    from portal.access import Role

    clerk = User.objects.create(username="clerk", email="clerk@bench.invalid", role=Role.BILLING)
    patient = User.objects.create(
        username="pat",
        email="pat@bench.invalid",
        role=Role.PATIENT,
        patient=Patient.objects.create(),
    )
    lines = [
        ItemInput(date(2026, 10, 2), "Office visit", 15_000, 10_000, 1_000, 4_000),
        ItemInput(date(2026, 10, 3), "Lab panel", 6_000, 4_000, 0, 2_000),
    ]
    statements = [
        statement_issue(
            actor=clerk,
            patient_id=patient.patient_id,
            number=f"B-{n}",
            due_on=date(2027, 1, 31),
            items=lines,
        )
        for n in range(STATEMENTS)
    ]
    return patient, statements


def _signed(payload: bytes) -> str:
    stamp = int(time.time())
    mac = hmac.new(SECRET.encode(), f"{stamp}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={stamp},v1={mac}"


def _event(statement_id: str, n: int) -> bytes:
    intent = {
        "id": f"pi_bench_{n}",
        "object": "payment_intent",
        "amount": 100,
        "amount_received": 100,
        "currency": "usd",
        "status": "succeeded",
        "metadata": {"statement_id": statement_id},
    }
    return json.dumps(
        {
            "id": f"evt_bench_{n}",
            "object": "event",
            "type": "payment_intent.succeeded",
            "created": int(time.time()),
            "data": {"object": intent},
        }
    ).encode()


def bench() -> list[dict]:
    from django.conf import settings
    from django.db import connection
    from django.test import Client

    settings.STRIPE_WEBHOOK_SECRET = SECRET
    patient, statements = _data()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")

    def batch(first: int, count: int, replays: int) -> list[bytes]:
        fresh = [_event(str(statements[n % STATEMENTS].pk), n) for n in range(first, first + count)]
        return fresh + fresh[:replays]

    def deliver(payloads: list[bytes]) -> None:
        from django.db import connections

        stripe = Client(HTTP_HOST="localhost")
        try:
            for payload in payloads:
                response = stripe.post(
                    "/billing/stripe/webhook",
                    data=payload,
                    content_type="application/json",
                    HTTP_STRIPE_SIGNATURE=_signed(payload),
                    secure=True,
                )
                if response.status_code != 200:
                    raise RuntimeError(f"webhook answered {response.status_code}")
        finally:
            if threading.current_thread() is not threading.main_thread():
                connections.close_all()

    gc.freeze()
    alone = batch(100_000, EVENTS // 2, REPLAYS // 2)
    start = time.perf_counter()
    deliver(alone)
    one_at_a_time = len(alone) / (time.perf_counter() - start)

    payloads = batch(0, EVENTS, REPLAYS)
    shares = [payloads[k::SENDERS] for k in range(SENDERS)]
    failures: list[BaseException] = []

    def sender(share: list[bytes]) -> None:
        try:
            deliver(share)
        except BaseException as exc:  # reported below, after every sender has finished
            failures.append(exc)

    threads = [threading.Thread(target=sender, args=(share,)) for share in shares]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    per_s = len(payloads) / (time.perf_counter() - start)
    if failures:
        raise failures[0]

    client = _signed_in_client(patient)
    samples = []
    for n in range(WARM_UP + REQUESTS):
        began = time.perf_counter_ns()
        response = client.get("/patient/bills/", secure=True)
        if response.status_code != 200:
            raise RuntimeError(f"/patient/bills/ answered {response.status_code}")
        if n >= WARM_UP:
            samples.append((time.perf_counter_ns() - began) / 1e6)
    return [
        {
            "name": "billing_webhook_per_s",
            "value": round(per_s, 1),
            "unit": "events/s",
            "target": f">= {TARGET_PER_S}",
            "baseline": None,
        },
        {
            "name": "billing_webhook_one_at_a_time_per_s",
            "value": round(one_at_a_time, 1),
            "unit": "events/s",
            "target": None,
            "baseline": None,
        },
        {
            "name": "billing_statements_p95_ms",
            "value": round(_p95(samples), 1),
            "unit": "ms",
            "target": f"<= {TARGET_MS}",
            "baseline": None,
        },
    ]


def run() -> list[dict]:
    return run_in_scratch(BENCH_DB, bench)


if __name__ == "__main__":
    for figure in run():
        print(json.dumps(figure))

"""Messaging benchmarks: a pool inbox, a long thread, sanitising large attachments.

    .venv/bin/python bench/bench_messaging.py     # prints one JSON object per figure

On a scratch database (bench/scratch.py: ``carebridge_bench_messaging``, fresh keys,
temporary key store, dropped at the end):

- ``messaging_inbox_p95_ms``: 10,000 threads across 500 patients (one message each,
  subjects and bodies encrypted under each patient's key), all on one care team; a
  signed-in, 2FA-verified physician GETs ``/staff/messages/`` (every middleware, the
  scope query with unread counts, key unwrapping for the page's patients, decrypting
  the shown subjects, the audit event, the template). Target p95 <= 150 ms.
- ``messaging_thread_p95_ms``: one thread of 200 messages, GET
  ``/staff/messages/<id>/`` (200 bodies decrypted, receipts, one audit event).
  Target p95 <= 150 ms.
- ``messaging_attachment_s``: messaging.files.sanitise() of a 6 MB JPEG (noise, so
  it does not compress) and of a 6 MB PDF (pages carrying a noise image); the
  slower of the two. Target <= 1 s each.

30 requests after 3 warm-up requests, then ``gc.freeze()`` as gunicorn does. The
tables are ANALYZEd after loading, as autovacuum would.
"""

import gc
import io
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_pages import _p95, _signed_in_client  # noqa: E402
from bench.scratch import run_in_scratch  # noqa: E402

BENCH_DB = "carebridge_bench_messaging"
PATIENTS = 500
THREADS = 10_000
THREAD_MESSAGES = 200
REQUESTS = 30
WARM_UP = 3
TARGET_MS = 150
TARGET_S = 1.0
SIX_MB = 6 * 1024 * 1024


def _timed(client, url: str) -> float:
    start = time.perf_counter_ns()
    response = client.get(url, secure=True)
    elapsed = time.perf_counter_ns() - start
    if response.status_code != 200:
        raise RuntimeError(f"{url} answered {response.status_code}")
    return elapsed / 1e6


def _series(client, url: str) -> list[float]:
    samples = []
    for n in range(WARM_UP + REQUESTS):
        if n == WARM_UP:
            gc.freeze()
        ms = _timed(client, url)
        if n >= WARM_UP:
            samples.append(ms)
    return samples


def _data():
    from django.utils import timezone

    from accounts.models import User
    from messaging.models import Message, Pool, Thread, Topic
    from patients.models import CareTeam, Patient
    from portal.crypto.scope import key_scope

    clinician = User.objects.create_user(
        username="bench-carol", email="carol@example.org", role="physician"
    )
    team = CareTeam.objects.create(name="Bench ward")
    team.members.add(clinician)
    patients = Patient.objects.bulk_create(Patient() for _ in range(PATIENTS))
    team.patients.add(*patients)
    users = User.objects.bulk_create(
        User(username=f"p{n}", email=f"p{n}@example.org", role="patient", patient=p)
        for n, p in enumerate(patients)
    )
    now = timezone.now()
    with key_scope():
        threads, messages = [], []
        for n in range(THREADS):
            patient, user = patients[n % PATIENTS], users[n % PATIENTS]
            at = now - timezone.timedelta(minutes=n)
            thread = Thread(
                patient=patient,
                topic=Topic.MEDICAL,
                pool=Pool.CLINICAL,
                subject=f"Question number {n} about my treatment",
                created_at=at,
                last_message_at=at,
                awaiting_staff_since=at,
            )
            threads.append(thread)
            messages.append(
                Message(
                    thread=thread,
                    patient=patient,
                    author=user,
                    from_patient=True,
                    body="A question a patient asks, a few sentences long. " * 5,
                    created_at=at,
                )
            )
        Thread.objects.bulk_create(threads, batch_size=1000)
        Message.objects.bulk_create(messages, batch_size=1000)
        long = threads[0]
        Message.objects.bulk_create(
            [
                Message(
                    thread=long,
                    patient=long.patient,
                    author=clinician if n % 2 else users[0],
                    from_patient=not n % 2,
                    body=f"Message {n} of a long conversation. " * 8,
                    created_at=now - timezone.timedelta(seconds=THREAD_MESSAGES - n),
                )
                for n in range(THREAD_MESSAGES - 1)
            ]
        )
    return clinician, long


def _big_jpeg() -> bytes:
    from PIL import Image

    side = 1600
    while True:
        image = Image.frombytes("RGB", (side, side), os.urandom(side * side * 3))
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=92)
        if buffer.tell() >= SIX_MB:
            return buffer.getvalue()
        side += 200


def _big_pdf() -> bytes:
    from fpdf import FPDF
    from PIL import Image

    pages = 8
    while True:
        pdf = FPDF()
        for _ in range(pages):
            pdf.add_page()
            noise = Image.frombytes("RGB", (400, 400), os.urandom(400 * 400 * 3))
            pdf.image(noise, x=10, y=10, w=150)
        data = bytes(pdf.output())
        if len(data) >= SIX_MB:
            return data
        pages += 4


def bench() -> list[dict]:
    from django.db import connection

    from messaging.files import sanitise

    clinician, long = _data()
    with connection.cursor() as cursor:
        # What autovacuum does soon after a bulk load: without statistics the planner
        # takes the freshly filled tables for empty ones (a ~500 ms plan, not ~20 ms).
        cursor.execute("ANALYZE")
    client = _signed_in_client(clinician)
    inbox = _series(client, "/staff/messages/")
    thread = _series(client, f"/staff/messages/{long.pk}/")
    jpeg, pdf = _big_jpeg(), _big_pdf()
    timings = {}
    for name, data in (("jpeg", jpeg), ("pdf", pdf)):
        start = time.perf_counter()
        sanitise(f"big.{name}", data)
        timings[name] = time.perf_counter() - start
    return [
        {
            "name": "messaging_inbox_p95_ms",
            "value": round(_p95(inbox), 1),
            "unit": "ms",
            "target": f"<= {TARGET_MS}",
            "baseline": None,
        },
        {
            "name": "messaging_thread_p95_ms",
            "value": round(_p95(thread), 1),
            "unit": "ms",
            "target": f"<= {TARGET_MS}",
            "baseline": None,
        },
        {
            "name": "messaging_attachment_s",
            "value": round(max(timings.values()), 2),
            "unit": "s",
            "target": f"<= {TARGET_S}",
            "baseline": None,
        },
        *(
            {
                "name": f"messaging_attachment_{kind}_s",
                "value": round(seconds, 2),
                "unit": "s",
                "target": None,
                "baseline": None,
            }
            for kind, seconds in timings.items()
        ),
    ]


def run() -> list[dict]:
    return run_in_scratch(BENCH_DB, bench)


if __name__ == "__main__":
    for figure in run():
        print(json.dumps(figure))

"""Lab results page benchmark: one patient's 500 results, served through the whole stack.

    .venv/bin/python bench/bench_pages.py         # prints one JSON object per figure

On a scratch database (bench/scratch.py: ``carebridge_bench_pages`` next to
the dev database, fresh keys, temporary key store, dropped at the end). The
patient's 500 lab Observations (10 tests x 50 dates) are stored with
``ingest()``; a signed-in, 2FA-verified patient then GETs
``/patient/records/labs/`` through Django's test client, so every middleware,
the policy check, the query, key unwrapping, 1,000 field decryptions (display
of each row), sorting, the audit event and the template are in the time.
Median and p95 over 30 requests after 3 warm-up requests (then ``gc.freeze()``,
as gunicorn.conf.py does in each worker once the app is loaded).
"""

import gc
import json
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.scratch import run_in_scratch  # noqa: E402

BENCH_DB = "carebridge_bench_pages"
RESULTS = 500
TESTS = 10
REQUESTS = 30
WARM_UP = 3
TARGET_MS = 150


def _resources(patient_fhir_id: str) -> list[dict]:
    from tests.records.builders import lab

    return [
        lab(
            f"obs-{n}",
            patient=patient_fhir_id,
            value=Decimal(f"{4 + (n % 40) / 10:.2f}"),
            on=f"20{10 + n // 120:02d}-{1 + n % 12:02d}-{1 + n % 28:02d}T08:00:00+00:00",
            test=(f"{1000 + n % TESTS}-{n % TESTS}", f"Test number {n % TESTS}", "mmol/L"),
            interpretation="H" if n % 7 == 0 else None,
        )
        for n in range(RESULTS)
    ]


def _signed_in_client(user):
    """A test client whose session passed both factors (as after a real sign-in)."""
    from django.test import Client
    from django_otp.plugins.otp_static.models import StaticDevice

    device = StaticDevice.objects.create(user=user, name="bench", confirmed=True)
    client = Client(HTTP_HOST="localhost")
    client.force_login(user)
    session = client.session
    session["otp_device_id"] = device.persistent_id
    session.save()
    return client


def bench() -> list[dict]:
    from accounts.models import User
    from patients.models import Patient
    from records.ingest import ingest

    patient = Patient.objects.create(fhir_id="bench-patient-1")
    user = User.objects.create_user(
        username="bench-patient", email="bench@example.org", role="patient", patient=patient
    )
    report = ingest(
        patient=patient,
        resource_type="Observation",
        resources=iter(_resources(patient.fhir_id)),
        requested_patient_fhir_id=patient.fhir_id,
    )
    if report.stored != RESULTS:
        raise RuntimeError(report)
    client = _signed_in_client(user)
    samples = []
    for n in range(WARM_UP + REQUESTS):
        if n == WARM_UP:
            gc.freeze()  # as gunicorn.conf.py does once a worker has loaded the app
        start = time.perf_counter_ns()
        response = client.get("/patient/records/labs/", secure=True)
        elapsed = time.perf_counter_ns() - start
        body = response.content.decode()
        table = body.split('<table class="results">', 1)[-1]
        rows = table.split("<tbody>", 1)[-1].split("</tbody>", 1)[0].count("<tr")
        if response.status_code != 200 or rows != RESULTS:
            raise RuntimeError(f"lab page answered {response.status_code} with {rows} rows")
        if n >= WARM_UP:
            samples.append(elapsed / 1e6)
    samples.sort()
    p95 = samples[min(len(samples) - 1, round(0.95 * len(samples)) - 1)]
    return [
        {
            "name": "lab_page_500_results_median_ms",
            "value": round(statistics.median(samples), 1),
            "unit": "ms",
            "target": f"<= {TARGET_MS}",
            "baseline": None,
        },
        {
            "name": "lab_page_500_results_p95_ms",
            "value": round(p95, 1),
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

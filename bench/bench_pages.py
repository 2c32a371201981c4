"""Lab results page benchmark: one patient's 500 results, served through the whole stack.

    .venv/bin/python bench/bench_pages.py         # prints one JSON object per figure

Same set-up as bench_crypto.py (database ``carebridge_bench_pages`` next to
the dev database, fresh keys, temporary key store, dropped at the end). The
patient's 500 lab Observations (10 tests x 50 dates) are stored with
``ingest()``; a signed-in, 2FA-verified patient then GETs
``/patient/records/labs/`` through Django's test client, so every middleware,
the policy check, the query, key unwrapping, 1,000 field decryptions (display
of each row), sorting, the audit event and the template are in the time.
Median and p95 over 30 requests after 3 warm-up requests.
"""

import json
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import bench_crypto  # noqa: E402  (its Django and key set-up)

from bench.scratch import admin, dev_url  # noqa: E402

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
    from records.ingest import ingest
    from records.models import Patient

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
            "target": None,
            "baseline": None,
        },
    ]


def run() -> list[dict]:
    import shutil

    url = dev_url()
    key_store = tempfile.mkdtemp(prefix="carebridge-bench-keys-")
    admin(url, f"DROP DATABASE IF EXISTS {BENCH_DB}")
    admin(url, f"CREATE DATABASE {BENCH_DB}")
    bench_crypto.BENCH_DB = BENCH_DB  # _django() points Django at this database
    try:
        bench_crypto._django(url, key_store)
        from django.core.management import call_command
        from django.db import connections

        call_command("migrate", verbosity=0)
        results = bench()
        connections.close_all()
    finally:
        admin(url, f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")
        shutil.rmtree(key_store, ignore_errors=True)
    return results


if __name__ == "__main__":
    for figure in run():
        print(json.dumps(figure))

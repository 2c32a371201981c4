"""Portal-side FHIR ingest benchmark (validate, map, encrypt, upsert) on a scratch database.

    .venv/bin/python bench/bench_ingest.py         # prints one JSON object per figure

Same set-up as bench_crypto.py (database ``carebridge_bench_ingest`` next to
the dev database, fresh keys, temporary key store, dropped at the end). One
patient's 2,000 lab Observations, pre-fetched, are ingested in pages of 100
(one ``ingest()`` call per page, as the sync will do per search page). The
baseline is the parse-only rate of fhir.resources (R4B ``model_validate``) on
the same resources in the same run.
"""

import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import bench_crypto  # noqa: E402  (its Django and key set-up)

from bench.scratch import admin, dev_url  # noqa: E402

BENCH_DB = "carebridge_bench_ingest"
RESOURCES = 2000
PAGE = 100
TARGET_RATE = 1500
TARGET_RATIO = 0.3


def _resources(patient_fhir_id: str) -> list[dict]:
    from tests.records.resources import lab

    return [
        lab(
            f"obs-{n}",
            patient=patient_fhir_id,
            updated=f"2026-{1 + n % 12:02d}-{1 + n % 28:02d}T09:30:00+00:00",
            value=round(4 + (n % 40) / 10, 1),
        )
        for n in range(RESOURCES)
    ]


def bench() -> list[dict]:
    from fhir.resources.R4B.observation import Observation

    from records.ingest import ingest
    from records.models import Patient

    patient = Patient.objects.create(fhir_id="bench-patient-1")
    resources = _resources(patient.fhir_id)

    start = time.perf_counter()
    for resource in resources:
        Observation.model_validate(resource)
    parse_rate = RESOURCES / (time.perf_counter() - start)

    start = time.perf_counter()
    for page in range(0, RESOURCES, PAGE):
        report = ingest(
            patient=patient,
            resource_type="Observation",
            resources=iter(resources[page : page + PAGE]),
            requested_patient_fhir_id=patient.fhir_id,
        )
        if report.stored != PAGE:
            raise RuntimeError(report)
    ingest_rate = RESOURCES / (time.perf_counter() - start)

    parse = round(parse_rate)
    return [
        {
            "name": "ingest_resources_per_s",
            "value": round(ingest_rate),
            "unit": "/s",
            "target": f">= {TARGET_RATE} and >= {TARGET_RATIO} x baseline",
            "baseline": parse,
        },
        {
            "name": "ingest_vs_parse_only",
            "value": round(ingest_rate / parse_rate, 2),
            "unit": "x",
            "target": f">= {TARGET_RATIO}",
            "baseline": parse,
        },
        {
            "name": "ingest_parse_only_per_s",
            "value": parse,
            "unit": "/s",
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

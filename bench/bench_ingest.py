"""Portal-side FHIR ingest benchmark (validate, map, encrypt, upsert) on a scratch database.

    .venv/bin/python bench/bench_ingest.py         # prints one JSON object per figure

On a scratch database (bench/scratch.py: ``carebridge_bench_ingest`` next to
the dev database, fresh keys, temporary key store, dropped at the end). One
patient's 2,000 lab Observations, pre-fetched, go through one ``ingest()``
call in batches of 100, as ``records.sync`` hands it one search's pages. The
baseline is the parse-only rate of fhir.resources (R4B ``model_validate``) on
the same resources in the same run.
"""

import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.scratch import run_in_scratch  # noqa: E402

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
    report = ingest(
        patient=patient,
        resource_type="Observation",
        resources=iter(resources),
        requested_patient_fhir_id=patient.fhir_id,
        batch_size=PAGE,
    )
    if report.stored != RESOURCES:
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
    return run_in_scratch(BENCH_DB, bench)


if __name__ == "__main__":
    for figure in run():
        print(json.dumps(figure))

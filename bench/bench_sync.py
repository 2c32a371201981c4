"""End-to-end sync benchmark: one patient with 2,000 resources from a real FHIR server.

    .venv/bin/python bench/bench_sync.py           # prints one JSON object per figure

The server is sekmet (the demo EHR, from var/ehr/venv) on a free loopback port
over TLS, started the way the tests start it (tests/ehr_fixtures.py), loaded
with one patient's 2,000 resources of the synced types. The portal side is the
real sync (`records.sync.sync_patient`: SMART token, paged searches of 100,
validation, encryption, upserts, audit) into a scratch database, as in
bench_ingest.py. Reported: the first (full) sync, its share spent waiting on
the server (request sent until the whole response read, summed over requests),
and the second, incremental sync with nothing changed.
"""

import json
import secrets
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.scratch import run_in_scratch  # noqa: E402

BENCH_DB = "carebridge_bench_sync"
PATIENT = "bench-sync-patient"
# 2,000 resources, shaped like a long-standing patient's chart.
MIX = {
    "Observation": 1400,
    "Encounter": 200,
    "DocumentReference": 200,
    "Condition": 80,
    "MedicationRequest": 60,
    "AllergyIntolerance": 20,
    "Immunization": 40,
}


def _chart() -> list[dict]:
    from tests.records import resources as r

    build = {
        "Observation": lambda n: r.lab(
            f"b-obs-{n}", patient=PATIENT, updated=f"2026-{1 + n % 12:02d}-01T09:30:00+00:00"
        ),
        "Encounter": lambda n: r.encounter(f"b-enc-{n}", patient=PATIENT),
        "DocumentReference": lambda n: r.visit_note(
            f"b-note-{n}", patient=PATIENT, encounter_id=f"b-enc-{n}"
        ),
        "Condition": lambda n: r.condition(f"b-cond-{n}", patient=PATIENT),
        "MedicationRequest": lambda n: _medication(n),
        "AllergyIntolerance": lambda n: r.allergy(f"b-alg-{n}", patient=PATIENT),
        "Immunization": lambda n: r.immunization(f"b-imm-{n}", patient=PATIENT),
    }
    return [build[t](n) for t, count in MIX.items() for n in range(count)]


def _medication(n: int) -> dict:
    return {
        "resourceType": "MedicationRequest",
        "id": f"b-med-{n}",
        "status": "active",
        "intent": "order",
        "medicationCodeableConcept": {"text": "Metformin 500 mg tablet"},
        "subject": {"reference": f"Patient/{PATIENT}"},
        "authoredOn": "2026-03-01",
        "dosageInstruction": [{"text": "1 tablet twice a day with meals"}],
    }


class _Timed:
    """Wraps FhirClient._attempt: the time spent waiting on the server."""

    def __init__(self, client) -> None:
        self.seconds = 0.0
        self.requests = 0
        attempt = client._attempt

        def timed(*args, **kwargs):  # (url, method, content) since the client also writes
            start = time.perf_counter()
            try:
                return attempt(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - start
                self.requests += 1

        client._attempt = timed


def bench() -> list[dict]:
    folder = Path(tempfile.mkdtemp(prefix="carebridge-bench-ehr-"))
    try:
        return _bench(folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _bench(folder: Path) -> list[dict]:
    # A throwaway client key for a throwaway server, as the tests make one.
    from cryptography.hazmat.primitives.asymmetric import ec  # noqa: TID251

    from ehr import config as ehr_config
    from ehr.seed import FhirWriter
    from patients.models import Patient
    from portal.fhir import FhirClient, FhirConfig, SmartConfig
    from records.models import FhirRecord
    from records.sync import sync_patient
    from tests import ehr_fixtures as fx

    cert_file, key_file = fx.make_tls_files(folder)
    client_key = ec.generate_private_key(ec.SECP384R1())
    fx.write_private_key(folder / "client_key.pem", client_key)
    jwk = fx.public_jwk(client_key)
    port = fx.free_port()
    loader_token = secrets.token_urlsafe(24)
    settings = ehr_config.sekmet_settings(
        port=port,
        data_dir=folder / "data",
        certfile=cert_file,
        keyfile=key_file,
        client_jwks={"keys": [jwk]},
        loader_token=loader_token,
    )
    process = fx.start_sekmet(folder, settings)
    try:
        writer = FhirWriter(ehr_config.base_url(port), ca_bundle=cert_file, token=loader_token)
        writer.wait_until_up(60, pid=process.pid)
        chart = _chart()
        writer.put_all([{"resourceType": "Patient", "id": PATIENT, "active": True}])
        for start in range(0, len(chart), 500):
            writer.put_all(chart[start : start + 500])

        patient = Patient.objects.create(fhir_id=PATIENT)
        smart = SmartConfig(
            client_id=ehr_config.PORTAL_CLIENT_ID,
            private_key_file=folder / "client_key.pem",
            key_id=jwk["kid"],
            scope=ehr_config.PORTAL_SCOPE,
        )
        config = FhirConfig(base_url=ehr_config.base_url(port), ca_bundle=str(cert_file))
        figures = []
        for label in ("full", "incremental"):
            with FhirClient(config, smart=smart) as client:
                timed = _Timed(client)
                start = time.perf_counter()
                result = sync_patient(patient=patient, client=client)
                elapsed = time.perf_counter() - start
            if not result.ok:
                raise RuntimeError(result.failed)
            stored = FhirRecord.objects.filter(patient=patient).count()
            if stored != len(chart):
                raise RuntimeError(f"stored {stored} of {len(chart)}")
            figures.append((label, elapsed, timed))
    finally:
        fx.stop_sekmet(process)

    (_, full, full_timed), (_, incremental, incremental_timed) = figures
    return [
        {
            "name": "sync_2000_resources_s",
            "value": round(full, 2),
            "unit": "s",
            "target": None,
            "baseline": None,
        },
        {
            "name": "sync_2000_resources_per_s",
            "value": round(len(chart) / full),
            "unit": "/s",
            "target": None,
            "baseline": None,
        },
        {
            "name": "sync_2000_server_share",
            "value": round(full_timed.seconds / full, 2),
            "unit": f"of the time ({full_timed.requests} requests)",
            "target": None,
            "baseline": None,
        },
        {
            "name": "sync_incremental_nothing_new_s",
            "value": round(incremental, 2),
            "unit": "s",
            "target": None,
            "baseline": None,
        },
        {
            "name": "sync_incremental_server_share",
            "value": round(incremental_timed.seconds / incremental, 2),
            "unit": f"of the time ({incremental_timed.requests} requests)",
            "target": None,
            "baseline": None,
        },
    ]


def run() -> list[dict]:
    return run_in_scratch(BENCH_DB, bench)


if __name__ == "__main__":
    for figure in run():
        print(json.dumps(figure))

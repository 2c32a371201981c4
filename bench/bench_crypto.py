"""PHI decryption benchmark on the real PostgreSQL, in a scratch database.

    .venv/bin/python bench/bench_crypto.py         # prints one JSON object per figure

The database ``carebridge_bench_crypto`` is created next to the dev database
(same server and role, from DATABASE_URL / DATABASE_URL_FILE / var/database_url),
migrated, and dropped at the end; keys are fresh and the key store is a
temporary directory, so nothing under var/ is touched. Two pages of 200
encrypted fields, loaded from PostgreSQL, each timed over many repetitions
(median), with the query, the key unwrapping and the decryption timed apart:

- page: one patient's chart, 50 rows x 4 text fields (one data key);
- list: a staff list of 50 patients' demographics x 4 fields (50 data keys,
  fetched with one query by ``preload_keys``).

The baseline is raw AES-256-GCM decryption of the same 200 ciphertexts, with
the same associated data and ready-made key objects, in the same run.
"""

import json
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.scratch import run_in_scratch  # noqa: E402

BENCH_DB = "carebridge_bench_crypto"
ROWS = 50
FIELDS = ("code", "value", "unit", "note")
LIST_FIELDS = ("given_name", "family_name", "birth_date", "mrn")
REPEAT = 300
TARGET_MS = 5.0
TARGET_RATIO = 3.0


def _chart_model() -> Any:
    """A chart-entry model (lab results: four encrypted texts per row), bench only."""
    from django.db import connection, models

    from portal.crypto.fields import EncryptedTextField
    from portal.crypto.models import PHIModel

    attrs: dict[str, Any] = {f: EncryptedTextField() for f in FIELDS}
    attrs["patient"] = models.ForeignKey("patients.Patient", on_delete=models.PROTECT)
    attrs["Meta"] = type("Meta", (), {"app_label": "portal", "db_table": "bench_chart_entry"})
    attrs["__module__"] = "bench"
    model = type("BenchChartEntry", (PHIModel,), attrs)
    with connection.schema_editor() as editor:
        editor.create_model(model)
    return model


def _median_ms(samples: list[int]) -> float:
    return round(statistics.median(samples) / 1e6, 3)


def _raw_baseline(blobs: list[tuple[Any, bytes, bytes]]) -> float:
    """Median ms to open the same ciphertexts with AES-GCM directly (key objects ready)."""
    samples = []
    for _ in range(REPEAT):
        start = time.perf_counter_ns()
        for gcm, blob, aad in blobs:
            gcm.decrypt(blob[1:13], blob[13:], aad)
        samples.append(time.perf_counter_ns() - start)
    return _median_ms(samples)


def _measure(
    load: Callable[[], list[Any]], unlock: Callable[[list[Any]], None], fields: tuple[str, ...]
) -> dict[str, float]:
    from portal.crypto.scope import key_scope

    query, keys, decrypt = [], [], []
    for _ in range(REPEAT + 20):
        t0 = time.perf_counter_ns()
        rows = load()
        t1 = time.perf_counter_ns()
        with key_scope():
            unlock(rows)
            t2 = time.perf_counter_ns()
            for row in rows:
                for name in fields:
                    getattr(row, name)
            t3 = time.perf_counter_ns()
        query.append(t1 - t0)
        keys.append(t2 - t1)
        decrypt.append(t3 - t2)
    warm = slice(20, None)
    return {
        "query": _median_ms(query[warm]),
        "keys": _median_ms(keys[warm]),
        "decrypt": _median_ms(decrypt[warm]),
        "total": _median_ms(
            [q + k + d for q, k, d in zip(query[warm], keys[warm], decrypt[warm], strict=True)]
        ),
    }


def _blobs(model: Any, rows: list[Any], fields: tuple[str, ...]) -> list[tuple[Any, bytes, bytes]]:
    """(AES-GCM object, stored ciphertext, associated data) for every field of the page."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # noqa: TID251  (the baseline)

    from portal.crypto import selectors
    from portal.crypto.models import PatientKey, row_id_bytes

    keys: dict[uuid.UUID, Any] = {}
    out = []
    for row in rows:
        patient_id = row.phi_patient_id()
        if patient_id not in keys:
            key = PatientKey.objects.get(pk=patient_id)
            keys[patient_id] = AESGCM(
                selectors.unwrap_key(
                    patient_id=patient_id,
                    kek_version=key.kek_version,
                    wrapped_key=bytes(key.wrapped_key),
                    shredded_at=None,
                )
            )
        for name in fields:
            field = model._meta.get_field(name)
            blob = row.__dict__[field.attname].blob
            out.append((keys[patient_id], blob, field._aad_prefix + row_id_bytes(row.pk)))
    return out


def _figures(prefix: str, timings: dict[str, float], raw: float) -> list[dict]:
    ratio = round(timings["decrypt"] / raw, 2)
    return [
        {
            "name": f"crypto_{prefix}_decrypt",
            "value": timings["decrypt"],
            "unit": "ms",
            "target": f"<= {TARGET_MS:g}",
            "baseline": raw,
        },
        {
            "name": f"crypto_{prefix}_decrypt_vs_raw",
            "value": ratio,
            "unit": "x",
            "target": f"<= {TARGET_RATIO:g}",
            "baseline": raw,
        },
        {
            "name": f"crypto_{prefix}_keys",
            "value": timings["keys"],
            "unit": "ms",
            "target": None,
            "baseline": None,
        },
        {
            "name": f"crypto_{prefix}_query",
            "value": timings["query"],
            "unit": "ms",
            "target": None,
            "baseline": None,
        },
        {
            "name": f"crypto_{prefix}_total",
            "value": timings["total"],
            "unit": "ms",
            "target": None,
            "baseline": None,
        },
    ]


def bench_chart_page() -> list[dict]:
    from patients.models import Patient
    from portal.crypto import selectors

    model = _chart_model()
    patient = Patient.objects.create()
    for n in range(ROWS):
        model(
            patient=patient, code=f"LOINC-{n:05d}", value=f"{n * 1.7:.1f}", unit="mmol/L", note="ok"
        ).save()
    rows = list(model.objects.filter(patient=patient))
    raw = _raw_baseline(_blobs(model, rows, FIELDS))

    def load() -> list[Any]:
        return list(model.objects.filter(patient=patient))

    def unlock(rows: list[Any]) -> None:
        selectors.data_key(patient.pk)

    return _figures("page", _measure(load, unlock, FIELDS), raw)


def bench_staff_list() -> list[dict]:
    from patients.models import Patient, PatientDemographics
    from portal.crypto import selectors

    for n in range(ROWS):
        PatientDemographics(
            patient=Patient.objects.create(),
            given_name=f"Given{n}",
            family_name=f"Family{n}",
            birth_date=date(1950 + n, 1 + n % 12, 1 + n % 28),
            mrn=f"MRN-{n:06d}",
        ).save()
    rows = list(PatientDemographics.objects.all()[:ROWS])
    raw = _raw_baseline(_blobs(PatientDemographics, rows, LIST_FIELDS))

    def load() -> list[Any]:
        return list(PatientDemographics.objects.all()[:ROWS])

    def unlock(rows: list[Any]) -> None:
        selectors.preload_keys(r.patient_id for r in rows)

    timings = _measure(load, unlock, LIST_FIELDS)
    return _figures("list", timings, raw)


def run() -> list[dict]:
    return run_in_scratch(BENCH_DB, lambda: bench_chart_page() + bench_staff_list())


if __name__ == "__main__":
    for figure in run():
        print(json.dumps(figure))

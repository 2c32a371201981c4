"""Backup benchmark: encrypted backup and restore of a database holding 1,000 patients.

    .venv/bin/python bench/bench_backup.py     # prints one JSON object per figure

On a scratch database (bench/scratch.py: ``carebridge_bench_backup``, fresh keys,
temporary key store, dropped at the end), 1,000 patients each with
demographics and 40 lab Observations (encrypted JSON, as ingest stores them),
and one audit event per record (sealed into the chain). Then:

- ``backup_mb_per_s``: ``manage.py backup`` (pg_dump custom format, chunked
  AES-256-GCM, manifest), in MB of the database (``pg_database_size``) per
  second of wall time. Baseline: plain ``pg_dump --format=custom --compress=1``
  of the same database to /dev/null.
- ``restore_mb_per_s``: ``manage.py restore`` of that file into an empty
  database (the full check pass, pg_restore in one transaction, disposals,
  ``verify_audit``), in the same MB per second. Baseline: plain ``pg_restore
  --single-transaction`` of an unencrypted dump of the same database.

Target for both: at least half the plain tool's rate (the price of reading
the file twice on restore, AES-GCM and the chain walk).
"""

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.scratch import admin, dev_url, run_in_scratch  # noqa: E402

BENCH_DB = "carebridge_bench_backup"
RESTORE_DB = "carebridge_bench_backup_restore"
PATIENTS = 1_000
LABS = 40
MB = 1_000_000


def _data() -> None:
    from decimal import Decimal

    from django.db import transaction

    from audit.actions import Action
    from audit.chain import seal_pending
    from audit.services import record
    from patients.models import Patient, PatientDemographics
    from portal.crypto.scope import key_scope
    from records.models import FhirRecord
    from tests.records.resources import lab

    patients = Patient.objects.bulk_create(Patient() for _ in range(PATIENTS))
    with key_scope():
        PatientDemographics.objects.bulk_create(
            PatientDemographics(patient=p, given_name=f"Given{n}", family_name=f"Family{n}")
            for n, p in enumerate(patients)
        )
        for p in patients:
            FhirRecord.objects.bulk_create(
                FhirRecord(
                    patient=p,
                    resource_type="Observation",
                    fhir_id=f"obs-{n}",
                    resource=lab(
                        f"obs-{n}",
                        patient=str(p.pk),
                        updated=f"2026-{1 + n % 12:02d}-{1 + n % 28:02d}T09:30:00+00:00",
                        value=Decimal(f"{4 + (n % 40) / 10:.1f}"),
                    ),
                    display={"code": "Glucose", "value": f"{4 + (n % 40) / 10:.1f}"},
                )
                for n in range(LABS)
            )
            with transaction.atomic():
                for n in range(LABS):
                    record(action=Action.RECORD_VIEW, patient_id=p.pk, object_id=f"obs-{n}")
    seal_pending()


def _pg_env() -> dict[str, str]:
    from portal.backup.database import pg_env

    return pg_env()


def _timed(command: list[str], **kwargs) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, **kwargs)
    return time.perf_counter() - started


def bench() -> list[dict]:
    from django.core.management import call_command
    from django.db import connection

    from portal.backup.database import pg_tool

    _data()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
        cursor.execute("SELECT pg_database_size(current_database())")
        size_mb = cursor.fetchone()[0] / MB
    work = Path(tempfile.mkdtemp(prefix="carebridge-bench-backup-"))
    url = dev_url()
    try:
        plain = work / "plain.dump"
        with plain.open("wb") as out:
            dump_s = _timed(
                [pg_tool("pg_dump"), "--format=custom", "--compress=1"],
                env=_pg_env(),
                stdout=out,
            )
        started = time.perf_counter()
        call_command("backup", str(work / "b.cbbackup"), stdout=open(os.devnull, "w"))  # noqa: SIM115
        backup_s = time.perf_counter() - started

        admin(url, f"DROP DATABASE IF EXISTS {RESTORE_DB}")
        admin(url, f"CREATE DATABASE {RESTORE_DB}")
        plain_restore_s = _timed(
            [
                pg_tool("pg_restore"),
                "--single-transaction",
                "--no-owner",
                "--dbname",
                RESTORE_DB,
                str(plain),
            ],
            env=_pg_env(),
        )
        admin(url, f"DROP DATABASE {RESTORE_DB} WITH (FORCE)")
        admin(url, f"CREATE DATABASE {RESTORE_DB}")
        name = connection.settings_dict["NAME"]
        connection.close()
        connection.settings_dict["NAME"] = RESTORE_DB
        try:
            started = time.perf_counter()
            call_command("restore", str(work / "b.cbbackup"), stdout=open(os.devnull, "w"))  # noqa: SIM115
            restore_s = time.perf_counter() - started
        finally:
            connection.close()
            connection.settings_dict["NAME"] = name
    finally:
        admin(url, f"DROP DATABASE IF EXISTS {RESTORE_DB} WITH (FORCE)")
        for path in work.iterdir():
            path.unlink()
        work.rmdir()
    backup_rate, restore_rate = size_mb / backup_s, size_mb / restore_s
    return [
        {
            "name": "backup_mb_per_s",
            "value": round(backup_rate, 1),
            "unit": f"MB/s ({size_mb:.0f} MB database)",
            "target": ">= 0.5 x baseline",
            "baseline": round(size_mb / dump_s, 1),
        },
        {
            "name": "restore_mb_per_s",
            "value": round(restore_rate, 1),
            "unit": f"MB/s ({size_mb:.0f} MB database)",
            "target": ">= 0.5 x baseline",
            "baseline": round(size_mb / plain_restore_s, 1),
        },
    ]


def run() -> list[dict]:
    return run_in_scratch(BENCH_DB, bench)


if __name__ == "__main__":
    for figure in run():
        print(json.dumps(figure))

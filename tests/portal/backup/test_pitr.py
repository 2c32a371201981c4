"""Point-in-time recovery with pgBackRest, on a throwaway cluster of its own (real processes).

scripts/pg-local.sh builds the cluster exactly as it builds the development one
(WAL archived by pgBackRest), but in a temporary directory on a free port:
the shared cluster is never touched. Rows are written, the time is noted, the
table is dropped "by mistake", and ``pg-local.sh pitr`` goes back to the
noted time: the rows are there again and the audit chain is intact.
"""

import io
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dj_database_url
import pytest
from django.core.management import call_command
from django.db import connection

from audit.actions import Action
from audit.services import checkpoint_create, record
from patients.models import PatientDemographics
from tests.conftest import PatientFactory
from tests.portal.crypto.conftest import execute

ROOT = Path(__file__).resolve().parents[3]
PG_LOCAL = ROOT / "scripts" / "pg-local.sh"

pytestmark = pytest.mark.skipif(
    shutil.which("pgbackrest") is None
    or not (shutil.which("initdb") or list(Path("/usr/lib/postgresql").glob("*/bin/initdb"))),
    reason="PostgreSQL's server or pgbackrest is missing (scripts/system-deps.sh --postgres)",
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def pg_local(var: Path, port: int, *args: str) -> str:
    result = subprocess.run(
        [str(PG_LOCAL), *args],
        env={**os.environ, "PG_LOCAL_VAR": str(var), "PGPORT": str(port)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.fixture
def throwaway_cluster() -> Iterator[tuple[Path, int]]:
    # Under /tmp and traversable: when root runs the tests, the cluster runs as postgres.
    var = Path(tempfile.mkdtemp(prefix="carebridge-pitr-"))
    var.chmod(0o755)
    port = free_port()
    try:
        pg_local(var, port, "start")
        yield var, port
    finally:
        subprocess.run(
            [str(PG_LOCAL), "stop"],
            env={**os.environ, "PG_LOCAL_VAR": str(var)},
            capture_output=True,
            timeout=120,
            check=False,
        )
        shutil.rmtree(var, ignore_errors=True)


@contextmanager
def on_server(url: str) -> Iterator[None]:
    """Django's connection pointed at another server's database for the block."""
    keys = ("HOST", "PORT", "USER", "PASSWORD", "NAME")
    old = {k: connection.settings_dict[k] for k in keys}
    connection.close()
    connection.settings_dict.update({k: dj_database_url.parse(url)[k] for k in keys})
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict.update(old)


def server_now() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT clock_timestamp()::text")
        return str(cursor.fetchone()[0])


def test_it_recovers_dropped_rows_to_a_point_in_time_with_an_intact_audit_chain(
    committed, throwaway_cluster, tmp_path
):
    var, port = throwaway_cluster
    assert "archive-push" in (var / "pgdata" / "carebridge-archive.conf").read_text()
    # The portal's schema, from an (empty) backup of the test database.
    schema = tmp_path / "schema.cbbackup"
    call_command("backup", str(schema), stdout=io.StringIO())
    url = (var / "database_url").read_text().strip()
    with on_server(url):
        call_command("restore", str(schema), stdout=io.StringIO())
    pg_local(var, port, "backup", "incr")
    # pgBackRest keeps a backup's stop time in whole seconds: start the day after it.
    time.sleep(2)

    with on_server(url):
        names = {}
        for n in range(5):
            patient = PatientFactory()
            PatientDemographics.objects.create(
                patient=patient, given_name=f"Patient{n}", family_name="Example"
            )
            record(action=Action.RECORD_VIEW, patient_id=patient.pk, object_type="test")
            names[patient.pk] = f"Patient{n}"
        checkpoint = checkpoint_create()
        assert checkpoint is not None
        noted = server_now()
        time.sleep(1.2)
        execute("DROP TABLE portal_patient_demographics CASCADE")  # the mistake
        record(action=Action.RECORD_VIEW, object_type="after-the-mistake")
        assert server_now() > noted

    output = pg_local(var, port, "pitr", noted)
    assert "Recovered to" in output

    with on_server(url):
        back = {d.patient_id: d.given_name for d in PatientDemographics.objects.all()}
        verdict = io.StringIO()
        call_command("verify_audit", stdout=verdict)
    assert back == names
    assert "Audit chain intact: 5 events verified" in verdict.getvalue()
    assert "1 signed checkpoints reached" in verdict.getvalue()

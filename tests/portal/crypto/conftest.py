"""Keys for the PHI encryption tests: fresh KEKs, a blind-index key and a key store per test.

Nothing here reads var/: each test gets its own key store directory, so a test
that shreds a patient or loses a share cannot disturb any other test or the
development data.
"""

import base64
import os
import secrets
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, connection

from accounts.models import User
from patients.models import PatientDemographics
from portal.crypto.scope import KeyScope, current_scope

PG_DUMP = "/usr/lib/postgresql/15/bin/pg_dump"


def b64(key: bytes) -> str:
    return base64.b64encode(key).decode()


@dataclass
class PhiKeys:
    kek_1: bytes
    kek_2: bytes
    index_key: bytes
    key_store: Path

    def keks(self, *versions: int) -> str:
        keys = {1: self.kek_1, 2: self.kek_2}
        return ",".join(f"{v}:{b64(keys[v])}" for v in versions)


@pytest.fixture(autouse=True)
def phi_keys(settings, tmp_path) -> PhiKeys:
    keys = PhiKeys(
        kek_1=secrets.token_bytes(32),
        kek_2=secrets.token_bytes(32),
        index_key=secrets.token_bytes(32),
        key_store=tmp_path / "keystore",
    )
    settings.PORTAL_KEKS = keys.keks(1)
    settings.PORTAL_BLIND_INDEX_KEY = b64(keys.index_key)
    settings.PORTAL_KEY_STORE_DIR = str(keys.key_store)
    return keys


def demographics_of(user: User, **values) -> PatientDemographics:
    fields = {"given_name": "Given", "family_name": "Family", **values}
    row = PatientDemographics(patient=user.patient, **fields)
    row.full_clean()
    row.save()
    return row


def fresh(row: PatientDemographics) -> PatientDemographics:
    """The row as a new page would load it."""
    return PatientDemographics.objects.get(pk=row.pk)


def raw_column(row: PatientDemographics, column: str) -> bytes:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {column} FROM portal_patient_demographics WHERE id = %s",  # noqa: S608
            [row.pk],
        )
        return bytes(cursor.fetchone()[0])


def execute(sql: str, params=()) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def pg_dump(*args: str) -> str:
    """pg_dump of the test database, as an operator's backup would be taken."""
    db = connection.settings_dict
    env = {**os.environ, "PGPASSWORD": db["PASSWORD"] or ""}
    result = subprocess.run(
        [
            PG_DUMP,
            f"--host={db['HOST'] or '127.0.0.1'}",
            f"--port={db['PORT'] or 5432}",
            f"--username={db['USER']}",
            f"--dbname={db['NAME']}",
            "--no-owner",
            *args,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return result.stdout


@contextmanager
def a_request() -> Iterator[KeyScope]:
    """The signals Django sends around a request, without closing the test's connection."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        request_started.send(sender=None, environ={})
        scope = current_scope()
        assert scope is not None
        yield scope
    finally:
        request_finished.send(sender=None)
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)

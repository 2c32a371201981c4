"""Backups: fresh keys per test, and a scratch database on the test server to restore into."""

import base64
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from django.db import connection


def b64(key: bytes) -> str:
    return base64.b64encode(key).decode()


@dataclass
class Keys:
    keks: str
    index_key: str
    backup_key: str
    key_store: Path


@pytest.fixture(autouse=True)
def keys(settings, tmp_path) -> Keys:
    found = Keys(
        keks=f"1:{b64(secrets.token_bytes(32))}",
        index_key=b64(secrets.token_bytes(32)),
        backup_key=b64(secrets.token_bytes(32)),
        key_store=tmp_path / "keystore",
    )
    settings.PORTAL_KEKS = found.keks
    settings.PORTAL_BLIND_INDEX_KEY = found.index_key
    settings.PORTAL_BACKUP_KEY = found.backup_key
    settings.PORTAL_KEY_STORE_DIR = str(found.key_store)
    return found


def _admin(sql: str) -> None:
    db = connection.settings_dict
    with psycopg.connect(
        host=db["HOST"] or "127.0.0.1",
        port=db["PORT"] or 5432,
        user=db["USER"],
        password=db["PASSWORD"],
        dbname="postgres",
        autocommit=True,
    ) as admin:
        admin.execute(sql)


@pytest.fixture
def empty_database() -> Iterator[str]:
    """A new, empty database beside the test database; dropped after the test."""
    name = f"{connection.settings_dict['NAME']}_restore"
    _admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    _admin(f"CREATE DATABASE {name}")
    yield name
    _admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@contextmanager
def on_database(name: str) -> Iterator[None]:
    """Point Django's connection at database ``name`` for the block, as a restore's
    operator does with DATABASE_URL (the test must not be inside a transaction)."""
    conn = connection
    old = conn.settings_dict["NAME"]
    conn.close()
    conn.settings_dict["NAME"] = name
    try:
        yield
    finally:
        conn.close()
        conn.settings_dict["NAME"] = old


def table_count() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
        return int(cursor.fetchone()[0])

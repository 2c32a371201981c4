"""A scratch PostgreSQL database for one benchmark, on the cluster `make` runs."""

import os
import shutil
import tempfile
from base64 import b64encode
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent


def dev_url() -> str:
    """The development database's URL (DATABASE_URL, or the file make writes)."""
    if url := os.environ.get("DATABASE_URL"):
        return url
    path = os.environ.get("DATABASE_URL_FILE") or str(ROOT / "var" / "database_url")
    return Path(path).read_text().strip()


def with_db(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def admin(url: str, sql: str) -> None:
    """Run a statement such as CREATE/DROP DATABASE from the maintenance database."""
    import psycopg

    with psycopg.connect(with_db(url, "postgres"), autocommit=True) as conn:
        conn.execute(sql)


def django_setup(url: str, name: str, key_store: str) -> None:
    """Point Django at database ``name`` with fresh PHI keys and a temporary key store."""
    os.environ.setdefault("PORTAL_ENV", "development")
    os.environ.setdefault("PORTAL_VAR_DIR", str(ROOT / "var"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    os.environ["DATABASE_URL"] = with_db(url, name)
    os.environ["PORTAL_KEKS"] = f"1:{b64encode(os.urandom(32)).decode()}"
    os.environ["PORTAL_BLIND_INDEX_KEY"] = b64encode(os.urandom(32)).decode()
    os.environ["PORTAL_BACKUP_KEY"] = b64encode(os.urandom(32)).decode()
    os.environ["PORTAL_KEY_STORE_DIR"] = key_store
    import django

    django.setup()


def run_in_scratch(name: str, bench: Callable[[], list[dict]]) -> list[dict]:
    """Run ``bench`` against a new, migrated database ``name`` next to the dev database.

    Same server and role as the dev database; keys are fresh and the key store a
    temporary directory, so nothing under var/ is touched; all is dropped after.
    """
    url = dev_url()
    key_store = tempfile.mkdtemp(prefix="carebridge-bench-keys-")
    admin(url, f"DROP DATABASE IF EXISTS {name}")
    admin(url, f"CREATE DATABASE {name}")
    try:
        django_setup(url, name, key_store)
        from django.core.management import call_command
        from django.db import connections

        call_command("migrate", verbosity=0)
        results = bench()
        connections.close_all()
    finally:
        admin(url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        shutil.rmtree(key_store, ignore_errors=True)
    return results

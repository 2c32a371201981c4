"""A scratch PostgreSQL database for one benchmark, on the cluster `make` runs."""

import os
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

"""The fault matrix's tools: real processes, killed or starved for real.

- ``workers``: `manage.py procrastinate worker` as a subprocess on the test database,
  with a 1 s heartbeat and a 3 s stalled-worker timeout, to kill with SIGKILL;
- ``table_lock``: another session's lock on a table, so a job stops at a known write
  (the worker is then killed there, deterministically, not after a guessed sleep);
- helpers to wait for a condition in the database.

Every test here is transactional (``committed``): the worker is another process and sees
only committed rows.
"""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest
from django.conf import settings
from django.db import connection

# Bill pay's fixtures (a statement, a real localstripe, signed webhooks) for the charge test.
from tests.billing.conftest import (  # noqa: F401
    deliver,
    localstripe,
    localstripe_url,
    statement,
    stripe_on,
)

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
HEARTBEAT = 1  # s, PORTAL_JOB_HEARTBEAT of the test workers
STALLED_AFTER = 3  # s, PORTAL_JOB_STALLED_AFTER of the test workers
# Secrets the worker must share with the test process (variable: setting), as values:
# the worker has a var dir of its own.
SHARED_SECRETS = {
    "DJANGO_SECRET_KEY": "SECRET_KEY",
    "PORTAL_KEKS": "PORTAL_KEKS",
    "PORTAL_BLIND_INDEX_KEY": "PORTAL_BLIND_INDEX_KEY",
    "PORTAL_AUDIT_SIGNING_KEY": "AUDIT_SIGNING_KEY",
}


def pytest_collection_modifyitems(items):
    for item in items:
        if Path(item.path).is_relative_to(HERE):
            item.add_marker(pytest.mark.faults)


def database_url(db: dict | None = None) -> str:
    """The URL of the database this test process uses (the test database, once set up)."""
    db = db or connection.settings_dict
    user, password = quote(db["USER"] or "", safe=""), quote(db["PASSWORD"] or "", safe="")
    host = db["HOST"] or "localhost"
    return f"postgres://{user}:{password}@{host}:{db['PORT'] or 5432}/{db['NAME']}"


def server_env(var_dir: Path, key_store: Path, **extra: str) -> dict[str, str]:
    """The environment of a portal process (worker or web) beside this test process."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("EMAIL_") and name != "DJANGO_ALLOW_ASYNC_UNSAFE"
    }
    env |= {
        name: str(value)
        for name, setting in SHARED_SECRETS.items()
        if (value := getattr(settings, setting, ""))
    }
    env |= {
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "PORTAL_ENV": "development",
        "PORTAL_VAR_DIR": str(var_dir),
        "PORTAL_KEY_STORE_DIR": str(key_store),
        "DATABASE_URL": database_url(),
        "DATABASE_CONN_MAX_AGE": "0",
        "PYTHONUNBUFFERED": "1",
        **extra,
    }
    env.pop("DATABASE_URL_FILE", None)
    return env


def wait_for(condition: Callable[[], object], timeout: float, what: str) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(0.1)
    pytest.fail(f"timed out after {timeout:g} s waiting for {what}", pytrace=False)


def sql_value(query: str, params: tuple = ()) -> object:
    with connection.cursor() as cursor:
        cursor.execute(query, params)
        row = cursor.fetchone()
    return row[0] if row else None


@pytest.fixture
def shared_dirs(settings, tmp_path) -> tuple[Path, Path]:
    """(var dir, key store) shared by this test and the processes it starts: the cast's
    key shares must be readable by them. Request it before any cast member."""
    var_dir, key_store = tmp_path / "var", tmp_path / "keystore-shared"
    var_dir.mkdir()
    key_store.mkdir(mode=0o700)
    settings.PORTAL_KEY_STORE_DIR = str(key_store)
    return var_dir, key_store


class Workers:
    """procrastinate workers on the test database, as `make run` starts them."""

    def __init__(self, var_dir: Path, key_store: Path) -> None:
        self.var_dir, self.key_store = var_dir, key_store
        self.procs: list[subprocess.Popen] = []
        self.logs: list[Path] = []

    def start(self, queues: str, **env: str) -> subprocess.Popen:
        log = self.var_dir / f"worker-{len(self.procs)}.log"
        environment = server_env(
            self.var_dir,
            self.key_store,
            PORTAL_JOB_HEARTBEAT=str(HEARTBEAT),
            PORTAL_JOB_STALLED_AFTER=str(STALLED_AFTER),
            **env,
        )
        with log.open("ab") as out:
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "manage.py",
                    "procrastinate",
                    "worker",
                    "--queues",
                    queues,
                    "--concurrency",
                    "1",
                ],
                cwd=ROOT,
                env=environment,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.procs.append(proc)
        self.logs.append(log)
        return proc

    @staticmethod
    def kill(proc: subprocess.Popen) -> None:
        """kill -9: no signal handler, no clean-up, no goodbye to the database."""
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)

    def log_text(self) -> str:
        return "\n".join(
            f"--- {log.name} ---\n{log.read_text(errors='replace')[-6000:]}"
            for log in self.logs
            if log.exists()
        )

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


@pytest.fixture
def workers(committed, shared_dirs) -> Iterator[Workers]:
    pool = Workers(*shared_dirs)
    yield pool
    pool.stop_all()
    print(pool.log_text(), file=sys.stderr)  # shown when the test failed


class TableLock:
    """Another session holding a lock on a table until released."""

    def __init__(self) -> None:
        db = connection.settings_dict
        self.conn = psycopg.connect(
            host=db["HOST"] or "localhost",
            port=db["PORT"] or 5432,
            user=db["USER"],
            password=db["PASSWORD"],
            dbname=db["NAME"],
        )
        self.pid = self.conn.info.backend_pid

    def hold(self, table: str, mode: str = "SHARE") -> None:
        # SHARE lets others read but makes INSERT/UPDATE/DELETE wait.
        self.conn.execute(f'LOCK TABLE "{table}" IN {mode} MODE')

    def waiters(self) -> int:
        """How many other sessions wait for this one's lock."""
        return sql_value(
            "SELECT count(*) FROM pg_stat_activity WHERE %s = ANY(pg_blocking_pids(pid))",
            (self.pid,),
        )

    def release(self) -> None:
        if not self.conn.closed:
            self.conn.rollback()

    def close(self) -> None:
        self.release()
        self.conn.close()


@pytest.fixture
def table_lock(committed) -> Iterator[TableLock]:
    lock = TableLock()
    yield lock
    lock.close()


@pytest.fixture
def small_disk(tmp_path) -> Iterator[Path]:
    """A 4 MB tmpfs of its own, mounted for the test (root only, as in CI), to fill up."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small file system needs root (CI runs the suite as root)")
    mount = tmp_path / "small-disk"
    mount.mkdir()
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m,mode=0777", "tmpfs", str(mount)], check=True
    )
    try:
        yield mount
    finally:
        subprocess.run(["umount", "--lazy", str(mount)], check=False)


def fill(directory: Path) -> Path:
    """Write a file until the file system says it is full; returns that file."""
    filler = directory / "filler"
    chunk = b"\0" * 65536
    with filler.open("wb", buffering=0) as out:
        try:
            while True:
                out.write(chunk)
        except OSError:
            pass
    # Whatever is left is smaller than a chunk: take it too, a byte at a time.
    with filler.open("ab", buffering=0) as out:
        try:
            while True:
                out.write(b"\0" * 512)
        except OSError:
            pass
    return filler

"""The fault matrix's tools: real processes, killed or starved for real.

- ``workers``: `manage.py procrastinate worker` as a subprocess on the test database,
  with a 1 s heartbeat and a 3 s stalled-worker timeout, to kill with SIGKILL;
- ``table_lock``: another session's lock on a table, so a job stops at a known write
  (the worker is then killed there, deterministically, not after a guessed sleep);
- helpers to wait for a condition in the database.

Every test here is transactional (``committed``): the worker is another process and sees
only committed rows.
"""

import contextlib
import importlib.util
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
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


def make_self_signed(cert: Path, key: Path) -> None:
    """A certificate for localhost, as `make` writes the development one."""
    spec = importlib.util.spec_from_file_location("dev_secrets", ROOT / "scripts/dev-secrets.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.make_self_signed(cert, key)


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

    def start(self, queues: str, concurrency: int = 1, **env: str) -> subprocess.Popen:
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
                    str(concurrency),
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


@contextlib.contextmanager
def tmpfs(mount: Path, size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` mounted on ``mount`` for the block (root only, as in CI)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small file system needs root (CI runs the suite as root)")
    mount.mkdir(exist_ok=True)
    options = f"size={size},mode=0755"
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:  # a container without CAP_SYS_ADMIN
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "--lazy", str(mount)], check=False)


@pytest.fixture
def small_disk(tmp_path) -> Iterator[Path]:
    """A 4 MB tmpfs of its own, mounted for the test, to fill up."""
    with tmpfs(tmp_path / "small-disk", "4m") as mount:
        mount.chmod(0o777)
        yield mount


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


# --- A PostgreSQL cluster of the test's own -----------------------------------------------


def _pg_bindir() -> Path | None:
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    return candidates[-1].parent if candidates else None


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Cluster:
    """A throwaway PostgreSQL cluster (initdb) on a free port, in a directory of its own:
    stopped and started at will, never the shared one. As root (CI) it runs as the
    ``postgres`` user, as scripts/pg-local.sh does; trust authentication on 127.0.0.1,
    no unix socket (it lives for one test)."""

    SUPERUSER = "carebridge"

    def __init__(self, home: Path, bindir: Path) -> None:
        self.home, self.bin = home, bindir
        self.data, self.log = home / "pgdata", home / "postgres.log"
        self.port = free_port()
        # As scripts/pg-local.sh: postgres, else the user it creates (make test runs it).
        self.os_user = None
        if os.geteuid() == 0:
            self.os_user = "postgres" if _user_exists("postgres") else "carebridge-pg"

    def _as_pg(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        command = [*args]
        if self.os_user:
            command = ["runuser", "-u", self.os_user, "--", *command]
        return subprocess.run(
            command,
            cwd="/",
            env={**os.environ, "LC_ALL": "C.UTF-8"},
            capture_output=True,
            text=True,
            timeout=120,
            check=check,
        )

    def init(self) -> None:
        self.data.mkdir(mode=0o700)
        self.log.touch()
        if self.os_user:
            shutil.chown(self.data, self.os_user)
            shutil.chown(self.log, self.os_user)
        self._as_pg(
            str(self.bin / "initdb"), "-D", str(self.data), "-U", self.SUPERUSER,
            "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8",
        )  # fmt: skip

    def start(self) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=''"
        self._as_pg(
            str(self.bin / "pg_ctl"), "start", "-w", "-t", "60", "-D", str(self.data),
            "-l", str(self.log), "-o", options,
        )  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        self._as_pg(str(self.bin / "pg_ctl"), "stop", "-w", "-m", mode, "-D", str(self.data))

    def running(self) -> bool:
        status = self._as_pg(str(self.bin / "pg_ctl"), "status", "-D", str(self.data), check=False)
        return status.returncode == 0

    def psql(self, sql: str, *, user: str = SUPERUSER, dbname: str = "postgres") -> str:
        result = subprocess.run(
            [str(self.bin / "psql"), "-X", "-q", "-tA", "-v", "ON_ERROR_STOP=1",
             "-h", "127.0.0.1", "-p", str(self.port), "-U", user, "-d", dbname, "-c", sql],
            capture_output=True, text=True, timeout=60, check=True,
        )  # fmt: skip
        return result.stdout.strip()

    def url(self, user: str, dbname: str) -> str:
        return f"postgres://{user}@127.0.0.1:{self.port}/{dbname}"


@pytest.fixture
def cluster_home() -> Iterator[Path]:
    """Where the test's cluster lives: under /tmp and traversable, for the postgres user
    when root runs the tests. A test module may put it on a file system of its own."""
    home = Path(tempfile.mkdtemp(prefix="carebridge-faults-"))
    home.chmod(0o755)
    yield home
    shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def own_cluster(cluster_home) -> Iterator[Cluster]:
    bindir = _pg_bindir()
    if bindir is None:
        pytest.skip("PostgreSQL's server programs are missing (scripts/system-deps.sh --postgres)")
    cluster = Cluster(cluster_home, bindir)
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        if cluster.running():
            cluster.stop("immediate")


def copy_test_database(cluster: Cluster, *, role: str = "portal", dbname: str = "portal") -> str:
    """The test database as it is now (schema and committed rows), copied into ``dbname``
    on ``cluster``, owned by a role that is no superuser (as the portal runs); its URL."""
    cluster.psql(f"CREATE ROLE {role} LOGIN CREATEDB NOSUPERUSER")
    cluster.psql(f"CREATE DATABASE {dbname} OWNER {role}")
    db = connection.settings_dict
    dump = subprocess.run(
        [str(cluster.bin / "pg_dump"), "--no-owner", "--no-acl",
         "-h", db["HOST"] or "localhost", "-p", str(db["PORT"] or 5432),
         "-U", db["USER"], db["NAME"]],
        env={**os.environ, "PGPASSWORD": db["PASSWORD"] or ""},
        capture_output=True, timeout=120, check=True,
    )  # fmt: skip
    subprocess.run(
        [str(cluster.bin / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1",
         "-h", "127.0.0.1", "-p", str(cluster.port), "-U", role, "-d", dbname],
        input=dump.stdout, capture_output=True, timeout=120, check=True,
    )  # fmt: skip
    return cluster.url(role, dbname)

"""Browser tests: Debian's Chromium, driven by Playwright, against the real front over TLS
(scripts/serve.sh: nginx in front of gunicorn, as `make run` serves it).

The server is a separate process, so it sees only committed data: every test here
requests `committed` (through `portal_server` and `page`), which makes pytest-django run
it transactionally. Servers are started on demand, one per timeout setting.

Playwright and the servers live for this package's tests only (pytest-django runs the
transactional tests together, so that is one stretch of the session). While Playwright's
sync API is running, this thread looks to Django as if it ran an event loop: the rest of
the suite must not run in that state.
"""

import http.client
import importlib.util
import os
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, quote, urlencode, urlsplit

import pytest
from django.conf import settings
from django.db import connection, connections
from playwright.sync_api import Browser, Page, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from portal.access import PATIENT_SIDE_ROLES
from tests import front
from tests.conftest import PASSWORD, device_of, totp_now

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
STARTUP_TIMEOUT = 20  # seconds for the portal to answer /healthz
# The test process's environment, less what would send real e-mail, is the server's
# (tests/front.py drops what would change where or how it listens).
SERVER_ENV_DROPPED_PREFIXES = ("EMAIL_",)
SERVER_ENV_DROPPED = {"DJANGO_ALLOW_ASYNC_UNSAFE"}
# Secrets the server must share with the test process (variable: setting). The test
# process may have read them from files in its var dir, which the server, with a var dir
# of its own, would not find; so they are handed over as values.
SHARED_SECRETS = {
    "DJANGO_SECRET_KEY": "SECRET_KEY",
    "PORTAL_KEKS": "PORTAL_KEKS",
    "PORTAL_BLIND_INDEX_KEY": "PORTAL_BLIND_INDEX_KEY",
    "PORTAL_AUDIT_SIGNING_KEY": "AUDIT_SIGNING_KEY",
}


def pytest_collection_modifyitems(items):
    # A conftest's hook sees the whole session's items: mark only this folder's.
    for item in items:
        if Path(item.path).is_relative_to(HERE):
            item.add_marker(pytest.mark.e2e)


# Each test's reports by phase, so that fixtures can tell whether it failed.
_reports = pytest.StashKey[dict]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    item.stash.setdefault(_reports, {})[report.when] = report
    return report


def _load_dev_secrets():
    spec = importlib.util.spec_from_file_location("dev_secrets", ROOT / "scripts/dev-secrets.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _database_url(db: dict) -> str:
    """The URL of the database this test process uses (the test database, once set up)."""
    user = quote(db["USER"] or "", safe="")
    password = quote(db["PASSWORD"] or "", safe="")
    auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = db["HOST"] or ""
    # A socket directory needs escaping; an IPv6 literal needs brackets.
    host = quote(host, safe="") if host.startswith("/") else (f"[{host}]" if ":" in host else host)
    port = f":{db['PORT']}" if db["PORT"] else ""
    options = {
        key: value
        for key, value in (db.get("OPTIONS") or {}).items()
        if key != "connect_timeout" and isinstance(value, str | int)
    }
    query = f"?{urlencode(options)}" if options else ""
    return f"postgres://{auth}{host}{port}/{quote(db['NAME'], safe='')}{query}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(eq=False)  # hashable by identity
class PortalServer:
    """One front (nginx and gunicorn) serving the portal."""

    port: int
    proc: subprocess.Popen
    log: Path

    @property
    def url(self) -> str:
        return f"https://localhost:{self.port}"

    def log_since(self, offset: int = 0, limit: int = 12_000) -> str:
        text = self.log.read_bytes()[offset:].decode(errors="replace")
        return text[-limit:]

    def log_size(self) -> int:
        return self.log.stat().st_size

    def stop(self) -> None:
        front.stop(self.proc)


@dataclass
class ServerPool:
    """Servers started on demand, one per (idle timeout, idle warning, extra environment),
    kept for the package."""

    tmp: Path
    env: dict[str, str]
    cert: Path
    key_store: Path
    servers: dict[tuple, PortalServer] = field(default_factory=dict)

    def get(
        self, idle_timeout: int, idle_warning: int, extra_env: dict[str, str] | None = None
    ) -> PortalServer:
        key = (idle_timeout, idle_warning, tuple(sorted((extra_env or {}).items())))
        server = self.servers.get(key)
        if server is None or server.proc.poll() is not None:
            self.servers[key] = server = self._start(idle_timeout, idle_warning, extra_env or {})
        return server

    def _start(
        self, idle_timeout: int, idle_warning: int, extra_env: dict[str, str]
    ) -> PortalServer:
        failures = []
        for attempt in range(3):  # the free port may be taken before nginx binds it
            port = _free_port()
            log = self.tmp / f"serve-{idle_timeout}-{idle_warning}-{port}.log"
            env = {
                **self.env,
                "PORTAL_IDLE_TIMEOUT": str(idle_timeout),
                "PORTAL_IDLE_WARNING": str(idle_warning),
                **extra_env,
            }
            proc = front.start(
                app="portal.wsgi:application",
                port=port,
                run_dir=self.tmp / f"run-{port}",
                log=log,
                env=env,
            )
            server = PortalServer(port=port, proc=proc, log=log)
            if self._wait_until_healthy(server):
                return server
            server.stop()
            failures.append(f"attempt {attempt + 1}, port {port}:\n{server.log_since()}")
            if "Address already in use" not in server.log_since():
                break
        pytest.fail("the portal did not become healthy:\n" + "\n".join(failures), pytrace=False)

    def _wait_until_healthy(self, server: PortalServer) -> bool:
        context = ssl.create_default_context(cafile=str(self.cert))
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if server.proc.poll() is not None:
                return False
            conn = http.client.HTTPSConnection("localhost", server.port, context=context, timeout=2)
            try:
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    return True
            except (OSError, http.client.HTTPException):
                pass
            finally:
                conn.close()
            time.sleep(0.1)
        return False

    def stop_all(self) -> None:
        for server in self.servers.values():
            server.stop()
        self.servers.clear()


@pytest.fixture(scope="package")
def _portal_servers(django_db_setup, tmp_path_factory) -> Iterator[ServerPool]:
    """Depends on django_db_setup, so its servers stop before the test database is dropped."""
    tmp = tmp_path_factory.mktemp("portal")
    var, key_store = tmp / "var", tmp / "keystore"
    var.mkdir()
    key_store.mkdir(mode=0o700)
    cert, key = tmp / "cert.pem", tmp / "key.pem"
    _load_dev_secrets().make_self_signed(cert, key)
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(SERVER_ENV_DROPPED_PREFIXES) and name not in SERVER_ENV_DROPPED
    }
    env |= {
        name: str(value)
        for name, setting in SHARED_SECRETS.items()
        if (value := getattr(settings, setting, ""))
    }
    env |= {
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "PORTAL_ENV": "development",
        "PORTAL_VAR_DIR": str(var),
        "PORTAL_KEY_STORE_DIR": str(key_store),
        "DATABASE_URL": _database_url(connection.settings_dict),
        # No idle connections left behind when the tests empty or drop the database.
        "DATABASE_CONN_MAX_AGE": "0",
        "ALLOWED_HOSTS": "localhost",
        "GUNICORN_WORKERS": "1",
        "PORTAL_TLS_CERT": str(cert),
        "PORTAL_TLS_KEY": str(key),
        "PYTHONUNBUFFERED": "1",
    }
    # STATIC_ROOT is PORTAL_VAR_DIR/static, with a manifest: collect once for the session.
    collected = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if collected.returncode != 0:
        pytest.fail(f"collectstatic failed:\n{collected.stderr[-4000:]}", pytrace=False)
    pool = ServerPool(tmp=tmp, env=env, cert=cert, key_store=key_store)
    yield pool
    pool.stop_all()


@pytest.fixture(autouse=True)
def _key_store_shared_with_the_server(settings, _portal_servers):
    """Patient key shares written by the test (the cast's records) must be readable by the
    server: one key store for both, in place of the test's private one (tests/conftest.py).
    Autouse, so that it is in place before any cast member is made."""
    settings.PORTAL_KEY_STORE_DIR = str(_portal_servers.key_store)


@pytest.fixture
def portal_cert(_portal_servers) -> Path:
    """The certificate the portal servers present, to verify them with."""
    return _portal_servers.cert


@pytest.fixture
def portal_server(committed, _portal_servers, request) -> Callable[..., str]:
    """portal_server(idle_timeout=900, idle_warning=120, env=None) -> "https://localhost:PORT".

    ``env``: more environment for the server (e.g. the FHIR_* settings of a test EHR).

    If the test fails, the server log lines written during the test are printed.
    """
    used: dict[PortalServer, int] = {}

    def start(
        idle_timeout: int = 900, idle_warning: int = 120, env: dict[str, str] | None = None
    ) -> str:
        server = _portal_servers.get(idle_timeout, idle_warning, env)
        used.setdefault(server, server.log_size())
        return server.url

    yield start
    reports = request.node.stash.get(_reports, {})
    if any(report.failed for report in reports.values()):
        for server, offset in used.items():
            print(f"--- portal on port {server.port} ---", file=sys.stderr)
            print(server.log_since(offset), file=sys.stderr)


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    # Playwright's sync API marks an event loop as running in this thread between its
    # calls; Django would otherwise refuse the ORM calls the tests make between browser
    # steps. Only for as long as Playwright runs, so the rest of the suite keeps the check.
    allow_async_unsafe = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()
    finally:
        # With a loop running, Django keeps this thread's connections in separate
        # (context-local) storage: close them now, or they stay open past Playwright and
        # block the DROP of the test database at the end of the session.
        connections.close_all()
        playwright.stop()
        if allow_async_unsafe is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


@pytest.fixture
def page(committed, browser: Browser) -> Iterator[Page]:
    """A fresh browser profile per test; CSP stays on.

    It depends on `committed` so that the tab (and its session timer's polling) is
    closed before the database is emptied after the test.
    """
    context = browser.new_context(ignore_https_errors=True, locale="en-US")
    context.set_default_timeout(10_000)
    context.set_default_navigation_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()


@dataclass
class Portal:
    """One browser tab on one portal server."""

    page: Page
    url: str

    def goto(self, path: str):
        return self.page.goto(self.url + path)

    @staticmethod
    def _matches(url: str, path: str, query: dict[str, str]) -> bool:
        parts = urlsplit(url)
        wanted = {name: [value] for name, value in query.items()}
        return parts.path == path and (not query or parse_qs(parts.query) == wanted)

    def at(self, path: str, **query: str) -> bool:
        """Whether the tab shows path (and exactly these query parameters, if given)."""
        return self._matches(self.page.url, path, query)

    def wait_for(self, path: str, timeout: float = 15_000, **query: str) -> None:
        """Wait until the tab has loaded path (with exactly these query parameters, if given)."""
        try:
            self.page.wait_for_url(lambda url: self._matches(url, path, query), timeout=timeout)
        except PlaywrightTimeoutError:
            wanted = f"{path}?{urlencode(query)}" if query else path
            pytest.fail(
                f"the tab did not reach {wanted} within {timeout / 1000:g} s; "
                f"it shows {self.page.url}",
                pytrace=False,
            )

    def enter_password(self, user, password: str = PASSWORD) -> None:
        self.goto("/accounts/sign-in/")
        self.page.get_by_label("Username").fill(user.username)
        self.page.get_by_label("Password").fill(password)
        self.page.get_by_role("button", name="Continue").click()

    def sign_in_fully(self, user) -> None:
        """Password, then the code the user's authenticator shows now; ends on their home."""
        self.enter_password(user)
        self.wait_for("/accounts/sign-in/verify/")
        self.page.get_by_label("Code").fill(totp_now(device_of(user)))
        self.page.get_by_role("button", name="Verify").click()
        home = "/patient/" if user.role in PATIENT_SIDE_ROLES else "/staff/"
        self.wait_for(home)


@pytest.fixture
def open_portal(portal_server, page) -> Callable[..., Portal]:
    """open_portal(**server_options) -> a Portal on a server started with those options."""

    def open_(**server_options) -> Portal:
        return Portal(page=page, url=portal_server(**server_options))

    return open_

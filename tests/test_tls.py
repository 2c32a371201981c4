"""Gunicorn, as gunicorn.conf.py sets it up, speaks TLS 1.2+ only and logs no PHI.

A real gunicorn serves tests/tls_app.py with a certificate from scripts/dev-secrets.py,
so these tests need neither Django nor the database.
"""

import datetime as dt
import importlib.util
import os
import socket
import ssl
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PHI_QUERY = "patient=Jane+Doe&ssn=123-45-6789"
SECRET_COOKIE = "sessionid=cookie-must-not-be-logged"


def load_module(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


gunicorn_conf = load_module("gunicorn_conf", ROOT / "gunicorn.conf.py")
dev_secrets = load_module("dev_secrets", ROOT / "scripts" / "dev-secrets.py")


@dataclass
class Server:
    port: int
    cert: Path
    log: Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_listening(proc: subprocess.Popen, port: int, log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"gunicorn exited with {proc.returncode}:\n{log.read_text()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    pytest.fail(f"gunicorn did not listen on port {port}:\n{log.read_text()}")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("tls")
    cert, key, log = tmp / "cert.pem", tmp / "key.pem", tmp / "gunicorn.log"
    dev_secrets.make_self_signed(cert, key)
    port = free_port()
    env = {
        **os.environ,
        "PORT": str(port),
        "PORTAL_TLS_CERT": str(cert),
        "PORTAL_TLS_KEY": str(key),
        "GUNICORN_WORKERS": "1",
    }
    env.pop("GUNICORN_BIND", None)
    command = [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py")]
    command += ["--chdir", str(ROOT), "tests.tls_app:app"]
    with log.open("wb") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        wait_until_listening(proc, port, log)
        yield Server(port=port, cert=cert, log=log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def client_context(server: Server, minimum: ssl.TLSVersion, maximum: ssl.TLSVersion):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(server.cert)
    context.minimum_version = minimum
    context.maximum_version = maximum
    return context


def get(server: Server, context: ssl.SSLContext, hostname: str = "localhost"):
    """Make one HTTPS request; return the negotiated TLS version and the raw response."""
    request = (
        f"GET /records/labs?{PHI_QUERY} HTTP/1.1\r\nHost: localhost\r\n"
        f"Cookie: {SECRET_COOKIE}\r\nReferer: https://localhost/?{PHI_QUERY}\r\n"
        "Connection: close\r\n\r\n"
    )
    with (
        socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname=hostname) as tls,
    ):
        version = tls.version()
        tls.sendall(request.encode())
        response = b""
        while chunk := tls.recv(65536):
            response += chunk
        return version, response


# Setting the old versions is the point of these two tests.
old_versions = pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1:DeprecationWarning")


@old_versions
def test_the_ssl_context_hook_raises_the_floor_to_tls_1_2():
    def lax_factory():
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.minimum_version = ssl.TLSVersion.TLSv1
        return context

    context = gunicorn_conf.ssl_context(None, lax_factory)

    assert context.minimum_version == ssl.TLSVersion.TLSv1_2


def test_it_serves_tls_1_2(server):
    context = client_context(server, ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_2)

    version, response = get(server, context)

    assert version == "TLSv1.2"
    assert response.startswith(b"HTTP/1.1 200 OK")


def test_it_serves_tls_1_3(server):
    context = client_context(server, ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_3)

    version, response = get(server, context)

    assert version == "TLSv1.3"
    assert response.startswith(b"HTTP/1.1 200 OK")


@old_versions
def test_it_refuses_tls_1_1(server):
    context = client_context(server, ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1)
    # Let this client really offer TLS 1.1, so that the refusal comes from the server.
    context.set_ciphers("DEFAULT:@SECLEVEL=0")

    with pytest.raises(ssl.SSLError) as refused:
        get(server, context)

    assert refused.value.reason == "TLSV1_ALERT_PROTOCOL_VERSION"


@pytest.mark.parametrize("hostname", ["localhost", "127.0.0.1", "::1"])
def test_the_dev_certificate_is_valid_for(server, hostname):
    context = client_context(server, ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.MAXIMUM_SUPPORTED)

    _, response = get(server, context, hostname=hostname)

    assert response.startswith(b"HTTP/1.1 200 OK")


def test_the_access_log_has_the_path_but_no_query_string_cookie_or_referer(server):
    context = client_context(server, ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.MAXIMUM_SUPPORTED)
    get(server, context)

    deadline = time.monotonic() + 10
    while "GET /records/labs 200" not in (log := server.log.read_text()):
        assert time.monotonic() < deadline, f"no access log line in:\n{log}"
        time.sleep(0.1)
    assert "123-45-6789" not in log
    assert "Jane" not in log
    assert "cookie-must-not-be-logged" not in log


def test_dev_secrets_renews_a_certificate_that_expires_within_a_week(tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    dev_secrets.make_self_signed(cert, key, valid_for=dt.timedelta(days=3))
    expiring = cert.read_bytes()

    dev_secrets.ensure_tls(tmp_path)
    renewed = cert.read_bytes()
    dev_secrets.ensure_tls(tmp_path)

    assert renewed != expiring
    assert cert.read_bytes() == renewed
    assert oct(key.stat().st_mode & 0o777) == "0o600"

"""The front, as scripts/serve.sh starts it: TLS 1.2+ with AEAD suites only, headers on
every response, a per-client connection cap, and an access log without PHI.

nginx (deploy/nginx.conf) serves tests/tls_app.py through gunicorn with a certificate
from scripts/dev-secrets.py, so these tests need neither Django nor the database.
"""

import datetime as dt
import importlib.util
import os
import socket
import ssl
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests import front

ROOT = Path(__file__).resolve().parent.parent
PHI_QUERY = "patient=Jane+Doe&ssn=123-45-6789"
SECRET_COOKIE = "sessionid=cookie-must-not-be-logged"
CONN_PER_CLIENT = 5


def load_module(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


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


def wait_until_serving(proc, port: int, log: Path) -> None:
    """Until the front answers through to gunicorn (nginx listens before gunicorn does)."""
    deadline = time.monotonic() + 30
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"serve.sh exited with {proc.returncode}:\n{log.read_text()}")
        try:
            with (
                socket.create_connection(("127.0.0.1", port), timeout=2) as raw,
                context.wrap_socket(raw) as tls,
            ):
                tls.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                if tls.recv(100).startswith(b"HTTP/1.1 200"):
                    return
        except OSError:
            pass
        time.sleep(0.1)
    pytest.fail(f"the front did not serve on port {port}:\n{log.read_text()}")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("tls")
    cert, key, log = tmp / "cert.pem", tmp / "key.pem", tmp / "serve.log"
    dev_secrets.make_self_signed(cert, key)
    port = free_port()
    env = {
        **os.environ,
        "PORTAL_TLS_CERT": str(cert),
        "PORTAL_TLS_KEY": str(key),
        "PORTAL_FRONT_CONN_PER_CLIENT": str(CONN_PER_CLIENT),
    }
    proc = front.start(app="tests.tls_app:app", port=port, run_dir=tmp / "run", log=log, env=env)
    try:
        wait_until_serving(proc, port, log)
        yield Server(port=port, cert=cert, log=log)
    finally:
        front.stop(proc)


def client_context(server: Server, minimum: ssl.TLSVersion, maximum: ssl.TLSVersion):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(server.cert)
    context.minimum_version = minimum
    context.maximum_version = maximum
    return context


def get(
    server: Server,
    context: ssl.SSLContext,
    hostname: str = "localhost",
    path: str = f"/records/labs?{PHI_QUERY}",
    headers: str = "",
):
    """Make one HTTPS request; return the negotiated TLS version, cipher and raw response."""
    request = (
        f"GET {path} HTTP/1.1\r\nHost: localhost\r\n"
        f"Cookie: {SECRET_COOKIE}\r\nReferer: https://localhost/?{PHI_QUERY}\r\n"
        f"{headers}Connection: close\r\n\r\n"
    )
    with (
        socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname=hostname) as tls,
    ):
        version, cipher = tls.version(), tls.cipher()[0]
        tls.sendall(request.encode())
        response = b""
        while chunk := tls.recv(65536):
            response += chunk
        return version, cipher, response


def header_values(response: bytes, name: str) -> list[str]:
    head = response.split(b"\r\n\r\n", 1)[0].decode()
    prefix = f"{name.lower()}:"
    lines = head.splitlines()
    return [line.split(":", 1)[1].strip() for line in lines if line.lower().startswith(prefix)]


# Setting the old versions is the point of these two tests.
old_versions = pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1:DeprecationWarning")


def test_it_serves_tls_1_2(server):
    context = client_context(server, ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_2)

    version, _, response = get(server, context)

    assert version == "TLSv1.2"
    assert response.startswith(b"HTTP/1.1 200 OK")


def test_it_serves_tls_1_3(server):
    context = client_context(server, ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_3)

    version, _, response = get(server, context)

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

    _, _, response = get(server, context, hostname=hostname)

    assert response.startswith(b"HTTP/1.1 200 OK")


def test_the_access_log_has_the_path_but_no_query_string_cookie_or_referer(server):
    context = client_context(server, ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.MAXIMUM_SUPPORTED)
    get(server, context)

    deadline = time.monotonic() + 10
    while "GET /records/labs 200 " not in (log := server.log.read_text()):
        assert time.monotonic() < deadline, f"no access log line in:\n{log}"
        time.sleep(0.1)
    assert "123-45-6789" not in log
    assert "Jane" not in log
    assert "cookie-must-not-be-logged" not in log


CBC_SUITES = (
    "ECDHE-ECDSA-AES128-SHA256:ECDHE-ECDSA-AES256-SHA384:ECDHE-RSA-AES128-SHA256:"
    "ECDHE-RSA-AES256-SHA384:ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA:AES128-SHA256"
)


def test_it_refuses_a_tls_1_2_client_that_offers_only_cbc_suites(server):
    context = client_context(server, ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_2)
    context.set_ciphers(CBC_SUITES)

    with pytest.raises(ssl.SSLError) as refused:
        get(server, context)

    assert refused.value.reason == "SSLV3_ALERT_HANDSHAKE_FAILURE"


def test_a_default_tls_1_2_client_gets_an_aead_suite(server):
    context = client_context(server, ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_2)

    _, cipher, _ = get(server, context)

    assert cipher.startswith("ECDHE-")
    assert "GCM" in cipher or "CHACHA20" in cipher


def test_responses_without_their_own_policy_get_the_fronts_strict_headers(server):
    context = client_context(server, ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.MAXIMUM_SUPPORTED)

    _, _, response = get(server, context, path="/")

    assert header_values(response, "Content-Security-Policy") == [
        "default-src 'none'; style-src 'self'; img-src 'self'; frame-ancestors 'none'; "
        "base-uri 'none'; form-action 'self'"
    ]
    assert header_values(response, "X-Frame-Options") == ["DENY"]
    assert header_values(response, "X-Content-Type-Options") == ["nosniff"]
    assert header_values(response, "Strict-Transport-Security") == [
        "max-age=31536000; includeSubDomains"
    ]
    # No product banner: gunicorn's is dropped, nginx's carries no version.
    assert header_values(response, "Server") == ["nginx"]


def test_the_application_s_own_policy_headers_are_kept_and_not_doubled(server):
    context = client_context(server, ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.MAXIMUM_SUPPORTED)

    _, _, response = get(server, context, path="/own-headers")

    assert header_values(response, "Content-Security-Policy") == ["default-src 'self'"]
    assert header_values(response, "X-Frame-Options") == ["SAMEORIGIN"]


def test_the_application_hears_the_client_address_and_scheme_from_the_front_only(server):
    context = client_context(server, ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.MAXIMUM_SUPPORTED)
    forged = "X-Forwarded-For: 203.0.113.9\r\nX-Forwarded-Proto: http\r\nX-Forwarded-Ssl: off\r\n"

    _, _, response = get(server, context, path="/forwarded", headers=forged)

    body = response.split(b"\r\n\r\n", 1)[1].decode()
    # The right-most entry, the one portal.net.client_ip trusts, is the front's own view.
    assert "for=203.0.113.9, 127.0.0.1" in body
    assert "proto=https" in body
    assert "ssl=\n" in body
    assert "host=localhost" in body


def open_slow_body(server: Server, source: str) -> ssl.SSLSocket:
    """A request whose headers are complete and whose body never comes."""
    context = client_context(server, ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.MAXIMUM_SUPPORTED)
    address = ("127.0.0.1", server.port)
    raw = socket.create_connection(address, timeout=10, source_address=(source, 0))
    tls = context.wrap_socket(raw, server_hostname="localhost")
    tls.sendall(b"POST /upload HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5000\r\n\r\nab")
    return tls


def test_it_answers_429_past_the_requests_in_progress_allowed_per_client_address(server):
    held = [open_slow_body(server, "127.0.0.3") for _ in range(CONN_PER_CLIENT)]
    try:
        time.sleep(0.5)  # nginx counts a request once its headers are read
        one_too_many = open_slow_body(server, "127.0.0.3")
        try:
            refused = one_too_many.recv(100)
        finally:
            one_too_many.close()
        context = client_context(server, ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.MAXIMUM_SUPPORTED)
        _, _, other_client = get(server, context, path="/")
    finally:
        for tls in held:
            tls.close()

    assert refused.startswith(b"HTTP/1.1 429")
    assert other_client.startswith(b"HTTP/1.1 200 OK")


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

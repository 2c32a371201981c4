"""A small, misbehaving FHIR server on loopback, over TLS with a throwaway cert.

Each test gives the server an `app`: a function from the request to a Reply.
The server runs in threads of this process, listens on 127.0.0.1 only, and
every wait inside it is cut short when the test ends.
"""

import contextlib
import socket
import ssl
import struct
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import simplejson

from portal.fhir import FhirClient, FhirConfig
from tests.ehr_fixtures import make_tls_files


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes


@dataclass
class Reply:
    status: int = 200
    body: bytes | dict[str, Any] = b""
    headers: dict[str, str] = field(default_factory=dict)
    # Misbehaviours: wait before answering, reset the connection, or stream
    # this many bytes without a Content-Length.
    delay: float = 0.0
    reset: bool = False
    flood: int = 0


App = Callable[[Request], Reply]


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory) -> tuple[Path, Path]:
    return make_tls_files(tmp_path_factory.mktemp("tls"))


class FakeEhr:
    def __init__(self, cert_file: Path, key_file: Path) -> None:
        self.app: App = lambda request: Reply(404)
        self.requests: list[Request] = []
        self.stopping = threading.Event()
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert_file, key_file)
        self.server = _Server(("127.0.0.1", 0), _Handler)
        self.server.ehr = self
        # The handshake then happens in the handler's thread, so a stuck
        # client cannot block the accept loop.
        self.server.socket = context.wrap_socket(
            self.server.socket, server_side=True, do_handshake_on_connect=False
        )
        self.port = self.server.server_address[1]
        self.base_url = f"https://127.0.0.1:{self.port}/fhir"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path}"

    def paths(self) -> list[str]:
        return [request.path for request in self.requests]

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    ehr: FakeEhr

    def handle_error(self, request, client_address) -> None:
        # Clients that hang up on purpose (size limit, timeout) are expected.
        pass


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def _serve(self) -> None:
        ehr = self.server.ehr
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        request = Request(
            method=self.command,
            path=parts.path,
            query=parse_qs(parts.query),
            headers={key.lower(): value for key, value in self.headers.items()},
            body=self.rfile.read(length),
        )
        ehr.requests.append(request)
        reply = ehr.app(request)
        if reply.delay and ehr.stopping.wait(reply.delay):
            return
        if reply.reset:
            # Linger 0 turns close() into a TCP reset.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            return
        body = reply.body
        if isinstance(body, dict):
            # simplejson: resources carry Decimal values (see tests/records/resources.py).
            body = simplejson.dumps(body, use_decimal=True).encode()
        self.send_response(reply.status)
        for key, value in reply.headers.items():
            self.send_header(key, value)
        if reply.flood:
            self.send_header("Content-Type", "application/fhir+json")
            self.end_headers()
            chunk = b" " * 16384
            for _ in range(reply.flood // len(chunk)):
                if ehr.stopping.is_set():
                    return
                self.wfile.write(chunk)
            return
        self.send_header("Content-Type", "application/fhir+json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def finish(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            super().finish()


@pytest.fixture
def ehr(tls_files) -> Iterator[FakeEhr]:
    server = FakeEhr(*tls_files)
    server.start()
    yield server
    server.stop()


class Clock:
    """A monotonic clock that moves only when the test says so."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def fhir_client_for(tls_files, sleeps) -> Iterator[Callable[..., FhirClient]]:
    """Build a client for a fake server, with short timeouts and a recorded sleep."""
    clients: list[FhirClient] = []

    def build(
        ehr: FakeEhr, *, smart=None, clock=None, wall_clock=None, **overrides: Any
    ) -> FhirClient:
        options: dict[str, Any] = {
            "base_url": ehr.base_url,
            "ca_bundle": str(tls_files[0]),
            "connect_timeout": 2.0,
            "read_timeout": 0.3,
            "total_timeout": 5.0,
            "max_response_bytes": 64 * 1024,
        } | overrides
        extra = {"clock": clock} if clock else {}
        if wall_clock:
            extra["wall_clock"] = wall_clock
        client = FhirClient(
            FhirConfig(**options),
            smart=smart,
            sleep=sleeps.append,
            jitter=lambda ceiling: ceiling,
            **extra,
        )
        clients.append(client)
        return client

    yield build
    for client in clients:
        client.close()


def bundle(resources: list[dict[str, Any]], next_url: str | None = None) -> dict[str, Any]:
    links = [{"relation": "self", "url": "https://ignored.example/self"}]
    if next_url:
        links.append({"relation": "next", "url": next_url})
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "link": links,
        "entry": [{"resource": resource} for resource in resources],
    }


def observation(number: int) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": f"obs-{number}",
        "status": "final",
        "code": {"text": "Glucose"},
    }

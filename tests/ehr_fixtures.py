"""A real FHIR R4 server for the tests that talk to an EHR: `ehr_server`.

The same server `make run` uses as the demo EHR (sekmet, from var/ehr/venv),
started once per test session on a free 127.0.0.1 port, over TLS with a
throwaway certificate, with the portal registered as a SMART backend-services
client under a throwaway EC P-384 key, and loaded with HL7's official R4
examples (var/cache/hl7.fhir.r4.examples-4.0.1) of the types the portal shows,
and the Patients they belong to.

    def test_it_syncs(ehr_server):
        client = FhirClient(ehr_server.fhir_config(), smart=ehr_server.smart_config())
        ehr_server.examples["Patient/example"]      # that patient's example resources
        ehr_server.load([...])                      # PUT more, one transaction

Resources loaded by a test stay for the rest of the session: give them ids and
patients of their own. `scripts/setup.sh --dev` installs the venv and the
examples; without them the fixture fails and says so.
"""

import base64
import datetime as dt
import hashlib
import ipaddress
import json
import secrets
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ehr import config as ehr_config
from ehr.seed import FhirWriter, SeedError
from portal.fhir import FhirConfig, SmartConfig
from records.sync import SYNCED_TYPES

ROOT = Path(__file__).resolve().parent.parent
SEKMET = ROOT / "var/ehr/venv/bin/sekmet"
EXAMPLES = ROOT / "var/cache/hl7.fhir.r4.examples-4.0.1"
# The types the portal syncs and shows, each found through its patient.
SHOWN_TYPES = tuple(SYNCED_TYPES)
START_TIMEOUT = 60


def patient_reference(resource: dict[str, Any]) -> str | None:
    """`Patient/<id>` from subject or patient, if that is how the resource names it."""
    reference = (resource.get("subject") or resource.get("patient") or {}).get("reference")
    return reference if isinstance(reference, str) and reference.startswith("Patient/") else None


def hl7_examples(folder: Path = EXAMPLES) -> dict[str, list[dict[str, Any]]]:
    """The examples of SHOWN_TYPES by patient reference, each list led by its Patient."""
    patients = {}
    for path in sorted(folder.glob("Patient-*.json")):
        patient = json.loads(path.read_text())
        patients[f"Patient/{patient['id']}"] = patient
    grouped: dict[str, list[dict[str, Any]]] = {}
    for resource_type in SHOWN_TYPES:
        for path in sorted(folder.glob(f"{resource_type}-*.json")):
            resource = json.loads(path.read_text())
            reference = patient_reference(resource)
            if resource.get("resourceType") == resource_type and reference in patients:
                grouped.setdefault(reference, [patients[reference]]).append(resource)
    return grouped


@dataclass
class EhrServer:
    base_url: str
    ca_bundle: str
    client_id: str
    client_key_file: Path
    key_id: str
    scope: str
    writer: FhirWriter
    examples: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def smart_config(self, **overrides: Any) -> SmartConfig:
        config = SmartConfig(
            client_id=self.client_id,
            private_key_file=self.client_key_file,
            key_id=self.key_id,
            scope=self.scope,
            algorithm="ES384",
        )
        return replace(config, **overrides)

    def fhir_config(self, **overrides: Any) -> FhirConfig:
        return replace(FhirConfig(base_url=self.base_url, ca_bundle=self.ca_bundle), **overrides)

    def load(self, resources: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """PUT the resources (their ids kept) in one transaction; the stored copies,
        with the server's meta.versionId and meta.lastUpdated."""
        return self.writer.put_all(resources)


def write_private_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)


def public_jwk(key: ec.EllipticCurvePrivateKey) -> dict[str, str]:
    numbers = key.public_key().public_numbers()
    size = (key.curve.key_size + 7) // 8
    members = {
        "crv": "P-384",
        "kty": "EC",
        "x": base64.urlsafe_b64encode(numbers.x.to_bytes(size, "big")).rstrip(b"=").decode(),
        "y": base64.urlsafe_b64encode(numbers.y.to_bytes(size, "big")).rstrip(b"=").decode(),
    }
    digest = hashlib.sha256(json.dumps(members, separators=(",", ":"), sort_keys=True).encode())
    kid = base64.urlsafe_b64encode(digest.digest()).rstrip(b"=").decode()
    return members | {"alg": "ES384", "use": "sig", "kid": kid}


def make_tls_files(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test-ehr.invalid")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    write_private_key(key_file, key)
    return cert_file, key_file


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_sekmet(folder: Path, settings: dict[str, Any]) -> subprocess.Popen:
    settings_file = folder / "settings.yaml"
    ehr_config.write_private(settings_file, json.dumps(settings, indent=2))
    log = (folder / "sekmet.log").open("ab")
    command = [str(SEKMET), "serve", "--config", str(settings_file), "--host", "127.0.0.1"]
    return subprocess.Popen(
        [*command, "--port", str(settings["port"])],
        cwd=folder,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def stop_sekmet(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture(scope="session")
def ehr_server(tmp_path_factory) -> Iterator[EhrServer]:
    if not SEKMET.exists() or not (EXAMPLES / "package.json").exists():
        pytest.fail(
            "Tests against the FHIR server need var/ehr/venv and the HL7 examples in "
            "var/cache: run scripts/setup.sh --dev"
        )
    folder = tmp_path_factory.mktemp("ehr")
    cert_file, key_file = make_tls_files(folder)
    client_key = ec.generate_private_key(ec.SECP384R1())
    client_key_file = folder / "client_key.pem"
    write_private_key(client_key_file, client_key)
    jwk = public_jwk(client_key)
    loader_token = secrets.token_urlsafe(32)
    for attempt in range(3):
        # The port is free when probed; another process may take it before sekmet
        # binds, hence the retries.
        port = free_port()
        settings = ehr_config.sekmet_settings(
            port=port,
            data_dir=folder / f"data-{attempt}",
            certfile=cert_file,
            keyfile=key_file,
            client_jwks={"keys": [jwk]},
            loader_token=loader_token,
        )
        process = start_sekmet(folder, settings)
        writer = FhirWriter(ehr_config.base_url(port), ca_bundle=cert_file, token=loader_token)
        try:
            started = time.monotonic()
            writer.wait_until_up(START_TIMEOUT, pid=process.pid)
            break
        except SeedError:
            stop_sekmet(process)
            if attempt == 2 or time.monotonic() - started > START_TIMEOUT:
                log = (folder / "sekmet.log").read_text()[-3000:]
                pytest.fail(f"sekmet did not start:\n{log}")
    server = EhrServer(
        base_url=ehr_config.base_url(port),
        ca_bundle=str(cert_file),
        client_id=ehr_config.PORTAL_CLIENT_ID,
        client_key_file=client_key_file,
        key_id=jwk["kid"],
        scope=ehr_config.PORTAL_SCOPE,
        writer=writer,
        examples=hl7_examples(),
    )
    try:
        patients = [group[0] for group in server.examples.values()]
        server.load(patients + [r for group in server.examples.values() for r in group[1:]])
        yield server
    finally:
        stop_sekmet(process)

"""The portal's SMART client key from dev-secrets, and what the demo EHR tells the portal."""

import importlib.util
import json
import shlex
import stat
from pathlib import Path

from joserfc import jwk

from ehr import config
from portal.fhir import SmartConfig
from portal.fhir.auth import load_signing_key
from records.sync import default_scope
from refills.fhir import WRITE_SCOPE

ROOT = Path(__file__).resolve().parents[2]


def dev_secrets():
    spec = importlib.util.spec_from_file_location("dev_secrets", ROOT / "scripts/dev-secrets.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_dev_secrets_makes_a_p384_client_key_once_and_publishes_its_thumbprint(tmp_path):
    secrets = dev_secrets()
    secrets.ensure_smart_client_key(tmp_path)
    key_file = tmp_path / "client_key.pem"
    first = key_file.read_bytes()

    secrets.ensure_smart_client_key(tmp_path)

    (public,) = json.loads((tmp_path / "client_jwks.json").read_text())["keys"]
    assert key_file.read_bytes() == first
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert "d" not in public
    assert public["kid"] == jwk.import_key(first, "EC").thumbprint()
    smart = SmartConfig("c", key_file, public["kid"], "system/Patient.rs")
    assert load_signing_key(smart).as_dict(private=False)["x"] == public["x"]


def test_portal_env_names_everything_the_portal_needs_as_absolute_paths(tmp_path):
    jwks = {"keys": [{"kid": "the-kid"}]}

    text = config.portal_env(
        port=8444, ca_bundle=Path("var/tls/cert.pem"), key_file=tmp_path / "k.pem", jwks=jwks
    )

    values = dict(
        shlex.split(line)[0].split("=", 1)
        for line in text.splitlines()
        if line and not line.startswith("#")
    )
    assert values == {
        "FHIR_BASE_URL": "https://127.0.0.1:8444/fhir",
        "FHIR_CA_BUNDLE": str(Path("var/tls/cert.pem").resolve()),
        "FHIR_CLIENT_ID": "carebridge-portal",
        "FHIR_PRIVATE_KEY_FILE": str(tmp_path / "k.pem"),
        "FHIR_KEY_ID": "the-kid",
    }


def test_the_demo_ehr_registers_every_scope_the_portal_asks_for():
    assert set(default_scope().split()) <= set(config.PORTAL_SCOPE.split())


def test_the_demo_ehr_accepts_only_the_scopes_the_portal_asks_for(tmp_path):
    settings = config.sekmet_settings(
        port=1, data_dir=tmp_path, certfile=tmp_path / "c", keyfile=tmp_path / "k",
        client_jwks={"keys": []}, loader_token="t",
    )  # fmt: skip

    (client,) = settings["server_auth"]["smart_clients"]
    assert client["scopes"] == config.PORTAL_SCOPE
    # Read and search everything it shows; create/update only the refill write-back's
    # Task and MedicationRequest (refills.fhir.WRITE_SCOPE), never delete.
    scopes = client["scopes"].split()
    writes = {scope for scope in scopes if not scope.endswith(".rs")}
    assert writes == {"system/Task.cu", "system/MedicationRequest.cu"}
    assert set(WRITE_SCOPE.split()) == writes
    assert settings["host"] == "127.0.0.1"
    assert settings["simulator"] == {"enabled": False}

"""The demo EHR's settings and the portal's view of it.

    python -m ehr.config settings --port N --data-dir D --cert C --key K \\
        --jwks J --loader-token-file T --out var/ehr/settings.yaml
    python -m ehr.config portal-env --port N --ca-bundle C --key-file K \\
        --jwks J --out var/ehr/portal.env

The settings file is JSON, which is YAML too, so no YAML library is needed.
"""

import argparse
import json
import os
import shlex
from pathlib import Path
from typing import Any

PORTAL_CLIENT_ID = "carebridge-portal"
# The resource types the portal reads; it asks for exactly these, read and search only.
PORTAL_READ_TYPES = (
    "Patient",
    "Observation",
    "DiagnosticReport",
    "Encounter",
    "Condition",
    "MedicationRequest",
    "MedicationStatement",
    "AllergyIntolerance",
    "Immunization",
    "DocumentReference",
)
PORTAL_READ_SCOPE = " ".join(f"system/{name}.rs" for name in PORTAL_READ_TYPES)
# What the portal writes back (refill decisions): Tasks and new MedicationRequests, at
# ids of its own choosing (PUT: create or update), and nothing else.
PORTAL_WRITE_TYPES = ("Task", "MedicationRequest")
PORTAL_WRITE_SCOPE = " ".join(f"system/{name}.cu" for name in PORTAL_WRITE_TYPES)
PORTAL_SCOPE = f"{PORTAL_READ_SCOPE} {PORTAL_WRITE_SCOPE}"
TOKEN_LIFETIME = 900


def base_url(port: int) -> str:
    return f"https://127.0.0.1:{port}/fhir"


def sekmet_settings(
    *,
    port: int,
    data_dir: Path,
    certfile: Path,
    keyfile: Path,
    client_jwks: dict[str, Any],
    loader_token: str,
    client_id: str = PORTAL_CLIENT_ID,
    client_scopes: str = PORTAL_SCOPE,
) -> dict[str, Any]:
    """sekmet's settings (sekmet/config.py) for a loopback server over TLS."""
    return {
        # Links in search bundles, the token endpoint (root + /auth/token) and the
        # audience of access tokens all derive from base_url, so it must be exact.
        "base_url": base_url(port),
        "host": "127.0.0.1",
        "port": port,
        "tls_certfile": str(certfile),
        "tls_keyfile": str(keyfile),
        "data_dir": str(data_dir),
        "own_private_key_path": str(data_dir / "sekmet_private.pem"),
        "facility_name": "Carebridge Demo Clinic",
        "server_auth": {
            "types": ["smart", "bearer"],
            "tokens": [loader_token],
            "smart_clients": [
                {"client_id": client_id, "jwks": client_jwks, "scopes": client_scopes}
            ],
            "token_lifetime": TOKEN_LIFETIME,
            "enforce_scopes": True,
        },
        # Refuse what fhir.resources (R4B) refuses, as the portal's validate() does.
        "validation": {"inbound": "strict"},
        # The simulator answers orders with made-up dispenses and results: not for a demo.
        "simulator": {"enabled": False},
        # The traffic log would keep every request and response body (and token).
        "log_inbound": False,
    }


def write_private(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def key_id(jwks: dict[str, Any]) -> str:
    (key,) = jwks["keys"]
    return key["kid"]


def portal_env(*, port: int, ca_bundle: Path, key_file: Path, jwks: dict[str, Any]) -> str:
    values = {
        "FHIR_BASE_URL": base_url(port),
        "FHIR_CA_BUNDLE": str(ca_bundle.resolve()),
        "FHIR_CLIENT_ID": PORTAL_CLIENT_ID,
        "FHIR_PRIVATE_KEY_FILE": str(key_file.resolve()),
        "FHIR_KEY_ID": key_id(jwks),
        # No FHIR_SCOPE: the portal asks for its own narrowest default (settings.py),
        # a subset of what the demo EHR registers it for.
    }
    lines = [f"{name}={shlex.quote(value)}" for name, value in values.items()]
    return (
        "# Written by scripts/ehr.sh start: the demo EHR, for the portal.\n"
        + "\n".join(lines)
        + "\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    settings = commands.add_parser("settings")
    settings.add_argument("--data-dir", type=Path, required=True)
    settings.add_argument("--cert", type=Path, required=True)
    settings.add_argument("--key", type=Path, required=True)
    settings.add_argument("--loader-token-file", type=Path, required=True)
    env = commands.add_parser("portal-env")
    env.add_argument("--ca-bundle", type=Path, required=True)
    env.add_argument("--key-file", type=Path, required=True)
    for command in (settings, env):
        command.add_argument("--port", type=int, required=True)
        command.add_argument("--jwks", type=Path, required=True)
        command.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    jwks = json.loads(args.jwks.read_text())
    if args.command == "settings":
        text = json.dumps(
            sekmet_settings(
                port=args.port,
                data_dir=args.data_dir.resolve(),
                certfile=args.cert.resolve(),
                keyfile=args.key.resolve(),
                client_jwks=jwks,
                loader_token=args.loader_token_file.read_text().strip(),
            ),
            indent=2,
        )
        write_private(args.out, text + "\n")
    else:
        args.out.write_text(
            portal_env(port=args.port, ca_bundle=args.ca_bundle, key_file=args.key_file, jwks=jwks)
        )


if __name__ == "__main__":
    main()

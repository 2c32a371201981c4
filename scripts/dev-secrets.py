"""Create the development secrets under var/ when they are missing.

    var/secret_key                    Django SECRET_KEY
    var/tls/cert.pem, var/tls/key.pem self-signed certificate for https://localhost
    var/audit_signing_key             Ed25519 key signing audit checkpoints and exports
    var/keks                          PHI key-encryption key, version 1 ("1:<base64>")
    var/blind_index_key               key of the PHI blind indexes (base64)
    var/backup_key                    key of the encrypted database backups (base64)
    var/keystore/                     per-patient key shares (0700; portal/crypto/keystore.py)
    var/fhir/client_key.pem           the portal's SMART backend-services key (EC P-384)
    var/fhir/client_jwks.json         its public half as a JWKS, kid = RFC 7638 thumbprint,
                                      to register the portal with the demo EHR
    var/stripe_webhook_secret         the endpoint secret ("whsec_...") shared by the demo's
                                      local hosted payment page and the portal's webhook

Safe to run every time: existing secrets are kept, and the certificate is renewed only
when it is unreadable, does not match its key, or expires within 7 days. Secret files are
0600; directories are 0755 because the local PostgreSQL user must traverse var/.
Production secrets never come from here.
"""

import argparse
import base64
import datetime as dt
import hashlib
import ipaddress
import json
import os
import secrets
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

ROOT = Path(__file__).resolve().parent.parent
RENEW_BEFORE = dt.timedelta(days=7)
VALID_FOR = dt.timedelta(days=365)


def write_private(path: Path, data: bytes) -> None:
    """Replace path atomically with a file that was 0600 from its first byte."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def ensure_secret_key(path: Path) -> None:
    if path.exists() and path.read_text().strip():
        return
    write_private(path, secrets.token_urlsafe(50).encode())
    print(f"Created {path}")


def ensure_webhook_secret(path: Path) -> None:
    """The demo's Stripe endpoint secret: localstripe's hosted page signs with it."""
    if path.exists() and path.read_text().strip():
        return
    write_private(path, ("whsec_" + secrets.token_urlsafe(32)).encode())
    print(f"Created {path}")


def ensure_audit_signing_key(path: Path) -> None:
    """The dev key for audit checkpoints and export manifests (PEM, PKCS#8)."""
    if path.exists() and path.read_text().strip():
        return
    key = ed25519.Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    write_private(path, pem)
    print(f"Created {path}")


def ensure_phi_key(path: Path, prefix: str = "") -> None:
    """A random 32-byte key in base64 (with "1:" for the first key-encryption key)."""
    if path.exists() and path.read_text().strip():
        return
    write_private(path, f"{prefix}{base64.b64encode(secrets.token_bytes(32)).decode()}\n".encode())
    print(f"Created {path}")


def make_self_signed(cert_path: Path, key_path: Path, valid_for: dt.timedelta = VALID_FOR) -> None:
    """Write an EC P-256 key and a self-signed certificate for localhost, 127.0.0.1 and ::1."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + valid_for)
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName("localhost"),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                    x509.IPAddress(ipaddress.ip_address("::1")),
                ]
            ),
            critical=False,
        )
        # A leaf, not a CA; no KeyUsage, so OpenSSL still accepts it as its own trust
        # anchor when a client pins it with cafile=cert.pem.
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    write_private(
        key_path,
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )
    write_private(cert_path, cert.public_bytes(serialization.Encoding.PEM))


def cert_is_usable(cert_path: Path, key_path: Path) -> bool:
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except (OSError, ValueError):
        return False
    same_key = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ) == key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return same_key and cert.not_valid_after_utc - dt.datetime.now(dt.UTC) > RENEW_BEFORE


def ensure_tls(tls_dir: Path) -> None:
    cert_path, key_path = tls_dir / "cert.pem", tls_dir / "key.pem"
    if cert_is_usable(cert_path, key_path):
        return
    make_self_signed(cert_path, key_path)
    print(f"Created a self-signed certificate for localhost in {tls_dir}")


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def public_jwk(key: ec.EllipticCurvePrivateKey) -> dict[str, str]:
    """The public JWK of a P-384 key, its kid the RFC 7638 thumbprint."""
    numbers = key.public_key().public_numbers()
    members = {
        "crv": "P-384",
        "kty": "EC",
        "x": _b64url(numbers.x.to_bytes(48, "big")),
        "y": _b64url(numbers.y.to_bytes(48, "big")),
    }
    # RFC 7638: the required members only, sorted, no whitespace.
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True).encode()
    kid = _b64url(hashlib.sha256(canonical).digest())
    return members | {"alg": "ES384", "use": "sig", "kid": kid}


def ensure_smart_client_key(fhir_dir: Path) -> None:
    """The key the portal signs its SMART client assertions with, kept across runs
    (the EHR registers its public half), and that public half as a JWKS."""
    key_path, jwks_path = fhir_dir / "client_key.pem", fhir_dir / "client_jwks.json"
    try:
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except (OSError, ValueError):
        key = None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp384r1":
        key = ec.generate_private_key(ec.SECP384R1())
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        write_private(key_path, pem)
        print(f"Created {key_path}")
    jwks = json.dumps({"keys": [public_jwk(key)]}, indent=2) + "\n"
    if not jwks_path.exists() or jwks_path.read_text() != jwks:
        jwks_path.write_text(jwks)
        jwks_path.chmod(0o644)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--var-dir",
        type=Path,
        default=Path(os.environ.get("PORTAL_VAR_DIR", ROOT / "var")),
        help="directory for the secrets (default: $PORTAL_VAR_DIR or ./var)",
    )
    var = parser.parse_args().var_dir
    tls = var / "tls"
    tls.mkdir(parents=True, exist_ok=True)
    var.chmod(0o755)
    tls.chmod(0o755)
    ensure_secret_key(var / "secret_key")
    ensure_tls(tls)
    ensure_audit_signing_key(var / "audit_signing_key")
    ensure_phi_key(var / "keks", prefix="1:")
    ensure_phi_key(var / "blind_index_key")
    ensure_phi_key(var / "backup_key")
    (var / "keystore").mkdir(exist_ok=True)
    (var / "keystore").chmod(0o700)
    (var / "fhir").mkdir(exist_ok=True)
    (var / "fhir").chmod(0o755)
    ensure_smart_client_key(var / "fhir")
    ensure_webhook_secret(var / "stripe_webhook_secret")
    # Tighten files left with looser modes by hand or by an older version of this script.
    for path in (
        var / "secret_key",
        tls / "cert.pem",
        tls / "key.pem",
        var / "audit_signing_key",
        var / "keks",
        var / "blind_index_key",
        var / "backup_key",
        var / "fhir" / "client_key.pem",
        var / "stripe_webhook_secret",
    ):
        path.chmod(0o600)


if __name__ == "__main__":
    main()

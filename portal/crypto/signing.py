"""Ed25519 signatures for the audit trail's checkpoints and export manifests.

The private key lives outside the database (PORTAL_AUDIT_SIGNING_KEY or its
``_FILE``), so the database role that writes the trail cannot forge a signed
chain head. Verification accepts the current key's public half plus any old
public keys kept for rotation (PORTAL_AUDIT_OLD_PUBLIC_KEYS). Each signature is
stored with the id of the key that made it.

Nothing here reads Django settings at import time: audit.verify_export uses
it offline, with a public key given on the command line.
"""

import base64
import binascii
import hashlib

from cryptography.exceptions import InvalidSignature  # noqa: TID251
from cryptography.hazmat.primitives import serialization  # noqa: TID251
from cryptography.hazmat.primitives.asymmetric.ed25519 import (  # noqa: TID251
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

ALGORITHM = "Ed25519"


class SigningKeyError(Exception):
    """No signing key is configured, or a configured key cannot be read."""


def _raw_32(text: str) -> bytes:
    """32 raw key bytes written as hex or (URL-safe) base64."""
    text = text.strip()
    candidates = []
    if len(text) == 64:
        candidates.append(lambda: bytes.fromhex(text))
    candidates.append(lambda: base64.b64decode(text + "=" * (-len(text) % 4), validate=True))
    candidates.append(lambda: base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    for decode in candidates:
        try:
            raw = decode()
        except (ValueError, binascii.Error):
            continue
        if len(raw) == 32:
            return raw
    raise SigningKeyError("an Ed25519 key must be PEM, or 32 bytes in hex or base64")


def load_private_key(text: str) -> Ed25519PrivateKey:
    if text.strip().startswith("-----BEGIN"):
        try:
            key = serialization.load_pem_private_key(text.encode(), password=None)
        except ValueError as exc:
            raise SigningKeyError("the signing key is not a readable PEM private key") from exc
        if not isinstance(key, Ed25519PrivateKey):
            raise SigningKeyError("the signing key is not an Ed25519 key")
        return key
    return Ed25519PrivateKey.from_private_bytes(_raw_32(text))


def load_public_key(text: str) -> Ed25519PublicKey:
    if text.strip().startswith("-----BEGIN"):
        try:
            key = serialization.load_pem_public_key(text.encode())
        except ValueError as exc:
            raise SigningKeyError("not a readable PEM public key") from exc
        if not isinstance(key, Ed25519PublicKey):
            raise SigningKeyError("the public key is not an Ed25519 key")
        return key
    return Ed25519PublicKey.from_public_bytes(_raw_32(text))


def public_raw(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_text(key: Ed25519PublicKey) -> str:
    """The form auditors pass to ``--public-key`` and PORTAL_AUDIT_OLD_PUBLIC_KEYS takes."""
    return base64.b64encode(public_raw(key)).decode()


def key_id(key: Ed25519PublicKey) -> str:
    return hashlib.sha256(public_raw(key)).hexdigest()[:16]


def generate_private_pem() -> bytes:
    return Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def verify_with(key: Ed25519PublicKey, message: bytes, signature: bytes) -> bool:
    try:
        key.verify(signature, message)
    except InvalidSignature:
        return False
    return True


# The settings are read on every call (tests change them), but the parsed keys
# are kept per setting value so that verification stays cheap.
_parsed: dict[tuple[str, tuple[str, ...]], tuple[Ed25519PrivateKey | None, dict]] = {}


def _configured() -> tuple[Ed25519PrivateKey | None, dict[str, Ed25519PublicKey]]:
    # Here, not at the top: audit.verify_export uses this module without Django.
    from django.conf import settings

    private_text = settings.AUDIT_SIGNING_KEY
    old = tuple(settings.AUDIT_OLD_PUBLIC_KEYS)
    if (private_text, old) not in _parsed:
        private = load_private_key(private_text) if private_text else None
        publics = [load_public_key(t) for t in old]
        if private is not None:
            publics.insert(0, private.public_key())
        _parsed[(private_text, old)] = (private, {key_id(k): k for k in publics})
    return _parsed[(private_text, old)]


def sign(message: bytes) -> tuple[str, bytes]:
    """(key id, signature) with the configured signing key."""
    private, _ = _configured()
    if private is None:
        raise SigningKeyError("no audit signing key: set PORTAL_AUDIT_SIGNING_KEY(_FILE)")
    return key_id(private.public_key()), private.sign(message)


def verify(message: bytes, signature: bytes, signed_by: str) -> bool:
    """True when a currently accepted key with id ``signed_by`` made this signature."""
    key = _configured()[1].get(signed_by)
    return key is not None and verify_with(key, message, signature)


def current_public_key() -> Ed25519PublicKey:
    private, _ = _configured()
    if private is None:
        raise SigningKeyError("no audit signing key: set PORTAL_AUDIT_SIGNING_KEY(_FILE)")
    return private.public_key()

"""The recovery key pair: key backups are encrypted to its public half (X25519 + HKDF).

The clinic makes the pair once (``manage.py recovery_key``), keeps the private
half offline (paper or a USB stick in a safe, never on the server), and gives
the server only the public half (``PORTAL_RECOVERY_PUBLIC_KEY``). A key backup
needs no secret to be written, so a compromised server cannot read old ones.

Per backup: an ephemeral X25519 key pair; the stream key is
``HKDF-SHA256(X25519(ephemeral, recipient), info = INFO | ephemeral pub | recipient pub)``
and the ephemeral public key travels in the stream's (authenticated) meta.
"""

import base64
import binascii

from cryptography.hazmat.primitives import serialization  # noqa: TID251
from cryptography.hazmat.primitives.asymmetric.x25519 import (  # noqa: TID251
    X25519PrivateKey,
    X25519PublicKey,
)

from portal.crypto.errors import KeyConfigurationError
from portal.crypto.primitives import derive_key

RECOVERY_INFO = b"carebridge:recovery:v1\x00"


def _raw_public(key: X25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def generate() -> tuple[bytes, str]:
    """(private key as PEM, public key as base64) of a new recovery key pair."""
    private = X25519PrivateKey.generate()
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return pem, base64.b64encode(_raw_public(private.public_key())).decode()


def load_public(text: str) -> bytes:
    """The 32 raw bytes of a recovery public key given as base64."""
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise KeyConfigurationError("the recovery public key is not base64") from None
    if len(raw) != 32:
        raise KeyConfigurationError("the recovery public key is not a 32-byte X25519 key")
    return raw


def load_private(pem: bytes) -> X25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except ValueError:
        raise KeyConfigurationError("the recovery key file is not a readable PEM key") from None
    if not isinstance(key, X25519PrivateKey):
        raise KeyConfigurationError("the recovery key file is not an X25519 key")
    return key


def public_of(private: X25519PrivateKey) -> bytes:
    return _raw_public(private.public_key())


def seal_to(recipient: bytes) -> tuple[bytes, bytes]:
    """(stream key, ephemeral public key) for a new backup to ``recipient``."""
    ephemeral = X25519PrivateKey.generate()
    eph_pub = _raw_public(ephemeral.public_key())
    shared = ephemeral.exchange(X25519PublicKey.from_public_bytes(recipient))
    return derive_key(shared, info=RECOVERY_INFO + eph_pub + recipient), eph_pub


def open_with(private: X25519PrivateKey, ephemeral_public: bytes) -> bytes:
    """The stream key of a backup whose ephemeral public key is given."""
    if len(ephemeral_public) != 32:
        raise KeyConfigurationError("the backup's ephemeral key is damaged")
    shared = private.exchange(X25519PublicKey.from_public_bytes(ephemeral_public))
    return derive_key(shared, info=RECOVERY_INFO + ephemeral_public + public_of(private))

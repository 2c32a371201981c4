"""AES-256-GCM and HKDF-SHA256: the package's only use of the `cryptography` library.

Every ciphertext, of a field value or of a wrapped key, has one layout::

    version (1 byte, 0x01) | nonce (12 random bytes) | ciphertext | GCM tag (16 bytes)

Nonces are random. Keys are per patient (and per KEK version and patient for
wrapping), so each key sees few messages, far below the 2**32 messages per key
that NIST SP 800-38D allows with random 96-bit nonces.
"""

import os
import secrets

from cryptography.exceptions import InvalidTag  # noqa: TID251
from cryptography.hazmat.primitives import hashes  # noqa: TID251
from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # noqa: TID251
from cryptography.hazmat.primitives.kdf.hkdf import HKDF  # noqa: TID251

from portal.crypto.errors import InvalidCiphertext

KEY_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16
FORMAT_V1 = b"\x01"
OVERHEAD = len(FORMAT_V1) + NONCE_BYTES + TAG_BYTES


def random_key() -> bytes:
    return secrets.token_bytes(KEY_BYTES)


def derive_key(ikm: bytes, *, info: bytes) -> bytes:
    """HKDF-SHA256 (RFC 5869) without salt: ``ikm`` is already uniformly random key material."""
    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=info).derive(ikm)


class Aead:
    """One AES-256-GCM key, sealing and opening blobs in the v1 layout."""

    __slots__ = ("_gcm",)

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise ValueError("AES-256-GCM needs a 32-byte key")
        self._gcm = AESGCM(key)

    def seal(self, plaintext: bytes, aad: bytes) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return FORMAT_V1 + nonce + self._gcm.encrypt(nonce, plaintext, aad)

    def open(self, blob: bytes, aad: bytes) -> bytes:
        if len(blob) < OVERHEAD or blob[0] != FORMAT_V1[0]:
            raise InvalidCiphertext("not a v1 ciphertext")
        try:
            return self._gcm.decrypt(blob[1 : 1 + NONCE_BYTES], blob[1 + NONCE_BYTES :], aad)
        except InvalidTag:
            raise InvalidCiphertext("the GCM tag does not authenticate") from None

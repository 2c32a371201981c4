"""Wrapping a patient's data key: KEK version v + the patient's key-store share.

    wrapping key = HKDF-SHA256(KEK_v || share, info = "carebridge:patient-kek:v1" || patient id)
    wrapped key  = AES-256-GCM(wrapping key, data key,
                               aad = "carebridge:patient-key:v1" || patient id || v)

Both inputs are needed: the KEK alone (with any database dump) opens nothing
once the share is destroyed, and the key store alone opens nothing without the
KEK and the database. The AAD ties a wrapped key to its patient and version, so
a wrapped key copied onto another patient's row, or relabelled with another
version, does not unwrap.
"""

import uuid

from portal.crypto.primitives import Aead, derive_key

WRAP_INFO = b"carebridge:patient-kek:v1\x00"
WRAP_AAD = b"carebridge:patient-key:v1\x00"


def _wrapping(*, kek: bytes, share: bytes, patient_id: uuid.UUID) -> Aead:
    return Aead(derive_key(kek + share, info=WRAP_INFO + patient_id.bytes))


def _aad(patient_id: uuid.UUID, version: int) -> bytes:
    return WRAP_AAD + patient_id.bytes + version.to_bytes(4, "big")


def wrap(
    data_key: bytes, *, patient_id: uuid.UUID, version: int, kek: bytes, share: bytes
) -> bytes:
    aead = _wrapping(kek=kek, share=share, patient_id=patient_id)
    return aead.seal(data_key, _aad(patient_id, version))


def unwrap(
    wrapped: bytes, *, patient_id: uuid.UUID, version: int, kek: bytes, share: bytes
) -> bytes:
    """The data key; raises InvalidCiphertext when any input is wrong."""
    aead = _wrapping(kek=kek, share=share, patient_id=patient_id)
    return aead.open(wrapped, _aad(patient_id, version))

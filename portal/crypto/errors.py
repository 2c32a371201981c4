"""What can go wrong with PHI keys and ciphertexts. Messages carry ids, never values."""

import uuid


class CryptoError(Exception):
    """Base of every error raised by portal.crypto."""


class KeyConfigurationError(CryptoError):
    """A key setting (PORTAL_KEKS, PORTAL_BLIND_INDEX_KEY, PORTAL_KEY_STORE_DIR) is missing
    or malformed. The message names the setting, never key material."""


class InvalidCiphertext(CryptoError):
    """A blob is not ours, or its GCM tag does not authenticate under the given key and AAD."""


class KeyUnavailable(CryptoError):
    """A patient's data key cannot be unwrapped (no key, share missing, unknown KEK version)."""

    def __init__(self, patient_id: uuid.UUID | None, reason: str) -> None:
        super().__init__(f"data key of patient {patient_id} unavailable: {reason}")
        self.patient_id = patient_id
        self.reason = reason


class PatientKeyShredded(KeyUnavailable):
    """The patient's data key was destroyed on purpose (crypto-shredding)."""

    def __init__(self, patient_id: uuid.UUID | None) -> None:
        super().__init__(patient_id, "shredded")


class DecryptionError(CryptoError):
    """One encrypted field of one row cannot be read.

    Names the model, the field and the row so that the fault can be found, and
    never the plaintext (there is none to give). Raised when an
    :class:`~portal.crypto.fields.Undecryptable` marker is used as data.
    """

    def __init__(
        self, *, model: str, field: str, row_id: object, patient_id: object, reason: str
    ) -> None:
        super().__init__(f"{model}.{field} of row {row_id} cannot be decrypted: {reason}")
        self.model = model
        self.field = field
        self.row_id = row_id
        self.patient_id = patient_id
        self.reason = reason


class ValueDisposed(DecryptionError):
    """The value belonged to a patient whose data key was shredded: gone by design."""

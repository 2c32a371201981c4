"""Secrets that belong to no patient (second factors): sealed under the KEK, or digested.

A TOTP seed has to be read back, so it is sealed::

    key  = HKDF-SHA256(KEK_v, info = "carebridge:site-secret:v1" || purpose)
    blob = v (4 bytes) || AES-256-GCM(key, secret,
                                      aad = "carebridge:site-secret:v1" || model || field
                                            || owner id || v)

The KEK version travels with the blob, so older KEKs still open it until
``manage.py rotate_keys`` has re-sealed it under the newest (``--check``
counts what is left). The owner id (the user's UUID for a second factor) is in
the associated data: a blob copied onto another user's row does not open.
Binding the owner rather than the row's own id is deliberate: django-otp names
devices by an integer primary key that the database assigns at INSERT, after
the value must already be sealed, and what an attacker with write access to
the database would gain by moving a seed is another *user's* sign-in.

A backup code only has to be checked, so it is never stored, sealed or not:
``secret_digest`` is HMAC-SHA256 under a key derived from the blind-index key
and the purpose, over the owner id and the code. A dump therefore holds no
code, and a digest made for one user matches nothing of another's. (Whoever
has the blind-index key *and* a dump can try codes offline: about 2**49 per
user for ten characters of a 31-letter alphabet.) Changing the blind-index key
invalidates every unused backup code; users make new ones on their security page.
"""

import hmac
import struct
import uuid
from functools import lru_cache
from typing import Any

from django.db import models
from django.db.models.query_utils import DeferredAttribute

from portal.crypto import keyring, services
from portal.crypto.errors import DecryptionError, InvalidCiphertext
from portal.crypto.primitives import Aead, derive_key
from portal.crypto.values import Ciphertext, Sealed

CONTEXT = b"carebridge:site-secret:v1\x00"
DIGEST_CONTEXT = b"carebridge:secret-digest:v1\x00"
_VERSION = struct.Struct(">I")


@lru_cache(maxsize=32)
def _aead(kek: bytes, purpose: str) -> Aead:
    return Aead(derive_key(kek, info=CONTEXT + purpose.encode()))


def seal_site_secret(value: bytes, *, purpose: str, aad: bytes) -> bytes:
    """``value`` sealed under the newest KEK for ``purpose``, bound to ``aad``."""
    keks = keyring.keks()
    version = _VERSION.pack(keks.newest)
    return version + _aead(keks.by_version[keks.newest], purpose).seal(
        value, CONTEXT + aad + version
    )


def open_site_secret(blob: bytes, *, purpose: str, aad: bytes) -> bytes:
    """The secret; raises InvalidCiphertext if the blob, its KEK version or ``aad`` is wrong."""
    if len(blob) < _VERSION.size:
        raise InvalidCiphertext("not a site-secret ciphertext")
    version = site_secret_version(blob)
    kek = keyring.keks().by_version.get(version)
    if kek is None:
        raise InvalidCiphertext(f"KEK version {version} is not in PORTAL_KEKS")
    return _aead(kek, purpose).open(blob[_VERSION.size :], CONTEXT + aad + blob[: _VERSION.size])


def site_secret_version(blob: bytes) -> int:
    """The KEK version that sealed ``blob``."""
    version: int = _VERSION.unpack_from(blob)[0]
    return version


@lru_cache(maxsize=32)
def _digest_key(index_key: bytes, purpose: str) -> bytes:
    return derive_key(index_key, info=DIGEST_CONTEXT + purpose.encode())


def secret_digest(value: str, *, purpose: str, owner: uuid.UUID) -> bytes:
    """HMAC-SHA256 of ``value`` for ``owner``: equal only for the same code of the same owner."""
    key = _digest_key(keyring.index_key(), purpose)
    return hmac.digest(key, owner.bytes + b"\x00" + value.encode(), "sha256")


class _SiteSecretAttribute(DeferredAttribute):
    """Opens the stored blob on first read and keeps the plaintext on the instance."""

    field: "SiteSecretField"

    def __get__(self, instance: Any, cls: Any = None) -> Any:
        if instance is None:
            return self
        value = instance.__dict__.get(self.field.attname)
        if value is None:
            value = super().__get__(instance, cls)
        if value.__class__ is Sealed:
            value = instance.__dict__[self.field.attname] = self.field.open_sealed(instance, value)
        return value

    def __set__(self, instance: Any, value: Any) -> None:
        instance.__dict__[self.field.attname] = value


class SiteSecretField(models.Field):  # type: ignore[type-arg]
    """Bytes sealed under the KEK for ``purpose``, bound to model, field and ``owner_field``.

    Stored as bytea. A value read and not changed keeps its stored blob on
    save; a new value (or one that was read) is sealed under the newest KEK.
    A blob that does not open raises :class:`DecryptionError` naming the model,
    field and row, never the value. Only ``isnull`` lookups exist, and
    ``QuerySet.update()`` of this field is refused: rows are written by saving.
    """

    description = "Secret bytes, sealed under the key-encryption key"
    descriptor_class = _SiteSecretAttribute
    empty_strings_allowed = False

    def __init__(
        self, *args: Any, purpose: str, owner_field: str = "user_id", **kwargs: Any
    ) -> None:
        self.purpose = purpose
        self.owner_field = owner_field
        kwargs.setdefault("editable", False)
        super().__init__(*args, **kwargs)

    def deconstruct(self) -> Any:
        name, path, args, kwargs = super().deconstruct()
        kwargs["purpose"] = self.purpose
        if self.owner_field != "user_id":
            kwargs["owner_field"] = self.owner_field
        if kwargs.get("editable") is False:
            del kwargs["editable"]
        return name, path, args, kwargs

    def get_internal_type(self) -> str:
        return "BinaryField"

    def _aad(self, instance: models.Model) -> bytes:
        owner = getattr(instance, self.owner_field)
        if owner is None:
            raise ValueError(f"{self} needs the row's {self.owner_field} before it is sealed")
        owner_bytes = owner.bytes if isinstance(owner, uuid.UUID) else str(owner).encode()
        label = instance._meta.label_lower
        return f"{label}\x00{self.name}\x00".encode() + owner_bytes

    def open_sealed(self, instance: models.Model, sealed: Sealed) -> bytes:
        try:
            return open_site_secret(sealed.blob, purpose=self.purpose, aad=self._aad(instance))
        except (InvalidCiphertext, ValueError) as cause:
            error = DecryptionError(
                model=instance._meta.label_lower,
                field=self.name,
                row_id=instance.pk,
                patient_id=None,
                reason=str(cause),
            )
            services.decrypt_failure_report(error)
            raise error from None

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Sealed | None:
        return None if value is None else Sealed(bytes(value))

    def pre_save(self, model_instance: Any, add: bool) -> Ciphertext | None:
        value = model_instance.__dict__.get(self.attname)
        if value is None:
            return None
        if isinstance(value, Sealed):
            return Ciphertext(value.blob)
        if not isinstance(value, bytes | bytearray | memoryview):
            raise TypeError(f"{self} takes bytes, not {type(value).__name__}")
        return Ciphertext(
            seal_site_secret(bytes(value), purpose=self.purpose, aad=self._aad(model_instance))
        )

    def get_prep_value(self, value: Any) -> Any:
        if value is None or isinstance(value, Ciphertext):
            return value
        raise TypeError(f"{self} is sealed per row: write it by saving a model instance")

    def get_db_prep_value(self, value: Any, connection: Any, prepared: bool = False) -> Any:
        value = self.get_prep_value(value)
        return None if value is None else connection.Database.Binary(bytes(value))

    def get_lookup(self, lookup_name: str) -> Any:
        return super().get_lookup(lookup_name) if lookup_name == "isnull" else None

    def get_transform(self, lookup_name: str) -> None:
        return None

    def value_to_string(self, obj: Any) -> str:
        raise TypeError(f"{self} is secret and is never serialised")


def site_secret_fields() -> list[tuple[type[models.Model], SiteSecretField]]:
    """Every (model, field) that holds a sealed site secret."""
    from django.apps import apps

    return [
        (model, f)
        for model in apps.get_models()
        for f in model._meta.concrete_fields
        if isinstance(f, SiteSecretField)
    ]

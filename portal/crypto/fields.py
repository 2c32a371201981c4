"""Encrypted model fields (text, JSON, date, file contents) and the blind index.

Each value is stored as bytea, ``0x01 | nonce | AES-256-GCM ciphertext+tag``
(primitives.py), under the data key of the row's patient, with associated data
``"carebridge:phi:v1" | app_label.model_name | field name | row primary key``
(``PHIModel.phi_label`` when set: the label a moved model had): a
ciphertext copied to another row, field or model does not decrypt.

Use them on subclasses of :class:`portal.crypto.models.PHIModel` (a system
check insists): the row's UUID primary key exists before the first INSERT,
and ``patient_field`` says whose key to use.

Reading is lazy: loading a row keeps the ciphertext (:class:`Sealed`), and the
first access of an attribute decrypts it and keeps the plaintext on the
instance. Pages show a few of a model's fields, and decryption needs the row
(primary key, patient) that ``from_db_value`` never sees, so decrypting on
access costs only what is shown. A value that cannot be decrypted (tampered,
moved, key unavailable) reads as an :class:`Undecryptable` marker: templates
render it as "[unreadable — reported]" (or "[disposed]" after shredding),
every use as data raises :class:`~portal.crypto.errors.DecryptionError`, and
the failure is audited once per request. The other rows of a page still show.

Writing encrypts in ``pre_save``, so only ``Model.save()``,
``QuerySet.bulk_create()`` and :func:`bulk_update_sealed` (which seals each
row's values for that row first) write these fields. ``QuerySet.update()``,
a plain ``bulk_update()`` and lookups other than ``isnull`` are refused: they
never see a row to encrypt for. ``.values()`` returns :class:`Sealed` ciphertexts, and
``dumpdata`` refuses (it would write plaintext). Find rows by a
:class:`BlindIndexField` instead.
"""

import json
import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any, NoReturn

import orjson
import simplejson
from django import forms
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models.query_utils import DeferredAttribute
from django.utils.dateparse import parse_date

from portal.crypto import selectors, services
from portal.crypto.blind_index import blind_index
from portal.crypto.errors import (
    CryptoError,
    DecryptionError,
    KeyConfigurationError,
    KeyUnavailable,
    PatientKeyShredded,
    ValueDisposed,
)
from portal.crypto.models import PHIModel, row_id_bytes
from portal.crypto.scope import current_scope
from portal.crypto.values import Ciphertext, Sealed, Undecryptable

AAD_PREFIX = b"carebridge:phi:v1\x00"


def _reason(cause: Exception) -> str:
    if isinstance(cause, KeyUnavailable):
        return cause.reason
    if isinstance(cause, CryptoError):
        return str(cause)
    # Decoding errors quote the text they choke on: that would be plaintext.
    return f"the decrypted value is not valid ({type(cause).__name__})"


# (primary key, patient id, primary key as bytes), as set by PHIModel.from_db.
Origin = tuple[Any, uuid.UUID | None, bytes]


class _EncryptedAttribute(DeferredAttribute):
    """A data descriptor, so every read passes here and a Sealed value is decrypted once."""

    field: "EncryptedField"

    def __get__(self, instance: Any, cls: Any = None) -> Any:
        if instance is None:
            return self
        attname = self.field.attname
        value = instance.__dict__.get(attname)
        if value is None:
            value = super().__get__(instance, cls)
        if value.__class__ is Sealed:
            value = instance.__dict__[attname] = self.field.open_sealed(instance, value)
        return value

    def __set__(self, instance: Any, value: Any) -> None:
        instance.__dict__[self.field.attname] = value


class EncryptedField(models.Field):  # type: ignore[type-arg]
    """Base of the encrypted fields; subclasses say how a value becomes bytes and back."""

    descriptor_class = _EncryptedAttribute
    _aad_prefix = AAD_PREFIX
    # The model's label as bound into each value (PHIModel.phi_label).
    phi_label = ""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        for option in ("primary_key", "unique", "db_index"):
            if kwargs.get(option):
                raise TypeError(f"encrypted fields cannot be {option}: use a BlindIndexField")
        super().__init__(*args, **kwargs)

    def encode(self, value: Any) -> bytes:
        raise NotImplementedError

    def decode(self, data: bytes) -> Any:
        raise NotImplementedError

    def get_internal_type(self) -> str:
        return "BinaryField"

    def contribute_to_class(self, cls: Any, name: str, private_only: bool = False) -> None:
        super().contribute_to_class(cls, name, private_only)
        self.phi_label = getattr(cls, "phi_label", None) or cls._meta.label_lower
        self._aad_prefix = AAD_PREFIX + f"{self.phi_label}\x00{name}\x00".encode()

    # --- reading ---------------------------------------------------------------

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Sealed | None:
        return None if value is None else Sealed(bytes(value))

    def open_sealed(self, instance: PHIModel, sealed: Sealed, origin: Origin | None = None) -> Any:
        """The plaintext, or an Undecryptable marker (reported) when it cannot be had."""
        pk, patient_id, row_id = origin or _stored_origin(instance)
        # This runs once per field shown: the scope's cache is read inline.
        scope = current_scope()
        try:
            key = scope.keys.get(patient_id.int) if scope and patient_id else None
            if key is None:
                key = selectors.data_key(patient_id)
            return self.decode(key.open(sealed.blob, self._aad_prefix + row_id))
        except KeyConfigurationError:
            raise  # a broken deployment, not a broken value: fail loudly, audit nothing
        except (CryptoError, ValueError) as cause:
            kind = ValueDisposed if isinstance(cause, PatientKeyShredded) else DecryptionError
            error = kind(
                model=self.phi_label,
                field=self.name,
                row_id=pk,
                patient_id=patient_id,
                reason=_reason(cause),
            )
            services.decrypt_failure_report(error)
            return Undecryptable(error, sealed.blob)

    def value_from_object(self, obj: Any) -> Any:
        value = getattr(obj, self.attname)
        if isinstance(value, Undecryptable):
            # Forms would show the marker and save it back as the new value.
            raise value.error
        return value

    def value_to_string(self, obj: Any) -> NoReturn:
        raise TypeError(f"{self} is encrypted and is never serialised (it would leak plaintext)")

    # --- writing ---------------------------------------------------------------

    def pre_save(self, model_instance: Any, add: bool) -> Ciphertext | None:
        value = model_instance.__dict__.get(self.attname)
        if value is None:
            return None
        stored = _stored_origin(model_instance)
        current = (model_instance.pk, model_instance.phi_patient_id())
        if isinstance(value, Sealed | Undecryptable) and stored[:2] == current:
            # Unchanged and still where it was written: keep the stored bytes
            # (no work, and an undecryptable value is kept as evidence).
            return Ciphertext(value.blob)
        if isinstance(value, Sealed):
            value = self.open_sealed(model_instance, value, stored)
        if isinstance(value, Undecryptable):
            raise value.error
        return Ciphertext(self.seal(model_instance, value))

    def seal(self, instance: PHIModel, value: Any) -> bytes:
        pk, patient_id = instance.pk, instance.phi_patient_id()
        if pk is None or patient_id is None:
            raise ValueError(
                f"{self} needs the row's primary key and patient before it can be encrypted"
            )
        key = services.patient_key_ensure(patient_id=patient_id)
        return key.seal(self.encode(value), self._aad_prefix + row_id_bytes(pk))

    def get_prep_value(self, value: Any) -> Any:
        if value is None or isinstance(value, Ciphertext):
            return value
        raise TypeError(
            f"{self} is encrypted per row: write it by saving a model instance "
            "(QuerySet.update and bulk_update cannot encrypt; look rows up by a blind index)"
        )

    def get_db_prep_value(self, value: Any, connection: Any, prepared: bool = False) -> Any:
        # Any: connection.Database (the driver's DB-API module) is not in the stubs.
        value = self.get_prep_value(value)
        return None if value is None else connection.Database.Binary(bytes(value))

    def get_placeholder(self, value: Any, compiler: Any, connection: Any) -> str:
        # Having this keeps bulk_create on plain multi-row VALUES: PostgreSQL's
        # UNNEST form would send ciphertexts as bytea array literals, each
        # escaped element by element, which costs more than the insert itself.
        return "%s"

    def get_lookup(self, lookup_name: str) -> Any:
        return super().get_lookup(lookup_name) if lookup_name == "isnull" else None

    def get_transform(self, lookup_name: str) -> None:
        return None

    def clean(self, value: Any, model_instance: Any) -> Any:
        if isinstance(value, Undecryptable | Sealed):
            return value
        return super().clean(value, model_instance)


def bulk_update_sealed(rows: list[PHIModel], fields: list[str]) -> int:
    """``bulk_update(rows, fields)`` for stored rows, encrypted fields included.

    Each encrypted value is sealed for its own row (its primary key and
    patient, as ``save()`` would) before the one UPDATE; the instances keep
    their plaintext. Returns the number of rows updated.
    """
    if not rows:
        return 0
    model = type(rows[0])
    sealed = [
        f for f in (model._meta.get_field(n) for n in fields) if isinstance(f, EncryptedField)
    ]
    plaintexts = [{f.attname: row.__dict__.get(f.attname) for f in sealed} for row in rows]
    try:
        for row in rows:
            for f in sealed:
                row.__dict__[f.attname] = f.pre_save(row, add=False)
        return int(model._default_manager.bulk_update(rows, fields))
    finally:
        for row, values in zip(rows, plaintexts, strict=True):
            row.__dict__.update(values)


def _stored_origin(instance: PHIModel) -> Origin:
    """Where the stored ciphertexts were written: the row as loaded, else as it is now."""
    origin: Origin | None = instance.__dict__.get("_phi_origin")
    if origin is not None and origin[1] is not None:
        return origin
    pk = origin[0] if origin is not None else instance.pk
    return pk, instance.phi_patient_id(), row_id_bytes(pk)


class EncryptedTextField(EncryptedField):
    description = "Text, encrypted under the row's patient key"

    def encode(self, value: Any) -> bytes:
        if not isinstance(value, str):
            raise TypeError(f"{self} takes text, not {type(value).__name__}")
        return value.encode()

    def decode(self, data: bytes) -> str:
        return data.decode()

    def to_python(self, value: Any) -> Any:
        return value if value is None or isinstance(value, str) else str(value)

    def formfield(
        self, form_class: Any = None, choices_form_class: Any = None, **kwargs: Any
    ) -> Any:
        return super().formfield(
            form_class=form_class or forms.CharField,
            choices_form_class=choices_form_class,
            **kwargs,
        )


class EncryptedDateField(EncryptedField):
    description = "Date, encrypted under the row's patient key"
    empty_strings_allowed = False

    def encode(self, value: Any) -> bytes:
        if not isinstance(value, date) or isinstance(value, datetime):
            raise TypeError(f"{self} takes a date, not {type(value).__name__}")
        return value.isoformat().encode()

    def decode(self, data: bytes) -> date:
        return date.fromisoformat(data.decode())

    def to_python(self, value: Any) -> Any:
        if isinstance(value, str):
            try:
                parsed = parse_date(value)
            except ValueError:
                parsed = None
            if parsed is None:
                raise ValidationError("Enter a valid date.", code="invalid")
            return parsed
        return value

    def formfield(
        self, form_class: Any = None, choices_form_class: Any = None, **kwargs: Any
    ) -> Any:
        return super().formfield(
            form_class=form_class or forms.DateField,
            choices_form_class=choices_form_class,
            **kwargs,
        )


class EncryptedJSONField(EncryptedField):
    """A JSON document whose decimal numbers survive exactly: 7.10 stays 7.10.

    Numbers with a fraction or exponent decode as ``Decimal`` (not float, which
    would turn a lab's "7.10" into 7.1) and encode back as the same digits. The
    standard library cannot write a Decimal as a JSON number: orjson writes it
    as a raw fragment of its own digits, about ten times faster than simplejson
    (a sync seals two documents per resource); what orjson refuses (integers
    beyond 64 bits, keys that are not strings, non-finite decimals) goes
    through simplejson, which writes the same bytes for everything else.
    """

    description = "JSON document, encrypted under the row's patient key"
    empty_strings_allowed = False

    def encode(self, value: Any) -> bytes:
        try:
            return orjson.dumps(value, default=_orjson_default, option=_ORJSON_OPTIONS)
        except orjson.JSONEncodeError:
            text: str = simplejson.dumps(
                value,
                use_decimal=True,
                default=_json_default,
                separators=(",", ":"),
                ensure_ascii=False,
            )
            return text.encode()

    def decode(self, data: bytes) -> Any:
        return json.loads(data, parse_float=Decimal)

    def formfield(
        self, form_class: Any = None, choices_form_class: Any = None, **kwargs: Any
    ) -> Any:
        return super().formfield(
            form_class=form_class or forms.JSONField,
            choices_form_class=choices_form_class,
            **kwargs,
        )


_django_encoder = DjangoJSONEncoder()


def _json_default(value: Any) -> Any:
    """Dates, UUIDs and the like as Django's JSON encoder writes them."""
    return _django_encoder.default(value)


# Dates and dataclasses go to the default (Django's forms, as with simplejson).
_ORJSON_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def _orjson_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise TypeError("not a JSON number")  # simplejson's turn
        return orjson.Fragment(str(value))
    return _django_encoder.default(value)


class EncryptedBinaryField(EncryptedField):
    """File contents (scans, attachments), encrypted whole; stored in the row."""

    description = "Bytes, encrypted under the row's patient key"
    empty_strings_allowed = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("editable", False)
        super().__init__(*args, **kwargs)

    def deconstruct(self) -> Any:
        name, path, args, kwargs = super().deconstruct()
        if kwargs.get("editable") is False:
            del kwargs["editable"]
        return name, path, args, kwargs

    def encode(self, value: Any) -> bytes:
        if not isinstance(value, bytes | bytearray | memoryview):
            raise TypeError(f"{self} takes bytes, not {type(value).__name__}")
        return bytes(value)

    def decode(self, data: bytes) -> bytes:
        return data


class BlindIndexField(models.Field):  # type: ignore[type-arg]
    """HMAC-SHA256 of a normalised value, for exact lookups without the plaintext.

    With ``source="mrn"`` it follows that (encrypted) field on every save; look
    rows up with ``filter(mrn_index=blind_index(value, purpose="mrn"))``. Equal
    values give equal indexes (that is the point), so it tells which rows share
    a value; each purpose has its own key, so indexes of different purposes
    cannot be matched against each other.
    """

    description = "Blind index (keyed HMAC) of a value"
    empty_strings_allowed = False
    _lookups = frozenset({"exact", "in", "isnull"})

    def __init__(self, *args: Any, purpose: str, source: str | None = None, **kwargs: Any) -> None:
        self.purpose = purpose
        self.source = source
        kwargs.setdefault("editable", False)
        kwargs.setdefault("null", True)
        super().__init__(*args, **kwargs)

    def deconstruct(self) -> Any:
        name, path, args, kwargs = super().deconstruct()
        kwargs["purpose"] = self.purpose
        if self.source is not None:
            kwargs["source"] = self.source
        for option, default in (("editable", False), ("null", True)):
            if kwargs.get(option, not default) is default:
                kwargs.pop(option, None)
        return name, path, args, kwargs

    def get_internal_type(self) -> str:
        return "BinaryField"

    def pre_save(self, model_instance: Any, add: bool) -> bytes | None:
        current = model_instance.__dict__.get(self.attname)
        if self.source is None:
            return current  # type: ignore[no-any-return]
        raw = model_instance.__dict__.get(self.source)
        if isinstance(raw, Sealed | Undecryptable):
            return current  # type: ignore[no-any-return]  # the source did not change
        value = getattr(model_instance, self.source)
        digest = None if value in (None, "") else blind_index(value, purpose=self.purpose)
        model_instance.__dict__[self.attname] = digest
        return digest

    def get_prep_value(self, value: Any) -> bytes | None:
        if value is None:
            return None
        if isinstance(value, bytes | memoryview):
            return bytes(value)
        raise TypeError(f"{self} compares digests: pass blind_index(value, purpose=...)")

    def get_db_prep_value(self, value: Any, connection: Any, prepared: bool = False) -> Any:
        # Any: connection.Database (the driver's DB-API module) is not in the stubs.
        value = value if prepared else self.get_prep_value(value)
        return None if value is None else connection.Database.Binary(value)

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> bytes | None:
        return None if value is None else bytes(value)

    def get_lookup(self, lookup_name: str) -> Any:
        return super().get_lookup(lookup_name) if lookup_name in self._lookups else None

    def get_transform(self, lookup_name: str) -> None:
        return None

"""System checks: production needs its PHI keys; encrypted fields need a PHIModel.

Registered when portal/models.py imports this module (models load at start-up).
"""

from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, register
from django.core.exceptions import FieldDoesNotExist
from django.db import models

from portal.crypto import keyring
from portal.crypto.errors import KeyConfigurationError
from portal.crypto.fields import BlindIndexField, EncryptedField
from portal.crypto.models import PHIModel, patient_model


def _key_setting_error(setting: str, parse: Any, check_id: str, missing: str) -> list[Error]:
    value = getattr(settings, setting, "")
    if not value:
        return [Error(missing, id=check_id)] if settings.PRODUCTION else []
    try:
        parse(value)
    except KeyConfigurationError as exc:
        return [Error(str(exc), id=check_id)]
    return []


@register(Tags.security, deploy=True)
def check_phi_keys(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    errors += _key_setting_error(
        "PORTAL_KEKS",
        keyring.parse_keks,
        "portal.E010",
        "No key-encryption keys: set PORTAL_KEKS or PORTAL_KEKS_FILE "
        "('version:base64 32-byte key', comma-separated, newest version wraps).",
    )
    errors += _key_setting_error(
        "PORTAL_BLIND_INDEX_KEY",
        keyring.parse_index_key,
        "portal.E011",
        "No blind-index key: set PORTAL_BLIND_INDEX_KEY or PORTAL_BLIND_INDEX_KEY_FILE "
        "(base64, 32+ bytes).",
    )
    store = getattr(settings, "PORTAL_KEY_STORE_DIR", "")
    if not store and settings.PRODUCTION:
        errors.append(
            Error(
                "No key store: set PORTAL_KEY_STORE_DIR to the directory of the patients' key "
                "shares (outside the database and its backups; see portal/crypto/__init__.py).",
                id="portal.E012",
            )
        )
    elif store:
        try:
            keyring.key_store()
        except KeyConfigurationError as exc:
            errors.append(Error(str(exc), id="portal.E012"))
    return errors


@register(Tags.models)
def check_encrypted_models(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    for model in apps.get_models():
        errors += model_errors(model)
    return errors


def model_errors(model: type[models.Model]) -> list[CheckMessage]:
    """Why encrypted fields cannot work on ``model`` (empty when they can)."""
    fields = [
        f for f in model._meta.concrete_fields if isinstance(f, EncryptedField | BlindIndexField)
    ]
    if not fields:
        return []
    if not issubclass(model, PHIModel):
        return [
            Error(
                f"{model._meta.label} has encrypted fields but is not a PHIModel.",
                hint="Subclass portal.crypto.models.PHIModel and set patient_field.",
                obj=model,
                id="portal.E013",
            )
        ]
    errors: list[CheckMessage] = []
    pk = model._meta.pk
    if not isinstance(pk, models.UUIDField) or not callable(pk.default):
        errors.append(
            Error(
                f"{model._meta.label} needs a UUID primary key with a default (uuid.uuid4): "
                "ciphertexts are bound to it before the row is inserted.",
                obj=model,
                id="portal.E014",
            )
        )
    patient = patient_model()
    try:
        target = model._meta.get_field(model.patient_field)
    except FieldDoesNotExist:
        target = None
    leads_to_patient = target is not None and (
        (target.primary_key and model is patient)
        or (
            bool(target.many_to_one or target.one_to_one)
            and target.concrete
            and target.related_model is patient
        )
    )
    if not leads_to_patient:
        errors.append(
            Error(
                f"{model._meta.label}.patient_field ({model.patient_field!r}) must name a "
                "ForeignKey or OneToOneField to patients.Patient (or 'id' on Patient itself).",
                obj=model,
                id="portal.E015",
            )
        )
    return errors

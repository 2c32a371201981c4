"""Start-up checks of the EHR connection's configuration (portal.E020 to E024, W020).

A half-set configuration fails at start-up, not at the first patient's sign-in.
Nothing here opens a connection: whether the EHR answers is the sync's business.
"""

from pathlib import Path
from typing import get_args

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register

from portal.fhir.auth import SmartConfig, load_signing_key
from portal.fhir.errors import FhirError

ALGORITHMS = get_args(SmartConfig.__annotations__["algorithm"])


@register(Tags.security)
def check_fhir_configuration(app_configs=None, **kwargs) -> list:
    if not settings.FHIR_BASE_URL:
        return []
    errors = []
    if not settings.FHIR_BASE_URL.startswith("https://"):
        errors.append(Error("FHIR_BASE_URL must be an https:// URL.", id="portal.E020"))
    missing = [
        name
        for name in ("FHIR_CLIENT_ID", "FHIR_KEY_ID", "FHIR_PRIVATE_KEY_FILE")
        if not getattr(settings, name)
    ]
    if missing:
        errors.append(
            Error(
                f"FHIR_BASE_URL is set but {', '.join(missing)} is not.",
                hint="SMART Backend Services needs the client id, key id and private key file "
                "registered with the EHR.",
                id="portal.E021",
            )
        )
    if settings.FHIR_SIGNING_ALG not in ALGORITHMS:
        errors.append(
            Error(f"FHIR_SIGNING_ALG must be one of {', '.join(ALGORITHMS)}.", id="portal.E022")
        )
    elif settings.FHIR_PRIVATE_KEY_FILE and settings.FHIR_KEY_ID:
        errors += _key_errors()
    if settings.FHIR_CA_BUNDLE and not Path(settings.FHIR_CA_BUNDLE).is_file():
        errors.append(Error("FHIR_CA_BUNDLE is not a readable file.", id="portal.E024"))
    return errors


def _key_errors() -> list:
    config = smart_config()
    try:
        load_signing_key(config)
    except FhirError:
        return [
            Error(
                "FHIR_PRIVATE_KEY_FILE is not a readable private key for FHIR_SIGNING_ALG "
                "(ES384: an EC P-384 key; RS384: an RSA key).",
                id="portal.E023",
            )
        ]
    return []


@register(Tags.security, deploy=True)
def check_fhir_configured_in_production(app_configs=None, **kwargs) -> list:
    if settings.PRODUCTION and not settings.FHIR_BASE_URL:
        return [
            Warning(
                "FHIR_BASE_URL is not set: patients' records will never sync from the EHR.",
                id="portal.W020",
            )
        ]
    return []


def smart_config(scope: str = "") -> SmartConfig:
    return SmartConfig(
        client_id=settings.FHIR_CLIENT_ID,
        private_key_file=Path(settings.FHIR_PRIVATE_KEY_FILE),
        key_id=settings.FHIR_KEY_ID,
        scope=scope,
        algorithm=settings.FHIR_SIGNING_ALG,
    )

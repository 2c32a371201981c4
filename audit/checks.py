"""Production refuses to start without a key to sign the audit trail's checkpoints."""

from django.conf import settings
from django.core.checks import Error, Tags, register

from portal.crypto import signing


@register(Tags.security, deploy=True)
def check_audit_signing_key(app_configs: object = None, **kwargs: object) -> list[Error]:
    if not settings.AUDIT_SIGNING_KEY:
        if not settings.PRODUCTION:
            return []
        return [
            Error(
                "No audit signing key: set PORTAL_AUDIT_SIGNING_KEY or "
                "PORTAL_AUDIT_SIGNING_KEY_FILE (an Ed25519 private key, PEM).",
                hint="Without it, truncating the tail of the audit trail goes unnoticed.",
                id="audit.E001",
            )
        ]
    try:
        signing.current_public_key()
        for old in settings.AUDIT_OLD_PUBLIC_KEYS:
            signing.load_public_key(old)
    except signing.SigningKeyError as exc:
        return [Error(f"Audit signing keys unreadable: {exc}.", id="audit.E002")]
    return []

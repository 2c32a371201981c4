"""django-auditlog: field-level change history of configuration models.

Our own trail (audit_event) says who did what to which id; auditlog adds the
before/after values of configuration changes. Values that are PHI or secrets
never reach it in clear: they are masked whole (auditlog's default mask keeps
half of the value, which would leak an e-mail domain).
"""

from auditlog.registry import auditlog
from django.contrib.auth import get_user_model

MASK = "[masked]"


def mask(value: str) -> str:
    return MASK


def register_models() -> None:
    auditlog.register(
        get_user_model(),
        mask_fields=["password", "email"],
        mask_callable="audit.changelog.mask",
        # Sign-ins are in the audit trail already; a diff per sign-in is noise.
        exclude_fields=["last_login"],
    )
    # Care teams (who treats whom) are registered by the patients app, their
    # owner (patients/apps.py): audit, below patients, imports none of its models.

"""Models of the portal app: the PHI key table (portal/crypto) and the rate
limiter's counted events (portal/throttle.py). Patient demographics moved to
patients/models.py (same table).

Importing portal.crypto.checks and portal.crypto.scope here registers the PHI
system checks and the per-request key scope at start-up.
"""

from django.db import models

from portal.crypto import checks, scope  # noqa: F401  (registration at start-up)
from portal.crypto.models import PatientKey

__all__ = ["PatientKey", "ThrottleHit"]


class ThrottleHit(models.Model):
    """One counted event of a rate limit (portal/throttle.py).

    ``key_digest`` is the blind index of the key (an e-mail or client address, a
    user id) under the scope's own purpose, never the key itself.
    """

    scope = models.CharField(max_length=30)
    key_digest = models.BinaryField(max_length=32)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        db_table = "portal_throttle_hit"
        indexes = [
            models.Index(fields=["scope", "key_digest", "created_at"], name="throttle_key_time"),
        ]

    def __str__(self) -> str:
        return f"{self.scope} at {self.created_at:%Y-%m-%d %H:%M:%S}"

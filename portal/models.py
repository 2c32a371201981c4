"""Models of the portal app: the PHI key table (portal/crypto), patient demographics
and the rate limiter's counted events (portal/throttle.py).

Importing portal.crypto.checks and portal.crypto.scope here registers the PHI
system checks and the per-request key scope at start-up.
"""

from django.db import models

from portal.crypto import checks, scope  # noqa: F401  (registration at start-up)
from portal.crypto.fields import (
    BlindIndexField,
    EncryptedBinaryField,
    EncryptedDateField,
    EncryptedJSONField,
    EncryptedTextField,
)
from portal.crypto.models import PatientKey, PHIModel
from records.models import Patient

__all__ = ["PatientDemographics", "PatientKey", "ThrottleHit"]


class PatientDemographics(PHIModel):
    """Who the patient is, as billing and the front desk need it; every value encrypted.

    ``mrn_index`` finds a patient by medical record number without storing it:
    ``filter(mrn_index=blind_index(mrn, purpose="mrn"))``.
    """

    patient = models.OneToOneField(Patient, on_delete=models.PROTECT, related_name="demographics")
    given_name = EncryptedTextField()
    family_name = EncryptedTextField()
    birth_date = EncryptedDateField(null=True, blank=True)
    # Postal address and phone numbers: {"address": [...], "phone": "..."}.
    contact = EncryptedJSONField(default=dict, blank=True)
    mrn = EncryptedTextField(blank=True)
    mrn_index = BlindIndexField(purpose="mrn", source="mrn", unique=True)
    # Scan of the insurance card, as uploaded (image or PDF bytes).
    insurance_card = EncryptedBinaryField(null=True, blank=True)

    patient_field = "patient"

    class Meta:
        db_table = "portal_patient_demographics"
        verbose_name_plural = "patient demographics"

    def __str__(self) -> str:
        return f"demographics of patient {self.patient_id}"


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

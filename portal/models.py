"""Models of the portal app: the PHI key table (portal/crypto) and patient demographics.

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

__all__ = ["PatientDemographics", "PatientKey"]


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

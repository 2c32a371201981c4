"""Patients' clinical records from the EHR (FHIR R4); the patient is patients.Patient.

Clinical content lives only in encrypted fields under the patient's own key
(portal/crypto). What stays in the clear is metadata the sync needs to work
without decrypting: resource type, the EHR's resource id and version, and
``meta.lastUpdated``. Those reveal that a patient has, say, seven
Observations updated on some day, never what they say.
"""

import uuid

from django.db import models
from django.utils import timezone

from patients.models import Patient
from portal.crypto.fields import EncryptedJSONField
from portal.crypto.models import PHIModel
from records.types import ResourceType

__all__ = ["FhirRecord", "Patient", "Quarantine", "QuarantineReason", "ResourceType", "SyncState"]


class FhirRecord(PHIModel):
    """One FHIR resource of one patient, as the EHR sent it, plus its display fields.

    - ``resource``: the resource JSON exactly as received (downloads, re-mapping).
    - ``display``: the few values pages show, mapped once at ingest by the
      type's entry in records/types.py, in the shape its ``*Display`` TypedDict
      states (code text, value and unit as sent, reference range,
      interpretation, status, and ``effective``, the clinical date as an ISO
      string).

    The clinical date is inside ``display``, not a plain column: a clear date
    would tell when a patient had a lab drawn or a visit, which is itself
    health information. Pages load one patient's rows of one type and sort
    them in Python after decrypting (``records.ingest.effective_sort_key``).
    ``last_updated`` is the EHR's ``meta.lastUpdated`` (when the server's copy
    changed, needed in the clear for incremental sync and idempotent upserts).
    """

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="fhir_records")
    resource_type = models.CharField(max_length=40, choices=ResourceType.choices)
    fhir_id = models.CharField(max_length=64)
    version_id = models.CharField(max_length=64, blank=True)
    last_updated = models.DateTimeField(null=True, blank=True)
    resource = EncryptedJSONField()
    display = EncryptedJSONField(default=dict, blank=True)
    stored_at = models.DateTimeField(default=timezone.now)

    patient_field = "patient"

    class Meta:
        db_table = "records_fhir_record"
        constraints = [
            models.UniqueConstraint(
                fields=["patient", "resource_type", "fhir_id"],
                name="records_fhir_record_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.resource_type}/{self.fhir_id} of patient {self.patient_id}"


class QuarantineReason(models.TextChoices):
    FOREIGN_PATIENT = "foreign_patient", "About another patient than the one asked for"
    WRONG_RESOURCE_TYPE = "wrong_resource_type", "Not the resource type asked for"
    NO_ID = "no_id", "No valid resource id"
    INVALID = "invalid", "Failed FHIR R4 validation"


class Quarantine(models.Model):
    """A resource the sync refused; ids and a reason code only, never its content.

    ``detail`` is validate()'s reason (field paths and error kinds, never
    values). The body is not kept: the next sync fetches it again once the
    EHR has fixed it.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="+")
    resource_type = models.CharField(max_length=40)
    fhir_id = models.CharField(max_length=64, blank=True)
    reason = models.CharField(max_length=30, choices=QuarantineReason.choices)
    detail = models.CharField(max_length=200, blank=True)
    received_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "records_quarantine"
        indexes = [models.Index(fields=["received_at"], name="records_quarantine_received")]

    def __str__(self) -> str:
        return f"quarantined {self.resource_type}/{self.fhir_id or '?'} ({self.reason})"


class SyncState(models.Model):
    """Where the sync of one patient's resource type stands (metadata only).

    ``high_water`` is the newest ``meta.lastUpdated`` stored, the next
    incremental query's ``_lastUpdated=gt…`` (the EHR's clock, not ours). It
    moves only when a whole sync finished, so an interrupted unsorted search
    never skips what it had not reached.
    """

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="+")
    resource_type = models.CharField(max_length=40, choices=ResourceType.choices)
    last_synced_at = models.DateTimeField(null=True, blank=True)
    high_water = models.DateTimeField(null=True, blank=True)
    # The last complete (not incremental) sync: the only kind that sees deletions.
    last_complete_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "records_sync_state"
        constraints = [
            models.UniqueConstraint(
                fields=["patient", "resource_type"], name="records_sync_state_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"sync of {self.resource_type} for patient {self.patient_id}"

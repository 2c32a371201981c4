"""The patient key table and the base class of every model with encrypted fields.

Imported by portal/models.py, so these are models of the ``portal`` app.
"""

import uuid
from functools import cache
from typing import Any, ClassVar, Self

from django.db import models
from django.db.models import Q
from django.utils import timezone


class PatientKey(models.Model):
    """A patient's data key, wrapped (portal/crypto/envelope.py); never stored in the clear.

    After crypto-shredding the row stays as the disposal record: ``wrapped_key``
    is empty and ``shredded_at`` says when. Rows are never deleted (PROTECT),
    so a patient's key cannot be silently recreated after disposal.
    """

    patient = models.OneToOneField(
        "patients.Patient", on_delete=models.PROTECT, primary_key=True, related_name="+"
    )
    kek_version = models.PositiveIntegerField()
    wrapped_key = models.BinaryField()
    created_at = models.DateTimeField(default=timezone.now)
    shredded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "portal_patient_key"
        constraints = [
            models.CheckConstraint(
                condition=Q(shredded_at__isnull=True, wrapped_key__gt=b"")
                | Q(shredded_at__isnull=False, wrapped_key=b""),
                name="portal_patient_key_wrapped_unless_shredded",
            ),
        ]
        indexes = [models.Index(fields=["kek_version"], name="portal_patient_key_kek")]

    def __str__(self) -> str:
        return f"data key of patient {self.pk}"


def patient_model() -> type[models.Model]:
    """The patient model (patients.Patient), as PatientKey's relation names it.

    The patients app sits above portal/crypto (its models have encrypted
    fields), so crypto reaches the model through the app registry, not an import.
    """
    return PatientKey._meta.get_field("patient").related_model  # type: ignore[return-value]


def row_id_bytes(pk: object) -> bytes:
    """A UUID primary key as the 16 bytes that end each value's associated data."""
    return pk.bytes if isinstance(pk, uuid.UUID) else uuid.UUID(str(pk)).bytes


@cache
def _patient_attname(model: type["PHIModel"]) -> str:
    return str(model._meta.get_field(model.patient_field).attname)


class PHIModel(models.Model):
    """Base of models with encrypted fields.

    - The primary key is a UUID generated in Python, so it is known before the
      first INSERT: the ciphertext is bound to it (AAD).
    - ``patient_field`` names the field that leads to the patient whose key
      encrypts the row: a ForeignKey/OneToOneField to patients.Patient, or
      ``"id"`` on the patient model itself. A row's patient and primary key are
      its identity; changing either re-encrypts the row's values on save.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)

    patient_field: ClassVar[str] = "patient"
    # The ``app_label.model_name`` bound into every value's associated data;
    # None is the model's own label. A model moved to another app keeps its
    # old label here, or none of its stored values would open.
    phi_label: ClassVar[str | None] = None

    class Meta:
        abstract = True

    @classmethod
    def patient_attname(cls) -> str:
        return _patient_attname(cls)

    def phi_patient_id(self) -> uuid.UUID | None:
        value = getattr(self, self.patient_attname())
        return value if value is None or isinstance(value, uuid.UUID) else uuid.UUID(str(value))

    @classmethod
    def from_db(cls, db: str | None, field_names: Any, values: Any) -> Self:
        instance = super().from_db(db, field_names, values)
        # (row id, patient id, row id bytes) the stored ciphertexts belong to,
        # whatever the instance is changed to later; a deferred patient is None.
        patient_id = instance.__dict__.get(_patient_attname(cls))
        pk = instance.pk
        instance.__dict__["_phi_origin"] = (pk, patient_id, row_id_bytes(pk))
        return instance

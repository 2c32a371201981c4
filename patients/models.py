"""The patient, their demographics, their care teams and emergency access grants.

These models moved here from records, portal and accounts (issue 9) so that
the core (portal/access.py above all) and every feature app can use them
without importing one another. Their tables kept their old names (``db_table``):
no data moved.
"""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from portal.crypto.fields import (
    BlindIndexField,
    EncryptedBinaryField,
    EncryptedDateField,
    EncryptedJSONField,
    EncryptedTextField,
)
from portal.crypto.models import PHIModel
from portal.policy import Role


class Patient(models.Model):
    """The patient whose records the portal holds; a patient user links to one.

    ``fhir_id`` is the patient's logical id on the EHR's FHIR server (blank
    until linked). It is kept in the clear: the sync looks it up and sends it
    in every query (``Observation?patient=<id>``), and it is a server-assigned
    identifier, not a value about the person (unlike an MRN, which has a blind
    index in PatientDemographics).
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    fhir_id = models.CharField(max_length=64, blank=True, db_index=True)
    # When a sync was last queued (sign-in or Refresh): rate-limits Refresh.
    sync_requested_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "records_patient"
        constraints = [
            models.UniqueConstraint(
                fields=["fhir_id"],
                condition=~Q(fhir_id=""),
                name="records_patient_fhir_id_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"patient {self.pk}"


class PatientDemographics(PHIModel):
    """Who the patient is, as billing and the front desk need it; every value encrypted.

    ``mrn_index`` finds a patient by medical record number without storing it:
    ``filter(mrn_index=blind_index(mrn, purpose="mrn"))``. An MRN is unique
    within its assigning system (``mrn_system``, the identifier's URI): two
    facilities may both have a patient "100234".
    """

    patient = models.OneToOneField(Patient, on_delete=models.PROTECT, related_name="demographics")
    given_name = EncryptedTextField()
    family_name = EncryptedTextField()
    birth_date = EncryptedDateField(null=True, blank=True)
    # Postal address and phone numbers: {"address": [...], "phone": "..."}.
    contact = EncryptedJSONField(default=dict, blank=True)
    mrn = EncryptedTextField(blank=True)
    mrn_index = BlindIndexField(purpose="mrn", source="mrn")
    # The identifier system that assigned the MRN (a URI, not about the person).
    mrn_system = models.CharField(max_length=255, blank=True)
    # Scan of the insurance card, as uploaded (image or PDF bytes).
    insurance_card = EncryptedBinaryField(null=True, blank=True)

    patient_field = "patient"
    # Its values were encrypted as portal's model; the label stays in their
    # associated data, or every stored value would stop opening.
    phi_label = "portal.patientdemographics"

    class Meta:
        db_table = "portal_patient_demographics"
        verbose_name_plural = "patient demographics"
        constraints = [
            models.UniqueConstraint(
                fields=["mrn_system", "mrn_index"], name="patients_demographics_mrn_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"demographics of patient {self.patient_id}"


class CareTeam(models.Model):
    """Clinicians who treat a set of patients: the minimum-necessary boundary for charts."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=120, unique=True)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        related_name="care_teams",
        blank=True,
        limit_choices_to={"role__in": [Role.PHYSICIAN, Role.NURSE]},
        help_text="Physicians and nurses only.",
    )
    patients = models.ManyToManyField(Patient, related_name="care_teams", blank=True)

    class Meta:
        db_table = "accounts_careteam"

    def __str__(self) -> str:
        return self.name


class BreakGlassGrant(models.Model):
    """Time-boxed emergency access by a clinician to a patient outside their care teams."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    clinician = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="break_glass_grants"
    )
    patient = models.ForeignKey(
        Patient, on_delete=models.PROTECT, related_name="break_glass_grants"
    )
    # The clinician's own words, required; reviewers read them. Not shown to other staff.
    reason = models.TextField()
    granted_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "accounts_breakglassgrant"
        indexes = [models.Index(fields=["clinician", "patient", "expires_at"])]

    def __str__(self) -> str:
        return f"emergency access {self.pk}"

    @property
    def active(self) -> bool:
        return self.expires_at > timezone.now()


class ProxyGrant(models.Model):
    """One person's right to act for a patient in the portal: a guardian or a caregiver.

    ``proxy`` is empty until the invited person activates (or accepts with the
    account they have). A grant counts while it is accepted, not revoked or
    ended, and today (clinic time) is within ``starts_on``..``ends_on``:
    ``portal.access`` reads it for every request, so ending a grant takes effect
    at once. Guardians of minors are invited by staff, caregivers of adults by
    the patient; the daily job (invitations/tasks.py) narrows a minor's grant at
    12 and ends it at 18 (settings), and ends grants past their date.
    """

    class Kind(models.TextChoices):
        GUARDIAN = "guardian", "Parent or legal guardian of a minor"
        CAREGIVER = "caregiver", "Caregiver of an adult"

    class Scope(models.TextChoices):
        FULL = "full", "Full"
        # No messages, no bills unless guarantor; confidential resources are never
        # shown to any proxy, whatever the scope.
        LIMITED = "limited", "Limited"

    class Relationship(models.TextChoices):
        PARENT = "parent", "Parent"
        LEGAL_GUARDIAN = "legal_guardian", "Legal guardian"
        SPOUSE = "spouse", "Spouse or partner"
        ADULT_CHILD = "adult_child", "Son or daughter"
        OTHER_FAMILY = "other_family", "Other family member"
        FRIEND = "friend", "Friend"
        CARER = "carer", "Professional carer"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="proxy_grants")
    proxy = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="proxy_grants",
    )
    kind = models.CharField(max_length=10, choices=Kind.choices)
    relationship = models.CharField(max_length=20, choices=Relationship.choices)
    scope = models.CharField(max_length=10, choices=Scope.choices)
    # The patient's guarantor sees bills even under a limited scope.
    guarantor = models.BooleanField(default=False)
    starts_on = models.DateField()
    ends_on = models.DateField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    accepted_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # Staff's reason, required when they revoke (never clinical detail).
    revoke_reason = models.CharField(max_length=200, blank=True)
    # Ended by the daily job (past its date, or the minor came of age).
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "patients_proxy_grant"
        indexes = [models.Index(fields=["proxy", "patient"])]

    def __str__(self) -> str:
        return f"proxy grant {self.pk}"

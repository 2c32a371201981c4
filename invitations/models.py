"""Invitations that let a real patient create their portal account, and the links they made.

An invitation belongs to a portal Patient already linked to the EHR (its
``fhir_id`` and demographics come from the EHR's Patient resource). It holds
only a keyed hash of its activation code (invitations/codes.py). A patient has
at most one pending invitation: inviting again revokes the old one.
"""

import uuid
from typing import ClassVar

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from accounts.models import User, UserManager
from patients.models import Patient, ProxyGrant
from portal.policy import Role


class Invitation(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for the patient"
        ACTIVATED = "activated", "Activated"
        REVOKED = "revoked", "Revoked"
        LOCKED = "locked", "Too many wrong tries"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="invitations")
    # Set for an invitation to act for the patient (a guardian, a caregiver): whoever
    # activates it becomes the grant's proxy, not the patient.
    grant = models.OneToOneField(
        ProxyGrant,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="invitation",
    )
    code_digest = models.BinaryField(max_length=32, unique=True, editable=False)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    # Who invited: a front-desk user or administrator; None for manage.py invite_patient.
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    # Whether the code went out by e-mail too (the address itself is not kept).
    emailed = models.BooleanField(default=False)
    failed_attempts = models.PositiveSmallIntegerField(default=0)
    # When it stopped being pending (activated, revoked or locked).
    ended_at = models.DateTimeField(null=True, blank=True)
    # The account the patient made with it.
    account = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="invitations_used",
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["patient"],
                condition=Q(status="pending", grant__isnull=True),
                name="invitations_one_pending_per_patient",
            ),
        ]
        indexes = [models.Index(fields=["status", "created_at"])]

    def __str__(self) -> str:
        return f"invitation {self.pk}"

    @property
    def for_proxy(self) -> bool:
        return self.grant_id is not None

    @property
    def usable(self) -> bool:
        return self.status == self.Status.PENDING and self.expires_at > timezone.now()

    @property
    def state(self) -> str:
        """What staff see: the status, with "expired" for a pending code past its date."""
        if self.status == self.Status.PENDING and self.expires_at <= timezone.now():
            return "expired"
        return str(self.get_status_display())


class PatientLinkManager(UserManager):
    def get_queryset(self) -> models.QuerySet[User]:
        return super().get_queryset().filter(role=Role.PATIENT)


class PatientLink(User):  # type: ignore[django-manager-missing]  # second-factor devices: the plugin cannot follow the proxy
    """A patient account and the record it opens, as administrators review them.

    A proxy of the user model (no table): the admin lists every patient account
    with its patient id, the EHR id and who invited it, and unlinks one.
    """

    objects: ClassVar[PatientLinkManager] = PatientLinkManager()  # type: ignore[assignment]

    class Meta:
        proxy = True
        verbose_name = "patient account link"

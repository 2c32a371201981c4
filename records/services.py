"""Writes about patients: each takes the acting user (and the request's audit context), never
the request, and finds the patient through the access helpers itself."""

import uuid
from enum import StrEnum

from django.db import transaction

from accounts import services as account_services
from accounts.models import User
from audit.context import AuditContext
from portal.access import access_patient
from portal.crypto.services import patient_shred
from records import sync


def patient_dispose(
    *, actor: User, patient_id: uuid.UUID, reason: str, context: AuditContext | None = None
) -> None:
    """Crypto-shred the patient's data and close their account (audited by both parts).

    Administrators only (the view's policy); the patient is named by id, like everywhere.
    """
    with transaction.atomic():
        user = User.objects.filter(patient_id=patient_id, is_active=True).first()
        if user is not None:
            account_services.user_deactivate(actor=actor, user=user, context=context)
        patient_shred(patient_id=patient_id, actor=actor, reason=reason, context=context)


class RefreshOutcome(StrEnum):
    QUEUED = "queued"
    TOO_SOON = "too_soon"  # Refresh was pressed within FHIR_REFRESH_INTERVAL
    UNAVAILABLE = "unavailable"  # no EHR configured, or the patient is not linked to one


def records_refresh(*, actor: User, patient_id: uuid.UUID) -> RefreshOutcome:
    """Queue a sync of the patient's records now (rate-limited and audited by records.sync)."""
    patient = access_patient(actor=actor, patient_id=patient_id)
    try:
        queued = sync.request_sync(patient=patient, actor=actor, reason=sync.SyncReason.REFRESH)
    except sync.SyncUnavailable:
        return RefreshOutcome.UNAVAILABLE
    return RefreshOutcome.QUEUED if queued else RefreshOutcome.TOO_SOON

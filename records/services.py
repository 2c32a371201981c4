"""Writes about patients."""

from django.db import transaction
from django.http import HttpRequest

from accounts import services as account_services
from accounts.models import User
from patients.models import Patient
from portal.crypto.services import patient_shred


def patient_dispose(*, request: HttpRequest, patient: Patient, reason: str) -> None:
    """Crypto-shred the patient's data and close their account (audited by both parts)."""
    with transaction.atomic():
        user = User.objects.filter(patient=patient, is_active=True).first()
        if user is not None:
            account_services.user_deactivate(request=request, user=user)
        patient_shred(patient_id=patient.pk, actor=request.user, reason=reason)

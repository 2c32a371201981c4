"""Emergency access (break-glass): a clinician's time-boxed grant to a patient outside
their care teams, and the administrator's review of it.

Each function changes state and records its audit event in one transaction.
"""

import math
import uuid
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.mail import send_mail
from django.db import transaction
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django_otp.models import Device

from accounts.models import AuthenticatorDevice, BackupCodeDevice, User
from accounts.services import SecondFactorError, refusal
from audit.actions import Action, Outcome, Severity
from audit.context import AuditContext
from audit.services import record
from patients.models import BreakGlassGrant, Patient
from portal import throttle
from portal.access import CLINICAL_ROLES

# Wrong break-glass codes are counted under this throttle scope, per clinician.
BREAK_GLASS_SCOPE = "break_glass"


def break_glass_open(
    *,
    request: HttpRequest,
    actor: User,
    patient_id: uuid.UUID,
    reason: str,
    method: str,
    token: str,
) -> BreakGlassGrant:
    """Grant a clinician time-boxed access to a patient outside their care teams.

    Needs a stated reason and a fresh second-factor code (someone at an
    unlocked workstation cannot do it). High-severity audit event; the privacy
    officer is told by e-mail (ids only) and the grant waits for an admin review.
    """
    if actor.role not in CLINICAL_ROLES:
        raise PermissionDenied
    window = settings.PORTAL_BREAK_GLASS_FAILURE_WINDOW
    with transaction.atomic():
        # Checked and counted in one transaction: the throttle's lock keeps a
        # parallel request from slipping in between.
        verdict = throttle.check(
            scope=BREAK_GLASS_SCOPE,
            key=actor.pk,
            limit=settings.PORTAL_BREAK_GLASS_FAILURE_LIMIT,
            window=window,
        )
        device = None
        if verdict.allowed:
            device = _break_glass_code_accepted(user=actor, method=method, token=token)
            if device is None:
                throttle.hit(scope=BREAK_GLASS_SCOPE, key=actor.pk, window=window)
            else:
                throttle.clear(scope=BREAK_GLASS_SCOPE, key=actor.pk)
        patient = Patient.objects.filter(pk=patient_id).first() if device else None
        if not verdict.allowed:
            record(
                action=Action.BREAK_GLASS,
                outcome=Outcome.DENIED,
                request=request,
                object_type="throttle",
                object_id=BREAK_GLASS_SCOPE,
                severity=Severity.HIGH,
            )
        elif patient is not None:
            grant = BreakGlassGrant.objects.create(
                clinician=actor,
                patient=patient,
                reason=reason,
                expires_at=timezone.now() + timedelta(minutes=settings.PORTAL_BREAK_GLASS_MINUTES),
            )
            record(
                action=Action.BREAK_GLASS,
                request=request,
                patient_id=patient.pk,
                object_type="accounts.breakglassgrant",
                object_id=grant.pk,
                reason=reason,
                severity=Severity.HIGH,
            )
            transaction.on_commit(lambda: _tell_privacy_officer(grant))
        else:
            record(
                action=Action.BREAK_GLASS,
                outcome=Outcome.FAILURE,
                request=request,
                object_type="accounts.breakglassgrant",
                severity=Severity.HIGH,
            )
    if not verdict.allowed:
        wait = math.ceil(verdict.retry_after / 60)
        raise SecondFactorError(
            f"Too many wrong codes for emergency access. Wait {wait} minute"
            f"{'s' if wait != 1 else ''}, then try again. Signing in is not affected."
        )
    if device is None:
        raise refusal(False)
    if patient is None:
        raise SecondFactorError("No patient has that id.")
    return grant


def fresh_second_factor(*, user: User, method: str, token: str) -> bool:
    """A fresh authenticator or backup code for a sensitive act (refills' high-risk
    approvals): the same rules as break-glass, in the caller's transaction."""
    return _break_glass_code_accepted(user=user, method=method, token=token) is not None


def _break_glass_code_accepted(*, user: User, method: str, token: str) -> Device | None:
    """Check a break-glass code without touching the device's sign-in throttle.

    django-otp's verify_token() counts every failure on the device, and that
    count is what throttles signing in; break-glass failures are counted apart
    (BREAK_GLASS_SCOPE). The rest is as for sign-in: the device row is locked
    while the code is checked, a TOTP step once accepted (here or at sign-in)
    is never accepted again, and a backup code works once.
    """
    token = "".join(token.split())
    if method == "totp":
        device = (
            AuthenticatorDevice.objects.select_for_update()
            .filter(user=user, confirmed=True)
            .first()
        )
        totp = device.code_matches(token) if device is not None else None
        if device is None or totp is None:
            return None
        device.last_t = totp.t()
        device.set_last_used_timestamp(commit=False)
        device.save(update_fields=["last_t", "last_used_at"])
        return device
    if method == "backup":
        static = (
            BackupCodeDevice.objects.select_for_update().filter(user=user, confirmed=True).first()
        )
        if static is None or not static.use_code(token):
            return None
        static.set_last_used_timestamp(commit=True)
        return static
    return None


def _tell_privacy_officer(grant: BreakGlassGrant) -> None:
    if not settings.PORTAL_PRIVACY_OFFICER_EMAIL:
        return
    # From the configured address, never the request's Host (the client chooses that).
    review = settings.PORTAL_BASE_URL + reverse("accounts:emergency_access_review")
    send_mail(
        "Carebridge: emergency access granted",
        f"Emergency access {grant.pk} was granted at {grant.granted_at:%Y-%m-%d %H:%M} UTC "
        f"and needs review:\n{review}\n",
        None,
        [settings.PORTAL_PRIVACY_OFFICER_EMAIL],
    )


def break_glass_review(
    *, actor: User, grant_id: uuid.UUID, context: AuditContext | None = None
) -> BreakGlassGrant:
    """Mark an emergency access as reviewed by the administrator ``actor``."""
    with transaction.atomic():
        grant = BreakGlassGrant.objects.select_for_update().get(pk=grant_id, reviewed_at=None)
        grant.reviewed_by = actor
        grant.reviewed_at = timezone.now()
        grant.save(update_fields=["reviewed_by", "reviewed_at"])
        record(
            action=Action.BREAK_GLASS_REVIEWED,
            actor=actor,
            context=context,
            patient_id=grant.patient_id,
            object_type="accounts.breakglassgrant",
            object_id=grant.pk,
        )
    return grant

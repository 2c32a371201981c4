"""Inviting a patient, activating the account, and unlinking it: each step audited.

- ``invite()``: the front desk (or an administrator, or ``manage.py
  invite_patient``) links the EHR's Patient to a portal Patient and issues a
  code. The code is returned once, for the page or the letter, and e-mailed
  when the EHR has an address; only its keyed hash is stored.
- ``identity_check()`` then ``account_create()``: the patient proves who they
  are with the code, their last name and date of birth (one generic refusal for
  any mismatch; tries limited per code and per client address), then makes
  their account. The first sync is queued at once.
- ``unlink()``: an administrator detaches an account from its patient record
  and ends its sessions.

Services take the actor and the audit context, except the two activation steps,
which start a session and so take the request.
"""

import contextlib
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import date, timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils import timezone

from accounts.models import User, UserSession
from accounts.services import session_start
from accounts.tasks import account_email_later
from audit.actions import Action, Outcome, Severity
from audit.context import AuditContext, audit_context
from audit.services import record
from invitations import codes
from invitations.ehr import EhrPatient
from invitations.models import Invitation
from patients.models import Patient, PatientDemographics, ProxyGrant
from portal import throttle
from portal.crypto.scope import key_scope
from portal.policy import Actor, Role
from records.demographics import from_fhir_patient
from records.sync import SyncReason, SyncUnavailable, request_sync, store_demographics

logger = logging.getLogger(__name__)

INVITING_ROLES = frozenset({Role.FRONT_DESK, Role.ADMIN})
# Throttle scope of wrong activation tries, per client address.
ACTIVATION_SCOPE = "activation"
# The session keys of an activation in progress (an anonymous session).
SESSION_INVITATION = "_activation_invitation"
SESSION_VERIFIED_AT = "_activation_verified_at"
# How long a proven identity waits for the account form.
VERIFIED_FOR = 30 * 60
REFUSED = (
    "We couldn't match those details to an invitation. Check the code on your letter or "
    "e-mail, your last name and your date of birth, then try again. If it still fails, "
    "call the clinic for a new code."
)


SIGNED_IN_PATIENT_CODE = (
    "This code makes a new patient account. Sign out first, then enter it again."
)
USE_YOUR_ACCOUNT = (
    "If that is your account, sign in to it, then enter the code again at /activate/: "
    "the access will be added to it."
)


class InvitationError(Exception):
    """The invitation cannot be made; the message is safe to show to staff."""


class ActivationRefused(Exception):
    """Shown to the person activating; the same words whatever was wrong."""

    def __init__(self, message: str = REFUSED) -> None:
        super().__init__(message)


@dataclass(frozen=True)
class Issued:
    invitation: Invitation
    code: str  # in the clear: shown or printed once, never stored

    @property
    def shown_code(self) -> str:
        return codes.shown(self.code)


# --- Inviting ------------------------------------------------------------------------


def invite(
    *,
    actor: Actor | None,
    context: AuditContext,
    found: EhrPatient,
    email: str | None = None,
) -> Issued:
    """Link the EHR patient to a portal Patient and issue a fresh code (old ones revoked).

    ``email``: where to send the code; by default the EHR's address, if any
    ("" sends nothing). Refused when another portal patient has this MRN, or
    when the patient already has an account.
    """
    if actor is not None and actor.role not in INVITING_ROLES:
        raise InvitationError("Only the front desk and administrators invite patients.")
    to = found.email if email is None else email
    now = timezone.now()
    with transaction.atomic(), key_scope():
        patient = store_patient(found)
        if User.objects.filter(patient=patient).exists():
            raise InvitationError("This patient already has a portal account.")
        for old in Invitation.objects.select_for_update().filter(
            patient=patient, grant__isnull=True, status=Invitation.Status.PENDING
        ):
            end_invitation(old, Invitation.Status.REVOKED, actor=actor, context=context)
        code = codes.new_code()
        invitation = Invitation.objects.create(
            patient=patient,
            code_digest=codes.digest(code),
            created_by_id=actor.pk if actor is not None else None,
            created_at=now,
            expires_at=now + timedelta(days=settings.PORTAL_ACTIVATION_CODE_DAYS),
            emailed=bool(to),
        )
        record(
            action=Action.INVITATION_CREATED,
            actor=actor,
            context=context,
            patient_id=patient.pk,
            object_type="invitation.email" if to else "invitation",
            object_id=invitation.pk,
        )
        if to:
            transaction.on_commit(lambda: send_code(to, code, invitation))
    return Issued(invitation=invitation, code=code)


def store_patient(found: EhrPatient) -> Patient:
    """The portal Patient of this EHR patient (made on first use), its demographics
    written from the EHR's resource; refused when another patient holds the MRN."""
    with transaction.atomic(), key_scope():
        patient, _ = Patient.objects.select_for_update().get_or_create(fhir_id=found.fhir_id)
        if store_demographics(patient, from_fhir_patient(found.resource)) == "mrn_conflict":
            raise InvitationError(
                "Another portal patient already has this medical record number. "
                "Ask an administrator to check the two records."
            )
    return patient


def send_code(to: str, code: str, invitation: Invitation) -> None:
    """The invitation e-mail: the code, how to use it, nothing clinical."""
    context = {
        "base_url": settings.PORTAL_BASE_URL,
        "code": codes.shown(code),
        "expires_at": invitation.expires_at,
    }
    subject = render_to_string("invitations/email/invitation_subject.txt", context).strip()
    body = render_to_string("invitations/email/invitation.txt", context)
    try:
        send_mail(subject, body, None, [to])
    except OSError:
        # The letter still works; staff see that the mail may not have gone out.
        logger.warning("invitation e-mail for invitation %s could not be sent", invitation.pk)


def revoke(*, actor: Actor, context: AuditContext, invitation_id: uuid.UUID) -> bool:
    """End a pending invitation; False when there was none pending with this id."""
    if actor.role not in INVITING_ROLES:
        raise InvitationError("Only the front desk and administrators revoke invitations.")
    with transaction.atomic():
        invitation = (
            Invitation.objects.select_for_update()
            .filter(pk=invitation_id, status=Invitation.Status.PENDING)
            .first()
        )
        if invitation is None:
            return False
        end_invitation(invitation, Invitation.Status.REVOKED, actor=actor, context=context)
    return True


def end_invitation(
    invitation: Invitation,
    status: Invitation.Status,
    *,
    actor: Actor | None,
    context: AuditContext,
    account: User | None = None,
) -> None:
    invitation.status = status
    invitation.ended_at = timezone.now()
    invitation.account = account
    invitation.save(update_fields=["status", "ended_at", "account"])
    action = {
        Invitation.Status.REVOKED: Action.INVITATION_REVOKED,
        Invitation.Status.LOCKED: Action.INVITATION_LOCKED,
        Invitation.Status.ACTIVATED: (
            Action.PROXY_ACCEPTED if invitation.for_proxy else Action.ACCOUNT_LINKED
        ),
    }[status]
    record(
        action=action,
        actor=actor,
        context=context,
        patient_id=invitation.patient_id,
        object_type="invitation",
        object_id=invitation.pk,
        severity=Severity.HIGH if status == Invitation.Status.LOCKED else Severity.INFO,
    )


# --- Activating ----------------------------------------------------------------------


def _same_name(a: str, b: str) -> bool:
    def plain(text: str) -> str:
        return " ".join(text.replace("-", " ").replace("'", " ").split()).casefold()

    return bool(a.strip()) and plain(a) == plain(b)


def identity_check(
    *, request: HttpRequest, code: str, family_name: str, birth_date: date
) -> Invitation:
    """Prove the person holds a live code and knows the patient's name and birth date.

    Raises ActivationRefused with one message for every mismatch (unknown,
    expired, used or revoked code; wrong name or date). Wrong tries count
    against the client address (PORTAL_ACTIVATION_LIMIT_PER_CLIENT per
    PORTAL_ACTIVATION_WINDOW) and against the code, which dies after
    PORTAL_ACTIVATION_CODE_TRIES. On success the session remembers the
    invitation for the account form.
    """
    context = audit_context(request)
    window = settings.PORTAL_ACTIVATION_WINDOW
    client = context.client_ip
    invitation: Invitation | None = None
    # Refusals are raised after the transaction: their audit event, the count on the
    # code and the throttle hit must commit.
    with transaction.atomic(), key_scope():
        verdict = throttle.check(
            scope=ACTIVATION_SCOPE,
            key=client,
            limit=settings.PORTAL_ACTIVATION_LIMIT_PER_CLIENT,
            window=window,
        )
        if not verdict.allowed:
            record(
                action=Action.ACTIVATION,
                outcome=Outcome.DENIED,
                context=context,
                object_type="throttle",
                object_id=ACTIVATION_SCOPE,
                severity=Severity.HIGH,
            )
        else:
            invitation = _identity_matched(context, code, family_name, birth_date)
            if invitation is None:
                throttle.hit(scope=ACTIVATION_SCOPE, key=client, window=window)
    if not verdict.allowed:
        minutes = max(1, -(-verdict.retry_after // 60))
        raise ActivationRefused(
            f"Too many tries from this device. Wait {minutes} minutes, or call the clinic."
        )
    if invitation is None:
        raise ActivationRefused()
    request.session[SESSION_INVITATION] = str(invitation.pk)
    request.session[SESSION_VERIFIED_AT] = time.time()
    return invitation


def _identity_matched(
    context: AuditContext, code: str, family_name: str, birth_date: date
) -> Invitation | None:
    """The usable invitation of this code if the name and birth date match; audited."""
    invitation = None
    if codes.well_formed(code):
        invitation = (
            Invitation.objects.select_for_update()
            .filter(code_digest=codes.digest(code))
            .select_related("patient")
            .first()
        )
    matched = False
    if invitation is not None and invitation.usable:
        demographics = PatientDemographics.objects.filter(patient=invitation.patient).first()
        matched = (
            demographics is not None
            and demographics.birth_date == birth_date
            and _same_name(family_name, demographics.family_name)
        )
        if not matched:
            invitation.failed_attempts += 1
            invitation.save(update_fields=["failed_attempts"])
            if invitation.failed_attempts >= settings.PORTAL_ACTIVATION_CODE_TRIES:
                end_invitation(invitation, Invitation.Status.LOCKED, actor=None, context=context)
    record(
        action=Action.ACTIVATION,
        outcome=Outcome.SUCCESS if matched else Outcome.FAILURE,
        context=context,
        patient_id=invitation.patient_id if invitation else None,
        object_type="invitation",
        object_id=invitation.pk if invitation else "",
    )
    return invitation if matched else None


def verified_invitation(request: HttpRequest) -> Invitation | None:
    """The invitation this session proved, while it is fresh and still usable."""
    invitation_id = request.session.get(SESSION_INVITATION)
    verified_at = request.session.get(SESSION_VERIFIED_AT) or 0
    if not invitation_id or time.time() - verified_at > VERIFIED_FOR:
        return None
    invitation = Invitation.objects.filter(pk=invitation_id).first()
    return invitation if invitation is not None and invitation.usable else None


class AccountTaken(ValueError):
    """The username or e-mail address is another account's; the message says which."""


def account_create(*, request: HttpRequest, username: str, email: str, password: str) -> User:
    """Make the patient's account from the proven invitation and sign it in (second factor next).

    The code is spent in the same transaction that links the account, so it
    works once. The first sync is queued at once.
    """
    context = audit_context(request)
    verified = verified_invitation(request)
    with transaction.atomic():
        invitation = (
            Invitation.objects.select_for_update().filter(pk=verified.pk).first()
            if verified is not None
            else None
        )
        if invitation is None or not invitation.usable:
            raise ActivationRefused(
                "This activation has expired. Enter your code and details again."
            )
        if User.objects.filter(username__iexact=username).exists():
            raise AccountTaken("That username is taken. Choose another.")
        if User.objects.filter(email__iexact=email).exists():
            raise AccountTaken(
                "Another account already uses that e-mail address. Use another, or sign in "
                "with that account."
            )
        user = User(
            username=username,
            email=User.objects.normalize_email(email).lower(),
            # An invitation to act for the patient makes a proxy account, with no record
            # of its own; the patient's own invitation makes the patient's account.
            role=Role.PROXY if invitation.for_proxy else Role.PATIENT,
            patient=None if invitation.for_proxy else invitation.patient,
        )
        user.set_password(password)
        try:
            with transaction.atomic():
                user.save()
        except IntegrityError as error:
            raise AccountTaken("That username or e-mail address is taken.") from error
        if invitation.for_proxy:
            grant_take(invitation, user, context)
        else:
            end_invitation(
                invitation, Invitation.Status.ACTIVATED, actor=user, context=context, account=user
            )
        _first_sync(invitation.patient, user)
    for key in (SESSION_INVITATION, SESSION_VERIFIED_AT):
        request.session.pop(key, None)
    session_start(request, user)
    return user


def grant_take(invitation: Invitation, user: User, context: AuditContext) -> ProxyGrant:
    """The proxy invitation's grant goes to this account (the invitation is locked and
    usable; its code was proven); the invitation is spent and the patient told."""
    grant = invitation.grant
    if grant is None or grant.revoked_at is not None or grant.ended_at is not None:
        raise ActivationRefused("This invitation has been withdrawn. Ask for a new one.")
    if grant.patient_id == user.patient_id:
        raise ActivationRefused("This is an invitation to act for yourself.")
    grant.proxy = user
    grant.accepted_at = timezone.now()
    grant.save(update_fields=["proxy", "accepted_at"])
    end_invitation(
        invitation, Invitation.Status.ACTIVATED, actor=user, context=context, account=user
    )
    patient_user = User.objects.filter(patient_id=grant.patient_id, is_active=True).first()
    if patient_user is not None:
        account_email_later(user=patient_user, kind="proxy_access_changed")
    return grant


def grant_accept(*, actor: User, context: AuditContext, request: HttpRequest) -> ProxyGrant:
    """A signed-in person takes the proxy invitation they just proved (never silently:
    the accept page names whose record it is and asks them to confirm)."""
    if actor.role not in (Role.PATIENT, Role.PROXY):
        raise ActivationRefused("A staff account cannot act for a patient. Use a personal account.")
    verified = verified_invitation(request)
    with transaction.atomic():
        invitation = (
            Invitation.objects.select_for_update().filter(pk=verified.pk).first()
            if verified is not None and verified.for_proxy
            else None
        )
        if invitation is None or not invitation.usable:
            raise ActivationRefused("This activation has expired. Enter the code again.")
        grant = grant_take(invitation, actor, context)
    for key in (SESSION_INVITATION, SESSION_VERIFIED_AT):
        request.session.pop(key, None)
    return grant


def _first_sync(patient: Patient, user: User) -> None:
    # SyncUnavailable: no EHR configured (a portal without one), nothing to fetch.
    with contextlib.suppress(SyncUnavailable):
        request_sync(patient=patient, actor=user, reason=SyncReason.ACTIVATION)


# --- Unlinking -----------------------------------------------------------------------


def unlink(*, actor: Actor, context: AuditContext, user_id: uuid.UUID) -> bool:
    """Detach a patient account from its patient record; its sessions end at once.

    The record and the account stay (the account sees no record until it is
    linked again, by a new invitation's account). False when the account is
    not linked.
    """
    if actor.role != Role.ADMIN:
        raise InvitationError("Only administrators unlink accounts.")
    with transaction.atomic():
        user = User.objects.select_for_update().filter(pk=user_id, role=Role.PATIENT).first()
        if user is None or user.patient_id is None:
            return False
        patient_id = user.patient_id
        user.patient = None
        user.save(update_fields=["patient"])
        UserSession.objects.filter(user=user).delete()
        record(
            action=Action.ACCOUNT_UNLINKED,
            actor=actor,
            context=context,
            patient_id=patient_id,
            object_type="accounts.user",
            object_id=user.pk,
            severity=Severity.HIGH,
        )
    return True

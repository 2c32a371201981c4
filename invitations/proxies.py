"""Proxy access: parents and guardians of minors, caregivers of adults.

- ``guardian_invite()``: the front desk, having checked the parent's identity
  and relationship in person, invites them for a minor found on the EHR. The
  scope follows the child's age (``PORTAL_PROXY_FULL_UNDER``: full below it,
  limited from it) and the grant ends the day before the child turns
  ``PORTAL_PROXY_ADULT_AGE``.
- ``caregiver_invite()``: an adult patient invites someone by e-mail to act
  for them, with a scope and an end date (default ``PORTAL_CAREGIVER_MONTHS``).
- Accepting is in invitations/services.py: the invited person proves the
  code with the patient's last name and birth date (``identity_check``), then
  takes the grant with a new proxy account (``account_create``) or, signed
  in, with the account they have (``grant_accept``: never merged silently,
  they confirm on a page that says whose record it is).
- ``proxy_revoke()``: the patient revokes a caregiver; staff (front desk,
  administrators) revoke any grant, with a reason.
- ``proxy_rules_apply()``: the daily job; narrows a minor's grant at the
  limited age, ends grants at the adult age or past their date.

Access is read live (portal.access.active_proxy_grants), so a revoked or
ended grant stops working on the next request in every session; a proxy left
with no record at all is signed out everywhere. Both sides are told by an
e-mail that says only that something changed in the portal.
"""

import uuid
from datetime import date, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import User, UserSession
from accounts.tasks import account_email_later
from audit.actions import Action, Severity
from audit.context import AuditContext
from audit.services import record
from invitations import codes
from invitations.ehr import EhrPatient
from invitations.models import Invitation
from invitations.selectors import age_on
from invitations.services import (
    INVITING_ROLES,
    InvitationError,
    Issued,
    send_code,
    store_patient,
)
from patients.models import PatientDemographics, ProxyGrant
from portal.access import active_proxy_grants, clinic_today
from portal.crypto.scope import key_scope
from portal.policy import Actor, Role

Scope = ProxyGrant.Scope
Relationship = ProxyGrant.Relationship
GUARDIAN_RELATIONSHIPS = (Relationship.PARENT, Relationship.LEGAL_GUARDIAN)


def _birthday(birth_date: date, years: int) -> date:
    try:
        return birth_date.replace(year=birth_date.year + years)
    except ValueError:  # 29 February in a common year
        return date(birth_date.year + years, 3, 1)


def minor_scope(age: int) -> Scope:
    return Scope.FULL if age < settings.PORTAL_PROXY_FULL_UNDER else Scope.LIMITED


def _new_invitation(grant: ProxyGrant, actor: Actor | None) -> tuple[Invitation, str]:
    code = codes.new_code()
    now = timezone.now()
    invitation = Invitation.objects.create(
        patient_id=grant.patient_id,
        grant=grant,
        code_digest=codes.digest(code),
        created_by_id=actor.pk if actor is not None else None,
        created_at=now,
        expires_at=now + timedelta(days=settings.PORTAL_ACTIVATION_CODE_DAYS),
    )
    return invitation, code


def guardian_invite(
    *,
    actor: Actor,
    context: AuditContext,
    found: EhrPatient,
    relationship: str,
    email: str = "",
) -> Issued:
    """A parent or legal guardian of a minor on the EHR; the code is shown (and e-mailed)."""
    if actor.role not in INVITING_ROLES:
        raise InvitationError("Only the front desk and administrators invite guardians.")
    if relationship not in GUARDIAN_RELATIONSHIPS:
        raise InvitationError("A guardian is the child's parent or legal guardian.")
    today = clinic_today()
    if found.birth_date is None:
        raise InvitationError("The EHR has no full birth date for this patient.")
    age = age_on(found.birth_date, today)
    if age >= settings.PORTAL_PROXY_ADULT_AGE:
        raise InvitationError(
            "This patient is an adult: they invite their own caregivers from their portal."
        )
    with transaction.atomic():
        patient = store_patient(found)
        grant = ProxyGrant.objects.create(
            patient=patient,
            kind=ProxyGrant.Kind.GUARDIAN,
            relationship=relationship,
            scope=minor_scope(age),
            starts_on=today,
            ends_on=_birthday(found.birth_date, settings.PORTAL_PROXY_ADULT_AGE)
            - timedelta(days=1),
            created_by_id=actor.pk,
        )
        invitation, code = _new_invitation(grant, actor)
        invitation.emailed = bool(email)
        invitation.save(update_fields=["emailed"])
        record(
            action=Action.PROXY_INVITED,
            actor=actor,
            context=context,
            patient_id=patient.pk,
            object_type="proxy.guardian",
            object_id=grant.pk,
        )
        if email:
            transaction.on_commit(lambda: send_code(email, code, invitation))
    return Issued(invitation=invitation, code=code)


def caregiver_invite(
    *,
    actor: Actor,
    context: AuditContext,
    email: str,
    relationship: str,
    scope: str,
    ends_on: date | None = None,
) -> Issued:
    """The signed-in adult patient invites a caregiver by e-mail to act for them."""
    if actor.role != Role.PATIENT or actor.patient_id is None:
        raise InvitationError("Only a patient invites a caregiver to their own record.")
    today = clinic_today()
    with key_scope():
        demographics = PatientDemographics.objects.filter(patient_id=actor.patient_id).first()
        birth_date = demographics.birth_date if demographics is not None else None
    if birth_date is not None and age_on(birth_date, today) < settings.PORTAL_PROXY_ADULT_AGE:
        raise InvitationError("Ask the clinic: a parent or guardian is invited by the front desk.")
    default_end = _add_months(today, settings.PORTAL_CAREGIVER_MONTHS)
    if ends_on is not None and not today < ends_on <= default_end:
        raise InvitationError(
            f"Choose an end date after today and no later than {default_end:%d %B %Y}."
        )
    with transaction.atomic():
        grant = ProxyGrant.objects.create(
            patient_id=actor.patient_id,
            kind=ProxyGrant.Kind.CAREGIVER,
            relationship=relationship,
            scope=Scope(scope),
            starts_on=today,
            ends_on=ends_on or default_end,
            created_by_id=actor.pk,
        )
        invitation, code = _new_invitation(grant, actor)
        invitation.emailed = True
        invitation.save(update_fields=["emailed"])
        record(
            action=Action.PROXY_INVITED,
            actor=actor,
            context=context,
            patient_id=actor.patient_id,
            object_type="proxy.caregiver",
            object_id=grant.pk,
        )
        transaction.on_commit(lambda: send_code(email, code, invitation))
    return Issued(invitation=invitation, code=code)


def _add_months(day: date, months: int) -> date:
    year, month = divmod(day.month - 1 + months, 12)
    year, month = day.year + year, month + 1
    for last in (31, 30, 29, 28):
        try:
            return date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise ValueError(day)


def proxy_revoke(
    *, actor: Actor, context: AuditContext, grant_id: uuid.UUID, reason: str = ""
) -> bool:
    """End a grant now. The patient revokes their caregivers; staff any grant, with a reason.

    False when there is no such grant the actor may revoke (or it already ended).
    """
    staff = actor.role in INVITING_ROLES
    if staff and not reason.strip():
        raise InvitationError("Give a reason for revoking.")
    with transaction.atomic():
        grants = ProxyGrant.objects.select_for_update().filter(
            pk=grant_id, revoked_at__isnull=True, ended_at__isnull=True
        )
        if not staff:
            if actor.role != Role.PATIENT or actor.patient_id is None:
                return False
            grants = grants.filter(patient_id=actor.patient_id, kind=ProxyGrant.Kind.CAREGIVER)
        grant = grants.first()
        if grant is None:
            return False
        grant.revoked_at = timezone.now()
        grant.revoked_by_id = actor.pk
        grant.revoke_reason = reason.strip()[:200]
        grant.save(update_fields=["revoked_at", "revoked_by", "revoke_reason"])
        Invitation.objects.filter(grant=grant, status=Invitation.Status.PENDING).update(
            status=Invitation.Status.REVOKED, ended_at=grant.revoked_at
        )
        record(
            action=Action.PROXY_REVOKED,
            actor=actor,
            context=context,
            patient_id=grant.patient_id,
            object_type=f"proxy.{grant.kind}",
            object_id=grant.pk,
            severity=Severity.HIGH if staff else Severity.INFO,
        )
        _after_end(grant)
    return True


def proxy_rules_apply(today: date | None = None) -> dict[str, int]:
    """The daily rules: a minor's grant narrows at the limited age and ends at the adult
    age; any grant past its end date ends. Returns the counts (no ids: they are audited)."""
    today = today or clinic_today()
    counts = {"narrowed": 0, "ended": 0}
    live = ProxyGrant.objects.filter(revoked_at__isnull=True, ended_at__isnull=True)
    with key_scope():
        for grant in live.filter(kind=ProxyGrant.Kind.GUARDIAN).select_related("patient"):
            demographics = PatientDemographics.objects.filter(patient=grant.patient).first()
            birth_date = demographics.birth_date if demographics is not None else None
            if birth_date is None:
                continue
            age = age_on(birth_date, today)
            if age >= settings.PORTAL_PROXY_ADULT_AGE:
                counts["ended"] += _end_grant(grant.pk, "age")
            elif grant.scope == Scope.FULL and minor_scope(age) == Scope.LIMITED:
                counts["narrowed"] += _narrow(grant.pk)
    for grant_id in live.filter(ends_on__lt=today).values_list("pk", flat=True):
        counts["ended"] += _end_grant(grant_id, "date")
    return counts


def _narrow(grant_id: uuid.UUID) -> int:
    with transaction.atomic():
        grant = ProxyGrant.objects.select_for_update().get(pk=grant_id)
        if grant.scope != Scope.FULL or grant.ended_at or grant.revoked_at:
            return 0
        grant.scope = Scope.LIMITED
        grant.save(update_fields=["scope"])
        record(
            action=Action.PROXY_NARROWED,
            patient_id=grant.patient_id,
            object_type=f"proxy.{grant.kind}",
            object_id=grant.pk,
        )
        _tell_both(grant)
    return 1


def _end_grant(grant_id: uuid.UUID, why: str) -> int:
    with transaction.atomic():
        grant = ProxyGrant.objects.select_for_update().get(pk=grant_id)
        if grant.ended_at or grant.revoked_at:
            return 0
        grant.ended_at = timezone.now()
        grant.save(update_fields=["ended_at"])
        record(
            action=Action.PROXY_ENDED,
            patient_id=grant.patient_id,
            object_type=f"proxy.{grant.kind}.{why}",
            object_id=grant.pk,
        )
        _after_end(grant)
    return 1


def _after_end(grant: ProxyGrant) -> None:
    """The proxy reaches the record no more (access is read live); with no record left at
    all they are signed out everywhere. Both sides are told."""
    proxy = grant.proxy
    if proxy is not None and proxy.patient_id is None and not active_proxy_grants(proxy).exists():
        UserSession.objects.filter(user=proxy).delete()
    _tell_both(grant)


def _tell_both(grant: ProxyGrant) -> None:
    if grant.proxy is not None:
        account_email_later(user=grant.proxy, kind="proxy_access_changed")
    _tell_the_patient(grant)


def _tell_the_patient(grant: ProxyGrant) -> None:
    patient_user = User.objects.filter(patient_id=grant.patient_id, is_active=True).first()
    if patient_user is not None:
        account_email_later(user=patient_user, kind="proxy_access_changed")

"""Who may see what: roles, the deny-by-default view policy, and which patients an actor sees.

Every view declares its policy with one of the decorators of portal/policy.py
(re-exported here: views import them from portal.access). The
AccessPolicyMiddleware (portal/middleware.py) refuses any view that declares
nothing, so forgetting a declaration fails closed; tests/portal/test_urlconf.py
walks the URLconf to prove every route has one.
"""

import uuid
import zoneinfo
from collections.abc import Callable
from datetime import date
from enum import StrEnum
from functools import wraps
from typing import TypeVar

from django.conf import settings
from django.db.models import Q, QuerySet
from django.http import Http404, HttpResponseBase, HttpResponseNotAllowed
from django.utils import timezone

from patients.models import Patient, ProxyGrant
from portal.policy import (
    ALL_ROLES,
    CLINICAL_ROLES,
    EMAIL_OTP_ROLES,
    NAMESPACE_ROLES,
    PATIENT_SIDE_ROLES,
    STAFF_ROLES,
    Actor,
    Policy,
    Role,
    SignedInRequest,
    public,
    roles,
    sign_in_step,
    view_policy,
)

V = TypeVar("V", bound=Callable[..., HttpResponseBase])

__all__ = [
    "ALL_ROLES",
    "BILLING_ROLES",
    "CLINICAL_ROLES",
    "EMAIL_OTP_ROLES",
    "NAMESPACE_ROLES",
    "PATIENT_SIDE_ROLES",
    "SCHEDULING_ROLES",
    "STAFF_ROLES",
    "Actor",
    "Policy",
    "ProxyFeature",
    "Role",
    "SignedInRequest",
    "access_patient",
    "access_patient_for_billing",
    "access_patient_for_scheduling",
    "active_proxy_grants",
    "clinic_today",
    "clinical_patients",
    "current_patient_id",
    "patient_methods",
    "proxy_allows",
    "proxy_grant",
    "public",
    "record_choose",
    "roles",
    "sign_in_step",
    "via_break_glass",
    "view_policy",
]


# --- Which patients an actor may see ------------------------------------------------


def clinical_patients(actor: Actor) -> QuerySet[Patient]:
    """The patients whose clinical data the actor may see, and no others.

    A patient sees themself; a patient or proxy also sees each patient they
    hold an active proxy grant for; physicians and nurses see the patients of
    their care teams and those of an unexpired break-glass grant; every other
    role sees no clinical data at all.
    """
    if actor.role in PATIENT_SIDE_ROLES:
        granted = Q(pk__in=active_proxy_grants(actor).values("patient_id"))
        if actor.patient_id is not None:
            granted |= Q(pk=actor.patient_id)
        return Patient.objects.filter(granted)
    if actor.role in CLINICAL_ROLES:
        return Patient.objects.filter(
            Q(care_teams__members=actor.pk)
            | Q(
                break_glass_grants__clinician=actor.pk,
                break_glass_grants__expires_at__gt=timezone.now(),
            )
        ).distinct()
    return Patient.objects.none()


def access_patient(*, actor: Actor, patient_id: uuid.UUID) -> Patient:
    """The patient, if the actor may see them; 404 alike for "missing" and "not yours"."""
    patient = clinical_patients(actor).filter(pk=patient_id).first()
    if patient is None:
        raise Http404("No such patient.")
    return patient


def clinic_today() -> date:
    """Today in the clinic's time zone (PORTAL_TIME_ZONE), in requests and jobs alike
    (TIME_ZONE, and so timezone.localdate() in a job, is UTC)."""
    return timezone.localdate(timezone=zoneinfo.ZoneInfo(settings.PORTAL_TIME_ZONE))


def active_proxy_grants(actor: Actor) -> QuerySet[ProxyGrant]:
    """The grants by which the actor acts for others today (the clinic's date).

    Accepted, neither revoked nor ended, and today within their dates. Read on
    every request: a revoked or ended grant stops working at once.
    """
    today = clinic_today()
    return ProxyGrant.objects.filter(
        proxy=actor.pk,
        revoked_at__isnull=True,
        ended_at__isnull=True,
        starts_on__lte=today,
        ends_on__gte=today,
    )


def proxy_grant(*, actor: Actor, patient_id: uuid.UUID) -> ProxyGrant | None:
    """The grant by which the actor sees this patient; None for their own record or none."""
    if actor.role not in PATIENT_SIDE_ROLES or patient_id == actor.patient_id:
        return None
    return active_proxy_grants(actor).filter(patient_id=patient_id).order_by("created_at").first()


class ProxyFeature(StrEnum):
    """What a limited proxy scope leaves out (the record itself is always in scope)."""

    MESSAGES = "messages"
    BILLS = "bills"


def proxy_allows(*, actor: Actor, patient_id: uuid.UUID, feature: ProxyFeature) -> bool:
    """Whether the actor may use this feature of the patient's portal.

    The patient themself: yes. A proxy with a full grant: yes. A limited grant: no
    messages; bills only for the patient's guarantor. Anyone else: no.
    """
    if actor.role in PATIENT_SIDE_ROLES and patient_id == actor.patient_id:
        return True
    grant = proxy_grant(actor=actor, patient_id=patient_id)
    if grant is None:
        return False
    if grant.scope == ProxyGrant.Scope.FULL:
        return True
    return feature == ProxyFeature.BILLS and grant.guarantor


# The session key naming the record a patient or proxy is looking at (a patient id).
ACTING_FOR = "_portal_acting_for"


def current_patient_id(request: SignedInRequest) -> uuid.UUID | None:
    """Whose record the patient pages show: the one chosen on the switch page while a
    grant still allows it, else the user's own, else the first person they act for."""
    actor = request.user
    # A request built without the session middleware (a benchmark's) has no choice made.
    session = getattr(request, "session", None)
    chosen = session.get(ACTING_FOR) if session is not None else None
    if chosen:
        chosen_id = uuid.UUID(chosen)
        if chosen_id == actor.patient_id or proxy_grant(actor=actor, patient_id=chosen_id):
            return chosen_id
        request.session.pop(ACTING_FOR, None)  # the grant ended: back to the default
    if actor.patient_id is not None or actor.role not in PATIENT_SIDE_ROLES:
        return actor.patient_id
    first = active_proxy_grants(actor).order_by("created_at").values_list("patient_id", flat=True)
    return first.first()


def record_choose(request: SignedInRequest, patient_id: uuid.UUID) -> None:
    """Switch the patient pages to this record: the user's own, or one they act for (404)."""
    actor = request.user
    if patient_id != actor.patient_id and proxy_grant(actor=actor, patient_id=patient_id) is None:
        raise Http404("No such patient.")
    request.session[ACTING_FOR] = str(patient_id)


# Roles that see and book any patient's appointments (times, places, visit types) without
# seeing anything clinical: never the reason for a visit.
SCHEDULING_ROLES = frozenset({Role.FRONT_DESK})


def access_patient_for_scheduling(*, actor: Actor, patient_id: uuid.UUID) -> Patient:
    """The patient whose appointments the actor may see and book; 404 alike otherwise.

    Whoever ``access_patient`` admits, and the front desk for every patient.
    """
    if actor.role in SCHEDULING_ROLES:
        patient = Patient.objects.filter(pk=patient_id).first()
        if patient is None:
            raise Http404("No such patient.")
        return patient
    return access_patient(actor=actor, patient_id=patient_id)


# Roles that see and work any patient's bills (statements, payments, refunds) and
# nothing clinical. Clinicians and the front desk never see bills.
BILLING_ROLES = frozenset({Role.BILLING})


def access_patient_for_billing(*, actor: Actor, patient_id: uuid.UUID | None) -> Patient:
    """The patient whose bills the actor may see; 404 alike for missing and not yours.

    Billing staff: any patient. The patient themself, and a proxy whose grant covers
    bills (a full grant, or a limited one as the patient's guarantor). No one else.
    """
    if actor.role in BILLING_ROLES:
        patient = Patient.objects.filter(pk=patient_id).first() if patient_id else None
    elif actor.role in PATIENT_SIDE_ROLES and patient_id is not None:
        allowed = proxy_allows(actor=actor, patient_id=patient_id, feature=ProxyFeature.BILLS)
        patient = access_patient(actor=actor, patient_id=patient_id) if allowed else None
    else:
        patient = None
    if patient is None:
        raise Http404("No such patient.")
    return patient


def via_break_glass(*, actor: Actor, patient: Patient) -> bool:
    """Whether the actor sees this patient only through an emergency grant."""
    if actor.role not in CLINICAL_ROLES:
        return False
    return not patient.care_teams.filter(members=actor.pk).exists()


def patient_methods(*methods: str) -> Callable[[V], V]:
    """``require_http_methods`` for a view under a patient id, the access check first.

    Someone else's (or no one's) patient id is a 404 whatever the method, so a 405
    never tells that the patient exists; only for a patient the actor may see does
    a method the view does not take answer 405.
    """

    def decorate(view: V) -> V:
        @wraps(view)
        def checked(
            request: SignedInRequest, *args: object, patient_id: uuid.UUID, **kwargs: object
        ) -> HttpResponseBase:
            if request.method not in methods:
                access_patient(actor=request.user, patient_id=patient_id)
                return HttpResponseNotAllowed(methods)
            return view(request, *args, patient_id=patient_id, **kwargs)

        return checked  # type: ignore[return-value]

    return decorate

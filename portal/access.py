"""Who may see what: roles, the deny-by-default view policy, and which patients an actor sees.

Every view declares its policy with one of the decorators of portal/policy.py
(re-exported here: views import them from portal.access). The
AccessPolicyMiddleware (portal/middleware.py) refuses any view that declares
nothing, so forgetting a declaration fails closed; tests/portal/test_urlconf.py
walks the URLconf to prove every route has one.
"""

import uuid
from collections.abc import Callable
from functools import wraps
from typing import TypeVar

from django.db.models import Q, QuerySet
from django.http import Http404, HttpResponseBase, HttpResponseNotAllowed
from django.utils import timezone

from patients.models import Patient
from portal.policy import (
    ALL_ROLES,
    CLINICAL_ROLES,
    EMAIL_OTP_ROLES,
    NAMESPACE_ROLES,
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
    "CLINICAL_ROLES",
    "EMAIL_OTP_ROLES",
    "NAMESPACE_ROLES",
    "SCHEDULING_ROLES",
    "STAFF_ROLES",
    "Actor",
    "Policy",
    "Role",
    "SignedInRequest",
    "access_patient",
    "access_patient_for_scheduling",
    "clinical_patients",
    "patient_methods",
    "public",
    "roles",
    "sign_in_step",
    "via_break_glass",
    "view_policy",
]


# --- Which patients an actor may see ------------------------------------------------


def clinical_patients(actor: Actor) -> QuerySet[Patient]:
    """The patients whose clinical data the actor may see, and no others.

    A patient sees themself; physicians and nurses see the patients of their
    care teams and those of an unexpired break-glass grant; every other role
    sees no clinical data at all.
    """
    if actor.role == Role.PATIENT and actor.patient_id is not None:
        return Patient.objects.filter(pk=actor.patient_id)
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

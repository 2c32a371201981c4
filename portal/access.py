"""Who may reach which view: roles, and the deny-by-default view policy.

Every view declares its policy with one of the decorators below. The
AccessPolicyMiddleware (portal/middleware.py) refuses any view that declares
nothing, so forgetting a declaration fails closed; tests/portal/test_urlconf.py
walks the URLconf to prove every route has one.
"""

import uuid
from collections.abc import Callable
from enum import StrEnum
from functools import wraps
from typing import TYPE_CHECKING, TypeVar

from django.contrib.auth.decorators import login_not_required
from django.db import models
from django.http import HttpRequest, HttpResponseBase, HttpResponseNotAllowed

if TYPE_CHECKING:
    from django.db.models import QuerySet

    from accounts.models import User
    from records.models import Patient

V = TypeVar("V", bound=Callable[..., HttpResponseBase])


class SignedInRequest(HttpRequest):
    """For type checking only: the request of a view behind ``@roles(...)``.

    AccessPolicyMiddleware lets such a view run only for a signed-in user with a
    verified second factor, so ``request.user`` is a ``User`` there, never anonymous.
    """

    user: "User"


class Role(models.TextChoices):
    PATIENT = "patient", "Patient"
    PHYSICIAN = "physician", "Physician"
    NURSE = "nurse", "Nurse"
    BILLING = "billing", "Billing"
    FRONT_DESK = "front_desk", "Front desk"
    ADMIN = "admin", "Administrator"
    AUDITOR = "auditor", "Auditor"


ALL_ROLES = frozenset(Role)
STAFF_ROLES = ALL_ROLES - {Role.PATIENT}
CLINICAL_ROLES = frozenset({Role.PHYSICIAN, Role.NURSE})
# Roles that may never use an e-mailed code as their second factor.
EMAIL_OTP_ROLES = frozenset({Role.PATIENT})


class Policy(StrEnum):
    PUBLIC = "public"  # no sign-in at all: sign-in page, password reset, health check
    SIGN_IN_STEP = "sign_in_step"  # signed in with a password, second factor may be pending
    ROLES = "roles"  # signed in, second factor verified, role in the declared set


# URL namespaces whose views come from Django itself; their policy is declared
# here rather than on each view.
NAMESPACE_ROLES: dict[str, frozenset[Role]] = {"admin": frozenset({Role.ADMIN})}


def public(view: V) -> V:
    view.access_policy = Policy.PUBLIC  # type: ignore[attr-defined]
    return login_not_required(view)


def sign_in_step(view: V) -> V:
    """Reachable while the second factor is still pending (verify, enrol, sign out)."""
    view.access_policy = Policy.SIGN_IN_STEP  # type: ignore[attr-defined]
    return view


def roles(*allowed: Role) -> Callable[[V], V]:
    if not allowed:
        raise ValueError("roles() needs at least one role")

    def decorate(view: V) -> V:
        view.access_policy = Policy.ROLES  # type: ignore[attr-defined]
        view.access_roles = frozenset(allowed)  # type: ignore[attr-defined]
        return view

    return decorate


def view_policy(
    view_func: Callable[..., object], namespace: str
) -> tuple[Policy | None, frozenset[Role]]:
    """The declared policy of a resolved view, or (None, ∅) when it declares none."""
    if namespace.split(":")[0] in NAMESPACE_ROLES and not hasattr(view_func, "access_policy"):
        return Policy.ROLES, NAMESPACE_ROLES[namespace.split(":")[0]]
    policy = getattr(view_func, "access_policy", None)
    return policy, getattr(view_func, "access_roles", frozenset())


# --- Which patients an actor may see ------------------------------------------------


def clinical_patients(actor: "User") -> "QuerySet[Patient]":
    """The patients whose clinical data the actor may see, and no others.

    A patient sees themself; physicians and nurses see the patients of their
    care teams and those of an unexpired break-glass grant; every other role
    sees no clinical data at all.
    """
    from django.db.models import Q
    from django.utils import timezone

    from records.models import Patient

    if actor.role == Role.PATIENT and actor.patient_id is not None:
        return Patient.objects.filter(pk=actor.patient_id)
    if actor.role in CLINICAL_ROLES:
        return Patient.objects.filter(
            Q(care_teams__members=actor)
            | Q(
                break_glass_grants__clinician=actor,
                break_glass_grants__expires_at__gt=timezone.now(),
            )
        ).distinct()
    return Patient.objects.none()


def access_patient(*, actor: "User", patient_id: uuid.UUID) -> "Patient":
    """The patient, if the actor may see them; 404 alike for "missing" and "not yours"."""
    from django.http import Http404

    patient = clinical_patients(actor).filter(pk=patient_id).first()
    if patient is None:
        raise Http404("No such patient.")
    return patient


def via_break_glass(*, actor: "User", patient: "Patient") -> bool:
    """Whether the actor sees this patient only through an emergency grant."""
    if actor.role not in CLINICAL_ROLES:
        return False
    return not patient.care_teams.filter(members=actor).exists()


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

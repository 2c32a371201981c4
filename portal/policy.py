"""Who may reach which view: roles, and the deny-by-default view policy.

No models here: audit and patients, below portal/access.py, use these too.
Everything else imports them from portal.access, which re-exports them.

Every view declares its policy with one of the decorators below. The
AccessPolicyMiddleware (portal/middleware.py) refuses any view that declares
nothing, so forgetting a declaration fails closed; tests/portal/test_urlconf.py
walks the URLconf to prove every route has one.
"""

import uuid
from collections.abc import Callable
from enum import StrEnum
from typing import Any, Protocol, TypeVar

from django.contrib.auth.decorators import login_not_required
from django.db import models
from django.http import HttpRequest, HttpResponseBase

V = TypeVar("V", bound=Callable[..., HttpResponseBase])


class Actor(Protocol):
    """The signed-in user as the core sees it: accounts.models.User is one.

    The core may not import a feature app (tests/test_layering.py), not even for
    type checking, so it names what it reads of the actor here.
    """

    @property
    def pk(self) -> Any: ...

    @property
    def role(self) -> str: ...

    @property
    def patient_id(self) -> uuid.UUID | None: ...


class SignedInRequest(HttpRequest):
    """For type checking only: the request of a view behind ``@roles(...)``.

    AccessPolicyMiddleware lets such a view run only for a signed-in user with a
    verified second factor, so ``request.user`` is an actor there, never anonymous.
    """

    user: Actor  # type: ignore[assignment]


class Role(models.TextChoices):
    PATIENT = "patient", "Patient"
    # Acts for patients (a parent, a guardian, a caregiver) and has no record here
    # of their own; a patient who is also someone's caregiver keeps the patient role.
    PROXY = "proxy", "Proxy (parent, guardian or caregiver)"
    PHYSICIAN = "physician", "Physician"
    NURSE = "nurse", "Nurse"
    BILLING = "billing", "Billing"
    FRONT_DESK = "front_desk", "Front desk"
    ADMIN = "admin", "Administrator"
    AUDITOR = "auditor", "Auditor"


ALL_ROLES = frozenset(Role)
# The people whose records these are, and those who act for them: the patient pages.
PATIENT_SIDE_ROLES = frozenset({Role.PATIENT, Role.PROXY})
STAFF_ROLES = ALL_ROLES - PATIENT_SIDE_ROLES
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

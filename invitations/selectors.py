"""Reads for invitations: the EHR search the desk runs, and the letter.

Both take the actor and the audit context and record their own event.
"""

import uuid
from dataclasses import dataclass
from datetime import date

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.utils import timezone

from audit.actions import Action, Outcome
from audit.context import AuditContext
from audit.services import record
from invitations import codes, ehr
from invitations.ehr import EhrPatient
from invitations.letter import letter_pdf as render_letter
from invitations.models import Invitation
from invitations.services import INVITING_ROLES
from patients.models import Patient, PatientDemographics, ProxyGrant
from portal.access import active_proxy_grants, clinic_today
from portal.crypto.scope import key_scope
from portal.fhir import FhirError
from portal.policy import Actor, Role
from records.sync import SyncUnavailable, fhir_client


class EhrUnavailable(Exception):
    """The EHR cannot be searched now; the message is safe to show."""


@dataclass(frozen=True)
class Match:
    """One EHR patient found, and where they stand in the portal."""

    patient: EhrPatient
    # "account", "invited" (a pending code), or "" (not yet invited).
    portal_state: str
    # Under the adult age today: a parent or guardian may be invited for them.
    minor: bool = False


def ehr_patients_find(
    *,
    actor: Actor,
    context: AuditContext,
    mrn: str = "",
    system: str = "",
    family: str = "",
    birth_date: date | None = None,
) -> list[Match]:
    """EHR patients matching an MRN, or a family name and birth date (desk and admin only).

    One audit event per search, with the number found (never the terms).
    """
    if actor.role not in INVITING_ROLES:
        raise PermissionDenied
    try:
        with fhir_client() as client:
            found = ehr.search(client, mrn=mrn, system=system, family=family, birth_date=birth_date)
    except SyncUnavailable:
        raise EhrUnavailable("No EHR is connected to the portal.") from None
    except FhirError:
        raise EhrUnavailable("The EHR did not answer. Try again in a minute.") from None
    record(
        action=Action.EHR_PATIENT_SEARCH,
        outcome=Outcome.SUCCESS if found else Outcome.FAILURE,
        actor=actor,
        context=context,
        object_type="Patient",
        object_id=len(found),
    )
    states = _portal_states([p.fhir_id for p in found])
    today = clinic_today()
    return [
        Match(
            patient=p,
            portal_state=states.get(p.fhir_id, ""),
            minor=p.birth_date is not None
            and age_on(p.birth_date, today) < settings.PORTAL_PROXY_ADULT_AGE,
        )
        for p in found
    ]


def age_on(birth_date: date, day: date) -> int:
    """Whole years; someone born on 29 February turns a year older on 1 March."""
    return day.year - birth_date.year - ((day.month, day.day) < (birth_date.month, birth_date.day))


def _portal_states(fhir_ids: list[str]) -> dict[str, str]:
    states: dict[str, str] = {}
    for patient in Patient.objects.filter(fhir_id__in=fhir_ids).prefetch_related("invitations"):
        if hasattr(patient, "user"):
            states[patient.fhir_id] = "account"
        elif any(i.usable for i in patient.invitations.all()):
            states[patient.fhir_id] = "invited"
    return states


def ehr_patient(*, actor: Actor, fhir_id: str) -> EhrPatient:
    """The EHR's Patient to invite, read again by id (never trusted from the form)."""
    if actor.role not in INVITING_ROLES:
        raise PermissionDenied
    try:
        with fhir_client() as client:
            found = ehr.fetch(client, fhir_id)
    except SyncUnavailable:
        raise EhrUnavailable("No EHR is connected to the portal.") from None
    except FhirError:
        raise EhrUnavailable("The EHR did not answer. Try again in a minute.") from None
    if found is None:
        raise Http404("No such patient on the EHR.")
    return found


def letter_pdf(
    *, actor: Actor, context: AuditContext, invitation_id: uuid.UUID, code: str
) -> bytes:
    """The invitation letter, for a pending invitation whose code the desk was just shown.

    A wrong code or an invitation that is no longer pending is a 404 (the stored
    hash cannot give the code back, so nothing else could print it).
    """
    if actor.role not in INVITING_ROLES:
        raise PermissionDenied
    invitation = Invitation.objects.filter(pk=invitation_id).first()
    if (
        invitation is None
        or not invitation.usable
        or not codes.well_formed(code)
        or bytes(invitation.code_digest) != codes.digest(code)
    ):
        raise Http404("No such invitation.")
    with key_scope():
        demographics = PatientDemographics.objects.get(patient_id=invitation.patient_id)
        contact = demographics.contact if isinstance(demographics.contact, dict) else {}
        pdf = render_letter(
            name=f"{demographics.given_name} {demographics.family_name}".strip(),
            address=list(contact.get("address") or []),
            code=codes.shown(codes.normalise(code)),
            expires_at=invitation.expires_at,
            today=timezone.now(),
            for_guardian=invitation.for_proxy,
        )
    record(
        action=Action.INVITATION_LETTER,
        actor=actor,
        context=context,
        patient_id=invitation.patient_id,
        object_type="invitation",
        object_id=invitation.pk,
    )
    return pdf


# --- Proxy access --------------------------------------------------------------------


@dataclass(frozen=True)
class RecordChoice:
    """One record the actor may open on the patient pages."""

    patient_id: uuid.UUID
    name: str
    # "" for the actor's own record; else how they are related (as the grant says).
    relationship: str
    limited: bool


def record_choices(*, actor: Actor, context: AuditContext) -> list[RecordChoice]:
    """The actor's own record (if any) and each one they act for today, by name.

    The names of the people they act for are shown: one view event per person.
    """
    choices = []
    if actor.patient_id is not None:
        choices.append(RecordChoice(actor.patient_id, "Your own record", "", False))
    grants = list(active_proxy_grants(actor).order_by("created_at"))
    with key_scope():
        names = {
            d.patient_id: f"{d.given_name} {d.family_name}".strip()
            for d in PatientDemographics.objects.filter(
                patient_id__in=[g.patient_id for g in grants]
            )
        }
    for grant in grants:
        choices.append(
            RecordChoice(
                grant.patient_id,
                names.get(grant.patient_id, "A patient"),
                grant.get_relationship_display(),
                grant.scope == ProxyGrant.Scope.LIMITED,
            )
        )
        record(
            action=Action.RECORD_VIEW,
            actor=actor,
            context=context,
            patient_id=grant.patient_id,
            object_type="Patient",
        )
    return choices


@dataclass(frozen=True)
class SharingPage:
    # Everyone invited to act for the actor, newest first, in every state.
    grants: list[ProxyGrant]
    # Whom the actor acts for (names are on the switch page).
    acting_for: int


def sharing_page(*, actor: Actor) -> SharingPage:
    """Who may see the actor's own record (their own data: proxies' usernames, states)."""
    if actor.role != Role.PATIENT or actor.patient_id is None:
        raise PermissionDenied
    grants = list(
        ProxyGrant.objects.filter(patient_id=actor.patient_id)
        .select_related("proxy")
        .order_by("-created_at")
    )
    return SharingPage(grants=grants, acting_for=active_proxy_grants(actor).count())


@dataclass(frozen=True)
class Offer:
    """What a signed-in person is asked to confirm before taking a proxy invitation."""

    name: str
    relationship: str
    limited: bool
    ends_on: date


def proxy_offer(*, actor: Actor, context: AuditContext, invitation: Invitation) -> Offer:
    """The proven invitation's patient, by name, for the accept page (one view event)."""
    grant = invitation.grant
    if grant is None:
        raise Http404("No such invitation.")
    with key_scope():
        demographics = PatientDemographics.objects.filter(patient_id=grant.patient_id).first()
        name = (
            f"{demographics.given_name} {demographics.family_name}".strip() if demographics else ""
        )
    record(
        action=Action.RECORD_VIEW,
        actor=actor,
        context=context,
        patient_id=grant.patient_id,
        object_type="Patient",
    )
    return Offer(
        name=name or "the patient",
        relationship=grant.get_relationship_display(),
        limited=grant.scope == ProxyGrant.Scope.LIMITED,
        ends_on=grant.ends_on,
    )

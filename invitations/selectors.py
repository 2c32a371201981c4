"""Reads for invitations: the EHR search the desk runs, and the letter.

Both take the actor and the audit context and record their own event.
"""

import uuid
from dataclasses import dataclass
from datetime import date

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
from patients.models import Patient, PatientDemographics
from portal.crypto.scope import key_scope
from portal.fhir import FhirError
from portal.policy import Actor
from records.sync import SyncUnavailable, fhir_client


class EhrUnavailable(Exception):
    """The EHR cannot be searched now; the message is safe to show."""


@dataclass(frozen=True)
class Match:
    """One EHR patient found, and where they stand in the portal."""

    patient: EhrPatient
    # "account", "invited" (a pending code), or "" (not yet invited).
    portal_state: str


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
    return [Match(patient=p, portal_state=states.get(p.fhir_id, "")) for p in found]


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

"""Reads of patient data; each takes the acting user and returns only what they may see."""

from accounts.models import CareTeam
from portal.access import Role, clinical_patients, via_break_glass
from portal.crypto.blind_index import blind_index
from portal.models import PatientDemographics
from records.models import Patient


def patient_list(*, actor) -> list[Patient]:
    """The patients on the actor's care teams (emergency grants are opened by id, not listed)."""
    return list(
        clinical_patients(actor).filter(care_teams__members=actor).distinct().order_by("created_at")
    )


def chart_context(*, actor, patient: Patient) -> dict:
    return {
        "patient": patient,
        "demographics": demographics_of(patient=patient),
        "care_teams": list(CareTeam.objects.filter(patients=patient).order_by("name")),
        "break_glass": via_break_glass(actor=actor, patient=patient),
        "grant": patient.break_glass_grants.filter(clinician=actor).order_by("-expires_at").first(),
    }


# Roles that may look up who a patient is (name, birth date, contact), without
# any clinical data: billing for statements, the front desk for schedules.
DEMOGRAPHICS_ROLES = frozenset({Role.BILLING, Role.FRONT_DESK})


def demographics_by_mrn(*, actor, mrn: str) -> PatientDemographics | None:
    """One patient's demographics by exact MRN (blind index: the MRN itself is not stored)."""
    if actor.role not in DEMOGRAPHICS_ROLES:
        return None
    return (
        PatientDemographics.objects.filter(mrn_index=blind_index(mrn, purpose="mrn"))
        .select_related("patient")
        .first()
    )


def demographics_of(*, patient: Patient) -> PatientDemographics | None:
    return PatientDemographics.objects.filter(patient=patient).first()

"""Reads of patient data; each takes the acting user and returns only what they may see."""

from accounts.models import CareTeam
from portal.access import clinical_patients, via_break_glass
from records.models import Patient


def patient_list(*, actor) -> list[Patient]:
    """The patients on the actor's care teams (emergency grants are opened by id, not listed)."""
    return list(
        clinical_patients(actor).filter(care_teams__members=actor).distinct().order_by("created_at")
    )


def chart_context(*, actor, patient: Patient) -> dict:
    return {
        "patient": patient,
        "care_teams": list(CareTeam.objects.filter(patients=patient).order_by("name")),
        "break_glass": via_break_glass(actor=actor, patient=patient),
        "grant": patient.break_glass_grants.filter(clinician=actor).order_by("-expires_at").first(),
    }

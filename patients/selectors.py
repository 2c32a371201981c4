"""Reads of who a patient is, for the staff who need it without anything clinical.

In the core (below every feature app), so that records' directory, the front
desk's scheduling and billing all find a patient by MRN the same way.
"""

from audit.actions import Action, Outcome
from audit.context import AuditContext
from audit.services import record
from patients.models import PatientDemographics
from portal.crypto.blind_index import blind_index
from portal.policy import Actor, Role

# Roles that may look up who a patient is (name, birth date, contact), without
# any clinical data: billing for statements, the front desk for schedules.
DEMOGRAPHICS_ROLES = frozenset({Role.BILLING, Role.FRONT_DESK})


def demographics_by_mrn(
    *, actor: Actor, mrn: str, context: AuditContext | None = None
) -> PatientDemographics | None:
    """One patient's demographics by exact MRN (blind index: the MRN itself is not stored).

    Every lookup is recorded: a view of the patient found, or a search that found none.
    """
    if actor.role not in DEMOGRAPHICS_ROLES:
        return None
    found = (
        PatientDemographics.objects.filter(mrn_index=blind_index(mrn.strip(), purpose="mrn"))
        .select_related("patient")
        .first()
    )
    record(
        action=Action.RECORD_VIEW if found else Action.DIRECTORY_SEARCH,
        outcome=Outcome.SUCCESS if found else Outcome.FAILURE,
        actor=actor,
        context=context,
        patient_id=found.patient_id if found else None,
        object_type="demographics",
    )
    return found

"""Who sees which refill request, answered once (selectors and services both use it).

The patient (and a proxy with a full grant) their own; physicians and nurses the
requests of patients they may see (care teams, or break-glass); nobody else. A
request that is missing or not the actor's to see is the same 404.
"""

import uuid

from django.http import Http404

from patients.models import CareTeam, ProxyGrant
from portal.access import CLINICAL_ROLES, PATIENT_SIDE_ROLES, Actor, clinical_patients, proxy_grant
from refills.models import RefillItem, RefillRequest


def may_request_for(actor: Actor, patient_id: uuid.UUID) -> bool:
    """Patients for themselves; proxies only under a full grant (a limited one reads only)."""
    if actor.role not in PATIENT_SIDE_ROLES:
        return False
    grant = proxy_grant(actor=actor, patient_id=patient_id)
    return grant is None or grant.scope == ProxyGrant.Scope.FULL


def request_for(*, actor: Actor, request_id: uuid.UUID, lock: bool = False) -> RefillRequest:
    rows = RefillRequest.objects.filter(pk=request_id, patient__in=clinical_patients(actor))
    if lock:
        rows = rows.select_for_update(of=("self",))
    found = rows.first()
    if found is None:
        raise Http404("No such request.")
    return found


def item_for(
    *,
    actor: Actor,
    item_id: uuid.UUID,
    request_id: uuid.UUID | None = None,
    lock: bool = False,
) -> RefillItem:
    """An item for the care team to work on (of that request, when given): clinicians
    only, 404 alike otherwise."""
    if actor.role not in CLINICAL_ROLES:
        raise Http404("No such request.")
    rows = RefillItem.objects.filter(pk=item_id, patient__in=clinical_patients(actor))
    if request_id is not None:
        rows = rows.filter(request_id=request_id)
    if lock:
        rows = rows.select_for_update(of=("self",))
    found = rows.select_related("request").first()
    if found is None:
        raise Http404("No such request.")
    return found


def on_care_team(person: Actor, patient_id: uuid.UUID) -> bool:
    return (
        person.role in CLINICAL_ROLES
        and CareTeam.objects.filter(patients=patient_id, members=person.pk).exists()
    )

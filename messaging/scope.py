"""Which threads an actor may see: the one place both selectors and services ask.

- a patient: their own threads, every pool;
- physicians and nurses: clinical-pool threads of patients they may see
  (``portal.access.clinical_patients``: their care teams, or a break-glass grant);
- the front desk and billing: their own pool's threads, never a clinical topic;
- administrators and auditors: none.

``thread_for`` answers 404 alike for "missing" and "not yours".
"""

import uuid

from django.db.models import QuerySet
from django.http import Http404

from messaging.models import CLINICAL_TOPICS, Pool, Thread
from portal.access import CLINICAL_ROLES, Actor, Role, clinical_patients

STAFF_POOL = {
    Role.PHYSICIAN: Pool.CLINICAL,
    Role.NURSE: Pool.CLINICAL,
    Role.FRONT_DESK: Pool.FRONT_DESK,
    Role.BILLING: Pool.BILLING,
}
MESSAGING_STAFF_ROLES = frozenset(STAFF_POOL)


def visible_threads(actor: Actor) -> QuerySet[Thread]:
    if actor.role == Role.PATIENT and actor.patient_id is not None:
        return Thread.objects.filter(patient_id=actor.patient_id)
    if actor.role in CLINICAL_ROLES:
        return Thread.objects.filter(
            pool=Pool.CLINICAL, patient_id__in=clinical_patients(actor).values("pk")
        )
    if actor.role in (Role.FRONT_DESK, Role.BILLING):
        return Thread.objects.filter(pool=STAFF_POOL[Role(actor.role)]).exclude(
            topic__in=CLINICAL_TOPICS
        )
    return Thread.objects.none()


def thread_for(*, actor: Actor, thread_id: uuid.UUID, lock: bool = False) -> Thread:
    """The thread, if the actor may see it; 404 alike for missing and not yours."""
    threads = visible_threads(actor)
    if lock:
        # Lock the row only (the scope's subquery is not locked).
        threads = Thread.objects.select_for_update(of=("self",)).filter(
            pk__in=threads.filter(pk=thread_id).values("pk")
        )
    thread = threads.filter(pk=thread_id).select_related("assigned_to").first()
    if thread is None:
        raise Http404("No such thread.")
    return thread

"""Background jobs of refills (procrastinate): the patient's notice and the EHR write-back.

- ``refills.send_refill_notice`` (queue ``mail``): "There is an update on your
  prescription request": no medicine, pharmacy, clinician or decision. The job
  row holds the patient's id only.
- ``refills.write_decision`` (queue ``sync``): PUTs the decision's Task (and new
  MedicationRequest) to the EHR; a failure raises, and procrastinate retries with
  growing waits. The item says "waiting for the EHR" until a write succeeds, and
  only then "sent". ``refills.requeue_waiting`` (every 30 minutes) queues again
  any decision still waiting after its retries ran out.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import connection, transaction
from django.template.loader import render_to_string
from django.utils import timezone
from procrastinate import RetryStrategy
from procrastinate.contrib.django import app
from procrastinate.exceptions import AlreadyEnqueued

from accounts.models import User
from audit.actions import Action
from audit.services import record
from portal.crypto.selectors import preload_keys
from portal.fhir.errors import FhirError
from refills import fhir
from refills.models import EhrState, RefillItem

logger = logging.getLogger(__name__)

NOTICE_SUBJECT = "An update on your prescription request in Carebridge"


def notify_patient_later(*, patient_id: object) -> None:
    """Queue the notice, in the caller's transaction (no PHI in the job row)."""
    send_refill_notice.defer(patient_id=str(patient_id))


def write_decision_later(*, item_id: object) -> bool:
    """Queue the write-back, in the caller's transaction; at most one waiting per item
    (a queueing lock), so the periodic sweep adds none while a retry is pending."""
    lock = f"refill-write:{item_id}"
    try:
        with transaction.atomic():  # a savepoint: the lock's unique violation stays in it
            write_decision.configure(lock=lock, queueing_lock=lock).defer(item_id=str(item_id))
    except AlreadyEnqueued:
        return False
    return True


def waiting_requeue(*, older_than: timedelta = timedelta(minutes=30)) -> int:
    """Queue again the write-back of items still waiting for the EHR (their job ran out of
    retries, or was lost); the writes are PUTs, so a repeat changes nothing."""
    cutoff = timezone.now() - older_than
    waiting = RefillItem.objects.filter(ehr_state=EhrState.WAITING, decided_at__lt=cutoff)
    return sum(write_decision_later(item_id=pk) for pk in waiting.values_list("pk", flat=True))


@app.task(name="refills.send_refill_notice", queue="mail", pass_context=False)
def send_refill_notice(patient_id: str) -> None:
    try:
        user = User.objects.filter(patient_id=patient_id, is_active=True).first()
        if user is None:
            logger.info("refill notice for patient %s not sent: no active account", patient_id)
            return
        body = render_to_string("refills/email/update.txt", {"base_url": settings.PORTAL_BASE_URL})
        send_mail(NOTICE_SUBJECT, body, None, [user.email])
    finally:
        connection.close()


@app.task(
    name="refills.write_decision",
    queue="sync",
    pass_context=False,
    retry=RetryStrategy(max_attempts=12, exponential_wait=5),
)
def write_decision(item_id: str) -> None:
    try:
        write_decision_now(item_id)
    finally:
        connection.close()


@app.periodic(cron="*/30 * * * *")
@app.task(name="refills.requeue_waiting", queue="sync", pass_context=False)
def requeue_waiting(timestamp: int) -> None:
    """Every 30 minutes: no decision stays "waiting for the EHR" for good."""
    try:
        waiting_requeue()
    finally:
        connection.close()


def write_decision_now(item_id: str, client: object = None) -> bool:
    """Write one decided item to the EHR; True once it is there. Raises to be retried."""
    item = RefillItem.objects.select_related("patient", "decided_by").filter(pk=item_id).first()
    if item is None or item.ehr_state != EhrState.WAITING:
        return item is not None
    if not settings.FHIR_BASE_URL or not item.patient.fhir_id:
        logger.warning("refill decision %s waits: no EHR configured or patient not linked", item_id)
        raise FhirError("config")
    preload_keys([item.patient_id])
    resources = fhir.decision_resources(item)
    own = client is None
    writer = fhir.write_client() if own else client
    try:
        for resource in resources:
            writer.put(resource)  # type: ignore[attr-defined]
    finally:
        if own:
            writer.close()  # type: ignore[attr-defined]
    with transaction.atomic():
        changed = RefillItem.objects.filter(pk=item.pk, ehr_state=EhrState.WAITING).update(
            ehr_state=EhrState.SENT,
            ehr_task_id=fhir.task_id(item),
            ehr_medication_request_id=fhir.prescription_id(item) if len(resources) > 1 else "",
        )
        if changed:
            record(
                action=Action.REFILL_EHR_WRITE,
                patient_id=item.patient_id,
                object_type="RefillItem",
                object_id=item.pk,
            )
    return True

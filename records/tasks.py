"""Background jobs of the records app (procrastinate, queue "sync").

`make run` starts a worker (`manage.py procrastinate worker`); jobs are rows
in PostgreSQL, deferred in the same transaction as the request that wanted them.
"""

import logging

from django.db import connection
from procrastinate.contrib.django import app

from patients.models import Patient
from records.sync import SYNC_JOB, SyncUnavailable, sync_patient

logger = logging.getLogger(__name__)


# `lock`: two syncs of one patient never run at the same time, even from two
# workers; `queueing_lock` (set by request_sync) keeps one waiting at most.
@app.task(name=SYNC_JOB, queue="sync", pass_context=False)
def sync_patient_job(patient_id: str) -> None:
    try:
        _sync(patient_id)
    finally:
        # The worker runs sync jobs in threads of its own; a connection left open
        # in one would outlive the job (Django closes them only per request).
        connection.close()


def _sync(patient_id: str) -> None:
    patient = Patient.objects.filter(pk=patient_id).first()
    if patient is None:
        return
    try:
        result = sync_patient(patient=patient)
    except SyncUnavailable:
        logger.warning("sync skipped: EHR not configured or patient %s not linked", patient_id)
        return
    if not result.ok:
        # Reason codes and ids only (FhirError never carries URLs or bodies).
        logger.warning(
            "sync of patient %s incomplete: %s",
            patient_id,
            ",".join(f"{t}={reason}" for t, reason in sorted(result.failed.items())),
        )

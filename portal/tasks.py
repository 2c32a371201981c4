"""Housekeeping of the job queue itself, run by the worker (queue ``daily``, which every
documented worker serves).

procrastinate never moves a job of a dead worker back into the queue by itself: a worker
killed mid-job (kill -9, out of memory, a host lost) leaves it "doing" for ever. Workers
write a heartbeat every PORTAL_JOB_HEARTBEAT seconds; every minute this job queues again
each "doing" job whose worker has been silent for PORTAL_JOB_STALLED_AFTER seconds (or was
already removed as stalled by a starting worker). So a job may run twice: every job is
written to be safe to repeat (docs/architecture.md, "Faults").
"""

import logging

from django.conf import settings
from procrastinate import JobContext
from procrastinate.contrib.django import app
from procrastinate.exceptions import UniqueViolation

logger = logging.getLogger(__name__)

RETRY_STALLED = "portal.retry_stalled_jobs"


@app.periodic(cron="* * * * *", periodic_id=RETRY_STALLED)
@app.task(name=RETRY_STALLED, queue="daily", queueing_lock=RETRY_STALLED, pass_context=True)
async def retry_stalled_jobs(context: JobContext, timestamp: int) -> int:
    manager = context.app.job_manager
    stalled = await manager.get_stalled_jobs(
        seconds_since_heartbeat=settings.PORTAL_JOB_STALLED_AFTER
    )
    count = 0
    for job in stalled:
        try:
            await manager.retry_job(job)
        except UniqueViolation:
            # A job with the same queueing lock already waits (a sync of that patient
            # asked for again): it does the same work. This one stays "doing" and is
            # queued by a later run, once that one has left the queue.
            logger.info("job %s (%s) of a stalled worker: its twin waits", job.id, job.task_name)
            continue
        # The job row's id and task name only: its arguments are ids, but say nothing.
        logger.warning("job %s (%s) of a stalled worker queued again", job.id, job.task_name)
        count += 1
    return count

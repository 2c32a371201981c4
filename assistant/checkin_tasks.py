"""The check-ins' background jobs (procrastinate, queue "mail", which the worker serves).

- ``assistant.checkins_sweep`` (every 15 minutes): assistant.checkins.checkins_sweep:
  queues the notices of check-ins that became due, raises the routine alert of those
  unanswered too long, closes those past their window.
- ``assistant.send_checkin_notice``: "A check-in is waiting in the portal" and the
  link, nothing else (no discharge, clinic, clinician or question). The job row holds
  the check-in's id only; a check-in answered or closed before the job runs gets no mail.
"""

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.db import connection
from django.template.loader import render_to_string
from procrastinate.contrib.django import app

from accounts.models import User
from assistant.checkins import NOTICE_JOB, checkins_sweep
from assistant.models import CheckIn, CheckInStatus
from portal.access import Role

logger = logging.getLogger(__name__)

NOTICE_SUBJECT = "A check-in is waiting in the portal"


@app.periodic(cron="*/15 * * * *", periodic_id="assistant.checkins")
@app.task(name="assistant.checkins_sweep", queue="mail", pass_context=False)
def sweep_checkins(timestamp: int) -> None:
    try:
        checkins_sweep()
    finally:
        # The worker runs jobs in threads of its own; close what this one opened.
        connection.close()


@app.task(name=NOTICE_JOB, queue="mail", pass_context=False)
def send_checkin_notice(checkin_id: str) -> None:
    try:
        send_checkin_notice_now(checkin_id)
    finally:
        connection.close()


def send_checkin_notice_now(checkin_id: str) -> bool:
    """Mail the patient that a check-in waits; False when there is no one to tell."""
    checkin = (
        CheckIn.objects.filter(pk=checkin_id, status=CheckInStatus.PENDING)
        .only("id", "patient_id", "status")
        .first()
    )
    if checkin is None:
        return False
    user = User.objects.filter(
        patient_id=checkin.patient_id, role=Role.PATIENT, is_active=True
    ).first()
    if user is None or not user.email:
        logger.info("check-in notice %s not sent: no active account", checkin_id)
        return False
    body = render_to_string(
        "assistant/email/checkin_due.txt",
        {"base_url": settings.PORTAL_BASE_URL, "checkin_id": checkin.pk},
    )
    send_mail(NOTICE_SUBJECT, body, None, [user.email])
    return True

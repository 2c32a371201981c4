"""The check-ins' background jobs (procrastinate, queue "mail", which the worker serves).

- ``assistant.checkins_sweep`` (every 15 minutes, ``checkins_sweep``): queues the
  notice of each check-in that became due (once), raises one routine care-team alert
  (``checkin_unanswered``, the "task for the care team") for a check-in unanswered
  ASSISTANT_CHECKIN_UNANSWERED_HOURS after it became due, and marks those past their
  window missed (never deleted). Each step locks its row (others skipped) and commits
  with its mark, so two workers or a killed one repeat nothing and lose nothing.
- ``assistant.send_checkin_notice``: "A check-in is waiting in the portal" and the
  link, nothing else (no discharge, clinic, clinician or question). The job row holds
  the check-in's id only; a check-in answered or closed before the job runs gets no mail.
"""

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import connection, transaction
from django.template.loader import render_to_string
from django.utils import timezone
from procrastinate.contrib.django import app

from accounts.models import User
from assistant.alerts import alert_raise
from assistant.models import AlertKind, AlertPriority, CheckIn, CheckInStatus
from audit.actions import Action
from audit.services import record
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


@app.task(name="assistant.send_checkin_notice", queue="mail", pass_context=False)
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


@dataclass
class SweepReport:
    notified: int = 0
    escalated: int = 0
    missed: int = 0


def checkins_sweep(*, now: datetime | None = None) -> SweepReport:
    """Notify what became due, escalate what stayed unanswered, close what ran out."""
    now = now or timezone.now()
    report = SweepReport()
    pending = CheckIn.objects.filter(status=CheckInStatus.PENDING)
    for pk in list(
        pending.filter(due_at__lte=now, closes_at__gt=now, notified_at__isnull=True).values_list(
            "pk", flat=True
        )
    ):
        report.notified += _notify(pk, now)
    unanswered_since = now - timedelta(hours=settings.ASSISTANT_CHECKIN_UNANSWERED_HOURS)
    for pk in list(
        pending.filter(due_at__lte=unanswered_since, escalated_at__isnull=True).values_list(
            "pk", flat=True
        )
    ):
        report.escalated += _escalate(pk, now)
    for pk in list(pending.filter(closes_at__lte=now).values_list("pk", flat=True)):
        report.missed += _close(pk, now)
    return report


def _locked(pk: uuid.UUID, **still: Any) -> CheckIn | None:
    """The pending check-in, locked (None if another worker holds it or it moved on)."""
    return (
        CheckIn.objects.select_for_update(skip_locked=True)
        .filter(pk=pk, status=CheckInStatus.PENDING, **still)
        .defer("response")
        .first()
    )


def _notify(pk: uuid.UUID, now: datetime) -> int:
    with transaction.atomic():
        checkin = _locked(pk, notified_at__isnull=True)
        if checkin is None:
            return 0
        checkin.notified_at = now
        checkin.save(update_fields=["notified_at"])
        send_checkin_notice.defer(checkin_id=str(pk))
    return 1


def _escalate(pk: uuid.UUID, now: datetime) -> int:
    """The "task for the care team": one routine alert per unanswered check-in."""
    with transaction.atomic():
        checkin = _locked(pk, escalated_at__isnull=True)
        if checkin is None:
            return 0
        checkin.escalated_at = now
        checkin.save(update_fields=["escalated_at"])
        alert_raise(
            patient_id=checkin.patient_id,
            kind=AlertKind.CHECKIN_UNANSWERED,
            priority=AlertPriority.ROUTINE,
            source_id=checkin.pk,
        )
    return 1


def _close(pk: uuid.UUID, now: datetime) -> int:
    with transaction.atomic():
        checkin = _locked(pk, closes_at__lte=now)
        if checkin is None:
            return 0
        checkin.status = CheckInStatus.MISSED
        checkin.save(update_fields=["status"])
        record(
            action=Action.CHECKIN_MISSED,
            patient_id=checkin.patient_id,
            object_type="CheckIn",
            object_id=checkin.pk,
        )
    return 1

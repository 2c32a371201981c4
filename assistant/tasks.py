"""Background jobs of the assistant (procrastinate, queue "mail"): the care team's alert notice.

The notice says only that an alert is waiting and where the queue is: no name,
kind, phrase or patient id. The job row holds the alert's id, nothing else; the
recipients (the patient's care-team clinicians and the clinical pool's lead,
``MESSAGING_POOL_LEADS``) are read when the job runs.
"""

import logging
import uuid

from django.conf import settings
from django.core.mail import send_mail
from django.db import connection
from django.template.loader import render_to_string
from procrastinate.contrib.django import app

from accounts.models import User
from assistant.models import AlertPriority, CareAlert
from messaging.escalation import pool_lead
from portal.access import CLINICAL_ROLES

logger = logging.getLogger(__name__)

URGENT_SUBJECT = "Carebridge: an urgent alert is waiting"
ROUTINE_SUBJECT = "Carebridge: an alert is waiting"


def notify_care_team_later(*, alert_id: uuid.UUID) -> None:
    """Queue the notice, in the caller's transaction (sent only if it commits)."""
    send_alert_notice.defer(alert_id=str(alert_id))


@app.task(name="assistant.send_alert_notice", queue="mail", pass_context=False)
def send_alert_notice(alert_id: str) -> None:
    try:
        send(alert_id)
    finally:
        # The worker runs jobs in threads of its own; close what this one opened.
        connection.close()


def send(alert_id: str) -> None:
    alert = CareAlert.objects.filter(pk=alert_id).only("patient_id", "priority").first()
    if alert is None:
        return
    addresses = recipients(alert.patient_id)
    if not addresses:
        logger.warning("alert %s: no care-team clinician or pool lead to tell", alert_id)
        return
    urgent = alert.priority == AlertPriority.URGENT
    body = render_to_string(
        "assistant/email/alert.txt", {"base_url": settings.PORTAL_BASE_URL, "urgent": urgent}
    )
    subject = URGENT_SUBJECT if urgent else ROUTINE_SUBJECT
    for address in addresses:  # one each: staff do not see each other's addresses
        send_mail(subject, body, None, [address])


def recipients(patient_id: uuid.UUID) -> list[str]:
    team = User.objects.filter(
        care_teams__patients=patient_id, role__in=CLINICAL_ROLES, is_active=True
    ).exclude(email="")
    addresses = sorted(set(team.values_list("email", flat=True)))
    lead = pool_lead("clinical")  # the care team's pool (messaging.models.Pool.CLINICAL)
    if lead and lead not in addresses:
        addresses.append(lead)
    return addresses

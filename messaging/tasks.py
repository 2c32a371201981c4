"""Background jobs of messaging (procrastinate, queue "mail"): the new-message notice.

The notice says only that there is a new message and where to read it: no name,
subject, body, department or sender, in the e-mail and in the SMS hook alike.
The job row holds the patient's id, nothing else; the patient's choice is read
when the job runs, so opting out also stops notices already queued.
"""

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.db import connection
from django.template.loader import render_to_string
from procrastinate.contrib.django import app

from accounts.models import User
from messaging import escalation
from messaging.models import NotificationPreference

logger = logging.getLogger(__name__)

NOTICE_SUBJECT = "You have a new message in Carebridge"


def notify_patient_later(*, patient_id: object) -> None:
    """Queue the notice to the patient's account, in the caller's transaction."""
    send_message_notice.defer(patient_id=str(patient_id))


@app.task(name="messaging.send_message_notice", queue="mail", pass_context=False)
def send_message_notice(patient_id: str) -> None:
    try:
        _send(patient_id)
    finally:
        # The worker runs jobs in threads of its own; close what this one opened.
        connection.close()


def _send(patient_id: str) -> None:
    user = User.objects.filter(patient_id=patient_id, is_active=True).first()
    if user is None:
        logger.info("message notice for patient %s not sent: no active account", patient_id)
        return
    wanted = (
        NotificationPreference.objects.filter(user=user).values_list("email", flat=True).first()
    )
    if wanted is False:
        return
    context = {"base_url": settings.PORTAL_BASE_URL}
    body = render_to_string("messaging/email/new_message.txt", context)
    send_mail(NOTICE_SUBJECT, body, None, [user.email])
    sms_notice(user)


def sms_notice(user: User) -> None:
    """The SMS hook: "console" logs that a text would go out (the user's id only)."""
    if settings.MESSAGING_SMS_BACKEND == "console":
        logger.info("SMS to user %s: %s", user.pk, NOTICE_SUBJECT)


@app.periodic(cron="*/15 * * * *")
@app.task(name="messaging.escalate_and_delegate", queue="mail", pass_context=False)
def escalate_and_delegate(timestamp: int) -> None:
    """Every 15 minutes: move the threads of staff who are away, then flag overdue threads."""
    try:
        escalation.absences_apply()
        escalation.threads_escalate()
    finally:
        connection.close()

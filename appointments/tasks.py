"""Appointment reminders (procrastinate; queue "mail", which `make run`'s worker serves).

A periodic job finds booked appointments whose reminder offsets (PORTAL_REMINDER_HOURS,
default 72 and 24 hours before) have come, and for each one, in one transaction, marks
the offsets as sent on the appointment (row locked, others skipped) and queues the mail
job. A worker killed mid-run loses nothing and repeats nothing: what committed is marked
and queued together, what did not is found again by the next run. The mail job checks
the appointment is still booked, so a cancelled one gets nothing.

The mail says only that an appointment is coming and where to sign in: no time, clinic,
clinician or reason (mail is not a safe channel for PHI).
"""

import logging
import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import connection, transaction
from django.utils import timezone
from procrastinate.contrib.django import app

from accounts.models import User
from appointments.models import Appointment, WaitlistOffer

logger = logging.getLogger(__name__)

SUBJECT = "Reminder: you have an appointment coming up"
BODY = (
    "You have an appointment coming up with your clinic.\n\n"
    "Sign in to see the details, add it to your calendar, or change it:\n"
    "{base_url}/patient/appointments/\n\n"
    "If you cannot come, please cancel so another patient can have the time.\n"
)


def due_reminders(now: datetime) -> int:
    """Queue every reminder that has come; returns how many appointments were reminded."""
    offsets = sorted(settings.PORTAL_REMINDER_HOURS)
    if not offsets:
        return 0
    candidates = Appointment.objects.filter(
        status=Appointment.Status.BOOKED,
        starts_at__gt=now,
        starts_at__lte=now + timedelta(hours=max(offsets)),
    ).values_list("pk", flat=True)
    sent = 0
    for pk in list(candidates):
        sent += _remind(pk, now, offsets)
    return sent


def _remind(pk: uuid.UUID, now: datetime, offsets: list[int]) -> int:
    with transaction.atomic():
        appointment = (
            Appointment.objects.select_for_update(skip_locked=True)
            .filter(pk=pk, status=Appointment.Status.BOOKED)
            .only("id", "patient_id", "starts_at", "reminders_sent", "status")
            .first()
        )
        if appointment is None:
            return 0
        due = [
            h
            for h in offsets
            if h not in appointment.reminders_sent
            and appointment.starts_at - timedelta(hours=h) <= now
        ]
        if not due:
            return 0
        # Every offset that has come is marked at once: one mail, never a burst.
        appointment.reminders_sent = sorted({*appointment.reminders_sent, *due})
        appointment.save(update_fields=["reminders_sent"])
        send_reminder.defer(appointment_id=str(pk))
    return 1


@app.periodic(cron="*/5 * * * *", periodic_id="appointments.reminders")
@app.task(name="appointments.queue_reminders", queue="mail", pass_context=False)
def queue_reminders(timestamp: int) -> None:
    try:
        due_reminders(timezone.now())
    finally:
        connection.close()


@app.task(name="appointments.send_reminder", queue="mail", pass_context=False)
def send_reminder(appointment_id: str) -> None:
    try:
        _send(appointment_id)
    finally:
        connection.close()


def _send(appointment_id: str) -> None:
    appointment = (
        Appointment.objects.filter(pk=appointment_id, status=Appointment.Status.BOOKED)
        .only("id", "patient_id", "status")
        .first()
    )
    if appointment is None:
        logger.info("reminder for appointment %s not sent: no longer booked", appointment_id)
        return
    user = User.objects.filter(patient_id=appointment.patient_id, is_active=True).first()
    if user is None or not user.email:
        return
    send_mail(SUBJECT, BODY.format(base_url=settings.PORTAL_BASE_URL), None, [user.email])


OFFER_SUBJECT = "An earlier appointment is available"
OFFER_BODY = (
    "An earlier time has opened up for an appointment you asked to move.\n\n"
    "The first patient to accept it gets it. Sign in to see it and accept:\n"
    "{base_url}/patient/appointments/offers/{offer_id}/\n"
)


@app.task(name="appointments.send_offer", queue="mail", pass_context=False)
def send_offer(offer_id: str) -> None:
    try:
        _send_offer(offer_id)
    finally:
        connection.close()


def _send_offer(offer_id: str) -> None:
    offer = (
        WaitlistOffer.objects.filter(pk=offer_id, status=WaitlistOffer.Status.OPEN)
        .select_related("entry")
        .first()
    )
    if offer is None:
        return
    user = User.objects.filter(patient_id=offer.entry.patient_id, is_active=True).first()
    if user is None or not user.email:
        return
    body = OFFER_BODY.format(base_url=settings.PORTAL_BASE_URL, offer_id=offer.pk)
    send_mail(OFFER_SUBJECT, body, None, [user.email])

"""Writes of messages: each takes the acting user and the request's audit context, never
the request; finds the patient or thread through the access helpers itself; changes
state and records its audit event in one transaction.

Attachments are sanitised (messaging/files.py) before the transaction opens, so
no lock is held while a PDF is rewritten; a refused file is its own audit event
(denied, the reason code only) and nothing of the message is stored.
"""

import uuid
from collections.abc import Sequence
from datetime import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from audit.actions import Action, Outcome, Severity
from audit.context import AuditContext
from audit.services import record
from messaging import files as attachments
from messaging.escalation import absences_apply, away_now, may_hold
from messaging.models import (
    CLINICAL_TOPICS,
    TOPIC_POOL,
    Absence,
    Attachment,
    Message,
    Note,
    NotificationPreference,
    Pool,
    ReadReceipt,
    Status,
    Thread,
    Topic,
)
from messaging.scope import MESSAGING_STAFF_ROLES, thread_for
from messaging.selectors import can_reply
from messaging.tasks import notify_patient_later
from patients.models import CareTeam
from portal.access import CLINICAL_ROLES, Role, access_patient, via_break_glass

NO_CARE_TEAM = (
    "Your clinic has not assigned you a care team yet, so a medical question would reach "
    'nobody. Please choose "Something else": the front desk will pass it on.'
)


class ThreadClosed(Exception):
    """The thread is closed or idle: the patient starts a new message instead."""


def thread_start(
    *,
    actor: User,
    topic: str,
    subject: str,
    body: str,
    files: Sequence[UploadedFile] = (),
    context: AuditContext | None = None,
) -> Thread:
    """A patient writes to their clinic; the topic decides the receiving pool."""
    if actor.role != Role.PATIENT or actor.patient_id is None:
        raise PermissionDenied("Only patients start threads.")
    patient = access_patient(actor=actor, patient_id=actor.patient_id)
    if Topic(topic) in CLINICAL_TOPICS and not CareTeam.objects.filter(patients=patient).exists():
        # Nobody could read it: the clinical pool is the patient's care teams.
        raise ValidationError(NO_CARE_TEAM)
    clean = _sanitised(actor, patient.pk, files, context)
    now = timezone.now()
    with transaction.atomic():
        thread = Thread(
            patient=patient,
            topic=Topic(topic),
            pool=TOPIC_POOL[Topic(topic)],
            subject=subject,
            created_at=now,
            last_message_at=now,
            awaiting_staff_since=now,
        )
        thread.full_clean()
        thread.save()
        message = _message(thread, actor, body, clean, now)
        _recorded_send(actor, thread, message, context)
    return thread


def message_reply(
    *,
    actor: User,
    thread_id: uuid.UUID,
    body: str,
    files: Sequence[UploadedFile] = (),
    context: AuditContext | None = None,
) -> Message:
    """A reply from the patient or from staff; staff replies tell the patient (no PHI)."""
    peek = thread_for(actor=actor, thread_id=thread_id)
    clean = _sanitised(actor, peek.patient_id, files, context)
    now = timezone.now()
    with transaction.atomic():
        thread = thread_for(actor=actor, thread_id=thread_id, lock=True)
        from_patient = actor.role == Role.PATIENT
        if from_patient and not can_reply(thread):
            raise ThreadClosed
        if not from_patient and thread.status == Status.CLOSED:
            raise ThreadClosed
        message = _message(thread, actor, body, clean, now)
        thread.last_message_at = now
        if from_patient:
            thread.awaiting_staff_since = thread.awaiting_staff_since or now
        else:
            thread.awaiting_staff_since = thread.escalated_at = None
            thread.assigned_to = thread.assigned_to or actor  # answering is claiming
        thread.save(
            update_fields=["last_message_at", "awaiting_staff_since", "escalated_at", "assigned_to"]
        )
        _recorded_send(actor, thread, message, context)
        if not from_patient:
            notify_patient_later(patient_id=thread.patient_id)
    return message


def note_add(
    *, actor: User, thread_id: uuid.UUID, body: str, context: AuditContext | None = None
) -> Note:
    """An internal note: staff only, never shown to the patient."""
    _require_staff(actor)
    with transaction.atomic():
        thread = thread_for(actor=actor, thread_id=thread_id, lock=True)
        note = Note(
            thread=thread,
            patient_id=thread.patient_id,
            author=actor,
            body=body,
            created_at=timezone.now(),
        )
        note.full_clean()
        note.save()
        _record(Action.MESSAGE_NOTE, actor, thread, context, object_type="note", object_id=note.pk)
    return note


def thread_claim(*, actor: User, thread_id: uuid.UUID, context: AuditContext | None = None) -> None:
    _require_staff(actor)
    with transaction.atomic():
        thread = thread_for(actor=actor, thread_id=thread_id, lock=True)
        thread.assigned_to = actor
        thread.save(update_fields=["assigned_to"])
        _record(
            Action.MESSAGE_ASSIGN, actor, thread, context, object_type="user", object_id=actor.pk
        )


def thread_reassign(
    *,
    actor: User,
    thread_id: uuid.UUID,
    to_user_id: uuid.UUID | None = None,
    to_pool: str = "",
    context: AuditContext | None = None,
) -> None:
    """Give the thread to a person who may open it, or back to a pool (then unassigned).

    A clinical topic never leaves the clinical pool; a person must be able to see
    the thread where it is (a care-team member, or someone of the pool's role).
    """
    _require_staff(actor)
    with transaction.atomic():
        thread = thread_for(actor=actor, thread_id=thread_id, lock=True)
        if to_user_id is not None:
            person = User.objects.filter(pk=to_user_id, is_active=True).first()
            if person is None or not may_hold(person, thread):
                raise ValidationError("That person cannot take this conversation.")
            if away_now(person.pk) is not None:
                raise ValidationError("That person is away; give it to someone else or the pool.")
            thread.assigned_to = person
            _record(
                Action.MESSAGE_ASSIGN,
                actor,
                thread,
                context,
                object_type="user",
                object_id=person.pk,
            )
        else:
            pool = Pool(to_pool)
            if thread.topic in CLINICAL_TOPICS and pool != Pool.CLINICAL:
                raise ValidationError("A medical question stays with the care team.")
            thread.pool, thread.assigned_to = pool, None
            _record(
                Action.MESSAGE_ASSIGN, actor, thread, context, object_type="pool", object_id=pool
            )
        thread.save(update_fields=["pool", "assigned_to"])


def thread_close(*, actor: User, thread_id: uuid.UUID, context: AuditContext | None = None) -> None:
    _require_staff(actor)
    with transaction.atomic():
        thread = thread_for(actor=actor, thread_id=thread_id, lock=True)
        thread.status, thread.closed_at, thread.awaiting_staff_since = (
            Status.CLOSED,
            timezone.now(),
            None,
        )
        thread.save(update_fields=["status", "closed_at", "awaiting_staff_since"])
        _record(
            Action.MESSAGE_CLOSE, actor, thread, context, object_type="thread", object_id=thread.pk
        )


def notification_preference_set(
    *, actor: User, email: bool, context: AuditContext | None = None
) -> None:
    """The patient's choice of the "you have a new message" e-mail."""
    with transaction.atomic():
        NotificationPreference.objects.update_or_create(user=actor, defaults={"email": email})
        record(
            action=Action.MESSAGE_PREFERENCE,
            actor=actor,
            context=context,
            object_type="email",
            object_id="on" if email else "off",
        )


def absence_set(
    *,
    actor: User,
    starts_at: datetime,
    ends_at: datetime,
    delegate_id: uuid.UUID | None = None,
    context: AuditContext | None = None,
) -> Absence:
    """The actor will be away: their threads go to the delegate (or the pool) meanwhile.

    The delegate works in the same pool (a clinician for a clinician, the same role
    otherwise); a thread the delegate could not open goes back to the pool.
    """
    _require_staff(actor)
    delegate = None
    if delegate_id is not None:
        delegate = User.objects.filter(pk=delegate_id, is_active=True).first()
        same_pool = delegate is not None and (
            delegate.role == actor.role or {delegate.role, actor.role} <= set(CLINICAL_ROLES)
        )
        if delegate is None or delegate.pk == actor.pk or not same_pool:
            raise ValidationError("Choose a colleague from your own pool.")
    if ends_at <= starts_at:
        raise ValidationError("The absence must end after it starts.")
    with transaction.atomic():
        Absence.objects.filter(user=actor, ends_at__gt=timezone.now()).delete()
        absence = Absence.objects.create(
            user=actor, delegate=delegate, starts_at=starts_at, ends_at=ends_at
        )
        record(
            action=Action.MESSAGE_ABSENCE,
            actor=actor,
            context=context,
            object_type="delegate" if delegate else "pool",
            object_id=delegate.pk if delegate else "",
        )
    absences_apply()
    return absence


def absence_end(*, actor: User, context: AuditContext | None = None) -> None:
    """Back now: ends the actor's current and future absences (threads stay where they went)."""
    with transaction.atomic():
        now = timezone.now()
        Absence.objects.filter(user=actor, starts_at__gt=now).delete()
        Absence.objects.filter(user=actor, ends_at__gt=now).update(ends_at=now)
        record(action=Action.MESSAGE_ABSENCE, actor=actor, context=context, object_type="ended")


# --- Helpers ----------------------------------------------------------------------------


def _require_staff(actor: User) -> None:
    if actor.role not in MESSAGING_STAFF_ROLES:
        raise PermissionDenied


def _sanitised(
    actor: User,
    patient_id: uuid.UUID,
    files: Sequence[UploadedFile],
    context: AuditContext | None,
) -> list[attachments.CleanFile]:
    clean = []
    for upload in files:
        try:
            upload.seek(0)
            clean.append(attachments.sanitise(upload.name or "", upload.read()))
        except attachments.AttachmentRefused as refused:
            record(
                action=Action.MESSAGE_ATTACHMENT_REFUSED,
                outcome=Outcome.DENIED,
                actor=actor,
                context=context,
                patient_id=patient_id,
                object_type=refused.code,
                severity=Severity.HIGH if refused.code == "infected" else Severity.INFO,
            )
            raise
    return clean


def _message(
    thread: Thread, actor: User, body: str, clean: list[attachments.CleanFile], now: datetime
) -> Message:
    message = Message(
        thread=thread,
        patient_id=thread.patient_id,
        author=actor,
        from_patient=actor.role == Role.PATIENT,
        body=body,
        created_at=now,
    )
    message.full_clean()
    message.save()
    for f in clean:
        Attachment.objects.create(
            message=message,
            patient_id=thread.patient_id,
            name=f.name,
            content=f.content,
            content_type=f.content_type,
            size=f.size,
            sha256=f.sha256,
        )
    # Writing is reading: the author has seen everything up to their own message.
    ReadReceipt.objects.update_or_create(thread=thread, user=actor, defaults={"read_at": now})
    return message


def _recorded_send(
    actor: User, thread: Thread, message: Message, context: AuditContext | None
) -> None:
    _record(
        Action.MESSAGE_SEND, actor, thread, context, object_type="message", object_id=message.pk
    )


def _record(
    action: Action,
    actor: User,
    thread: Thread,
    context: AuditContext | None,
    *,
    object_type: str,
    object_id: object,
) -> None:
    glass = actor.role in CLINICAL_ROLES and via_break_glass(actor=actor, patient=thread.patient)
    record(
        action=action,
        actor=actor,
        context=context,
        patient_id=thread.patient_id,
        object_type=object_type,
        object_id=object_id,
        severity=Severity.HIGH if glass else Severity.INFO,
    )

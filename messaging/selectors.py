"""Reads of messages; each takes the acting user and returns only what they may see.

The patient's own pages take their patient id and resolve it through
``portal.access.access_patient`` (404 alike for missing and not yours); thread and
attachment reads take the object's id and resolve it through
``messaging.scope.thread_for`` (the same answer). Each records exactly one audit
event (ids only) and returns a typed page. tests/messaging/test_selectors_safe_path.py
finds the patient-id selectors by their signature and proves each.

Opening a thread also moves the reader's read receipt: the one write a read does,
in the same transaction as its audit event.
"""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count, F, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import User
from audit.actions import Action, Severity
from audit.context import AuditContext
from audit.services import record
from messaging.models import (
    Absence,
    Attachment,
    Message,
    NotificationPreference,
    Pool,
    ReadReceipt,
    Status,
    Thread,
)
from messaging.scope import MESSAGING_STAFF_ROLES, STAFF_POOL, thread_for, visible_threads
from patients.models import CareTeam, Patient, PatientDemographics
from portal.access import CLINICAL_ROLES, Role, access_patient, via_break_glass
from portal.crypto.selectors import preload_keys

POOL_PAGE_SIZE = 200
NEVER = datetime(1970, 1, 1, tzinfo=UTC)  # "read at" of a thread never opened


@dataclass(frozen=True)
class ThreadRow:
    id: uuid.UUID
    patient_id: uuid.UUID
    subject: object  # str, or the Undecryptable marker
    topic: str
    pool: str
    status: str
    last_message_at: datetime
    unread: int
    assigned_to: str
    awaiting_staff_since: datetime | None
    can_reply: bool
    overdue: bool


@dataclass(frozen=True)
class InboxPage:
    threads: list[ThreadRow]
    unread_total: int
    query: str


@dataclass(frozen=True)
class SentItem:
    thread_id: uuid.UUID
    subject: object
    body: object
    sent_at: datetime


@dataclass(frozen=True)
class SentPage:
    sent: list[SentItem]


@dataclass(frozen=True)
class AttachmentItem:
    id: uuid.UUID
    name: object
    content_type: str
    size: int


@dataclass(frozen=True)
class MessageItem:
    id: uuid.UUID
    author: str
    from_patient: bool
    mine: bool
    body: object
    created_at: datetime
    attachments: list[AttachmentItem]


@dataclass(frozen=True)
class NoteItem:
    author: str
    body: object
    created_at: datetime


@dataclass(frozen=True)
class Assignee:
    id: uuid.UUID
    name: str


@dataclass(frozen=True)
class ThreadPage:
    thread: Thread
    subject: object
    messages: list[MessageItem]
    # Staff only: empty for the patient, always (internal notes).
    notes: list[NoteItem]
    staff: bool
    break_glass: bool
    can_reply: bool
    patient_name: str  # staff only (positive identification); "" for the patient
    assignees: list[Assignee]
    read_by: list[tuple[str, datetime]]


@dataclass(frozen=True)
class PoolPage:
    pool: str
    pool_label: str
    threads: list[ThreadRow]
    status: str


@dataclass(frozen=True)
class AttachmentFile:
    name: str
    content_type: str
    content: bytes


# --- The patient's pages (also open to the clinicians who may see the patient) ---------


def inbox_page(
    *, actor, patient_id: uuid.UUID, query: str = "", context: AuditContext | None = None
) -> InboxPage:
    """The patient's threads, newest first; ``query`` keeps those whose subject or a message
    contains it (decrypted and matched here: the words are never in the database in clear)."""
    patient = access_patient(actor=actor, patient_id=patient_id)
    threads = _rows(actor, visible_threads(actor).filter(patient=patient))
    query = query.strip()[:100]
    if query:
        threads = _matching(actor, patient, threads, query)
    _listed(actor, patient, "inbox", context)
    return InboxPage(threads=threads, unread_total=sum(t.unread for t in threads), query=query)


def sent_page(*, actor, patient_id: uuid.UUID, context: AuditContext | None = None) -> SentPage:
    """The messages the patient wrote, newest first."""
    patient = access_patient(actor=actor, patient_id=patient_id)
    preload_keys([patient.pk])
    rows = (
        Message.objects.filter(
            thread__in=visible_threads(actor).filter(patient=patient), from_patient=True
        )
        .select_related("thread")
        .order_by("-created_at")
    )
    sent = [SentItem(m.thread_id, m.thread.subject, m.body, m.created_at) for m in rows]
    _listed(actor, patient, "sent", context)
    return SentPage(sent=sent)


def unread_count(*, actor) -> int:
    """How many messages the actor has not read (a number, no content: not audited)."""
    receipt = ReadReceipt.objects.filter(thread=OuterRef("thread"), user=actor.pk).values("read_at")
    return (
        Message.objects.filter(
            thread__in=visible_threads(actor), from_patient=actor.role != Role.PATIENT
        )
        .annotate(read_at=Subquery(receipt[:1]))
        .filter(Q(read_at__isnull=True) | Q(created_at__gt=F("read_at")))
        .count()
    )


def notification_preference(*, actor) -> bool:
    """Whether the signed-in user gets the "new message" e-mail (their own setting)."""
    found = NotificationPreference.objects.filter(user=actor.pk).first()
    return True if found is None else found.email


# --- Threads and attachments (patients and staff) -------------------------------------


def _mark_read(thread: Thread, actor) -> None:
    """Move the reader's receipt to now: one UPDATE on every view but the first.

    update_or_create() took a savepoint, a SELECT ... FOR UPDATE and the UPDATE on
    each view of a thread (the load test's profile); the row exists after the first.
    """
    now = timezone.now()
    if not ReadReceipt.objects.filter(thread=thread, user_id=actor.pk).update(read_at=now):
        # The first view (or one racing it): the unique constraint decides.
        ReadReceipt.objects.update_or_create(
            thread=thread, user_id=actor.pk, defaults={"read_at": now}
        )


def thread_page(*, actor, thread_id: uuid.UUID, context: AuditContext | None = None) -> ThreadPage:
    thread = thread_for(actor=actor, thread_id=thread_id)
    staff = actor.role != Role.PATIENT
    glass = via_break_glass(actor=actor, patient=thread.patient)
    preload_keys([thread.patient_id])
    messages = list(
        thread.messages.select_related("author")
        .prefetch_related("attachments")
        .order_by("created_at")
    )
    items = [
        MessageItem(
            id=m.pk,
            author=_author_name(m.author, m.from_patient, staff),
            from_patient=m.from_patient,
            mine=m.author_id == actor.pk,
            body=m.body,
            created_at=m.created_at,
            attachments=[
                AttachmentItem(a.pk, a.name, a.content_type, a.size)
                for a in sorted(
                    m.attachments.all(), key=lambda a: a.name if isinstance(a.name, str) else ""
                )
            ],
        )
        for m in messages
    ]
    notes = []
    if staff:
        notes = [
            NoteItem(n.author.get_full_name(), n.body, n.created_at)
            for n in thread.notes.select_related("author").order_by("created_at")
        ]
    with transaction.atomic():
        _mark_read(thread, actor)
        record(
            action=Action.MESSAGE_READ,
            actor=actor,
            context=context,
            patient_id=thread.patient_id,
            object_type="thread",
            object_id=thread.pk,
            severity=Severity.HIGH if glass else Severity.INFO,
        )
    return ThreadPage(
        thread=thread,
        subject=thread.subject,
        messages=items,
        notes=notes,
        staff=staff,
        break_glass=glass,
        can_reply=can_reply(thread),
        patient_name=_patient_name(thread.patient) if staff else "",
        assignees=_assignees(thread) if staff else [],
        read_by=_read_by(thread, staff),
    )


def attachment_file(
    *, actor, attachment_id: uuid.UUID, context: AuditContext | None = None
) -> AttachmentFile:
    """An attachment's bytes (sanitised when stored), if the actor may see its thread."""
    found = Attachment.objects.filter(pk=attachment_id).values_list("message__thread_id").first()
    # A missing attachment asks for a thread nobody has: the same 404 as "not yours".
    thread = thread_for(actor=actor, thread_id=found[0] if found else uuid.uuid4())
    attachment = Attachment.objects.get(pk=attachment_id)
    glass = via_break_glass(actor=actor, patient=thread.patient)
    record(
        action=Action.MESSAGE_ATTACHMENT_DOWNLOAD,
        actor=actor,
        context=context,
        patient_id=thread.patient_id,
        object_type="attachment",
        object_id=attachment.pk,
        severity=Severity.HIGH if glass else Severity.INFO,
    )
    name = attachment.name if isinstance(attachment.name, str) else "attachment"
    return AttachmentFile(
        name=name, content_type=attachment.content_type, content=attachment.content
    )


# --- Staff pools ----------------------------------------------------------------------


def pool_page(*, actor, status: str = Status.OPEN, context: AuditContext | None = None) -> PoolPage:
    """The actor's pool: open (or closed) threads, waiting longest first, then newest.

    Clinicians see their care teams' patients' clinical threads (a break-glass
    patient's thread is opened by id, not listed here).
    """
    pool = STAFF_POOL.get(Role(actor.role)) if actor.role in MESSAGING_STAFF_ROLES else None
    threads: QuerySet[Thread] = visible_threads(actor)
    if pool == Pool.CLINICAL:
        threads = threads.filter(patient__care_teams__members=actor.pk)
    status = status if status in Status.values else Status.OPEN
    threads = threads.filter(status=status)
    rows = _rows(actor, threads, limit=POOL_PAGE_SIZE)
    record(
        action=Action.MESSAGE_LIST,
        actor=actor,
        context=context,
        object_type=f"pool:{pool or 'none'}",
        object_id=len(rows),
    )
    return PoolPage(
        pool=pool or "",
        pool_label=Pool(pool).label if pool else "",
        threads=rows,
        status=status,
    )


@dataclass(frozen=True)
class AbsencePage:
    current: Absence | None
    colleagues: list[Assignee]


def absence_page(*, actor) -> AbsencePage:
    """The actor's own absence and who may stand in (colleagues of the same pool; no PHI)."""
    current = (
        Absence.objects.filter(user=actor.pk, ends_at__gt=timezone.now())
        .select_related("delegate")
        .order_by("starts_at")
        .first()
    )
    roles = CLINICAL_ROLES if actor.role in CLINICAL_ROLES else {actor.role}
    users = (
        User.objects.filter(role__in=roles, is_active=True)
        .exclude(pk=actor.pk)
        .order_by("display_name", "username")
    )
    return AbsencePage(current, [Assignee(u.pk, u.get_full_name()) for u in users])


def can_reply(thread: Thread) -> bool:
    """Open and not idle: otherwise the patient starts a new message instead."""
    idle = timezone.now() - timedelta(days=settings.MESSAGING_IDLE_DAYS)
    return thread.status == Status.OPEN and thread.last_message_at > idle


# --- Helpers: below the access check, never called with an unchecked patient ----------


def _with_unread(actor, threads: QuerySet[Thread]) -> QuerySet[Thread]:
    """Each thread with ``unread``: messages from the other side since the actor's receipt.

    Correlated subqueries rather than a join and GROUP BY, so that under ORDER BY and
    LIMIT PostgreSQL counts only the rows a page shows (a pool holds thousands).
    """
    receipt = ReadReceipt.objects.filter(thread=OuterRef("pk"), user=actor.pk).values("read_at")
    unread = (
        Message.objects.filter(
            thread=OuterRef("pk"),
            from_patient=actor.role != Role.PATIENT,
            created_at__gt=OuterRef("read_at"),
        )
        .order_by()
        .values("thread")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return threads.annotate(
        read_at=Coalesce(Subquery(receipt[:1]), Value(NEVER)),
        unread=Coalesce(Subquery(unread), Value(0)),
    )


def _rows(actor, threads: QuerySet[Thread], limit: int | None = None) -> list[ThreadRow]:
    ordered = (
        _with_unread(actor, threads)
        .select_related("assigned_to")
        .order_by(F("awaiting_staff_since").asc(nulls_last=True), "-last_message_at")
        if actor.role != Role.PATIENT
        else _with_unread(actor, threads).select_related("assigned_to").order_by("-last_message_at")
    )
    loaded = list(ordered[:limit] if limit else ordered)
    preload_keys({t.patient_id for t in loaded})
    return [
        ThreadRow(
            id=t.pk,
            patient_id=t.patient_id,
            subject=t.subject,
            topic=t.get_topic_display(),
            pool=t.get_pool_display(),
            status=t.status,
            last_message_at=t.last_message_at,
            unread=t.unread,  # type: ignore[attr-defined]
            assigned_to=t.assigned_to.get_full_name() if t.assigned_to else "",
            awaiting_staff_since=t.awaiting_staff_since,
            can_reply=can_reply(t),
            overdue=t.escalated_at is not None,
        )
        for t in loaded
    ]


def _matching(actor, patient: Patient, threads: list[ThreadRow], query: str) -> list[ThreadRow]:
    needle = query.casefold()
    hits = {t.id for t in threads if isinstance(t.subject, str) and needle in t.subject.casefold()}
    bodies = Message.objects.filter(thread_id__in=[t.id for t in threads]).only(
        "id", "patient_id", "thread_id", "body"
    )
    hits |= {m.thread_id for m in bodies if isinstance(m.body, str) and needle in m.body.casefold()}
    return [t for t in threads if t.id in hits]


def _listed(actor, patient: Patient, what: str, context: AuditContext | None) -> None:
    record(
        action=Action.MESSAGE_LIST,
        actor=actor,
        context=context,
        patient_id=patient.pk,
        object_type=what,
        severity=Severity.HIGH if via_break_glass(actor=actor, patient=patient) else Severity.INFO,
    )


def _author_name(author: User, from_patient: bool, staff: bool) -> str:
    if from_patient:
        return "Patient" if staff else "You"
    return author.get_full_name()


def _patient_name(patient: Patient) -> str:
    demographics = PatientDemographics.objects.filter(patient=patient).first()
    if demographics is None:
        return f"Patient {patient.pk}"
    return f"{demographics.given_name} {demographics.family_name}"


def _assignees(thread: Thread) -> list[Assignee]:
    """Who the thread may be given to: people who could open it."""
    if thread.pool == Pool.CLINICAL:
        teams = CareTeam.objects.filter(patients=thread.patient_id)
        users = User.objects.filter(care_teams__in=teams)
    else:
        role = Role.FRONT_DESK if thread.pool == Pool.FRONT_DESK else Role.BILLING
        users = User.objects.filter(role=role)
    users = users.filter(is_active=True).distinct().order_by("display_name", "username")
    return [Assignee(u.pk, u.get_full_name()) for u in users]


def _read_by(thread: Thread, staff: bool) -> list[tuple[str, datetime]]:
    """Read receipts: the patient sees whether the clinic read it, staff see who did."""
    receipts = thread.receipts.select_related("user").order_by("read_at")
    shown = []
    for r in receipts:
        if r.user.role == Role.PATIENT:
            shown.append(("Patient" if staff else "You", r.read_at))
        else:
            shown.append((r.user.get_full_name() if staff else "Your clinic", r.read_at))
    return shown

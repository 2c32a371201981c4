"""Reads of the audit trail: the auditor's search, a patient's record accesses.

The trail holds ids and codes only, so nothing here can show clinical
content; staff names come from accounts for display.
"""

import uuid
from dataclasses import dataclass
from typing import Any

from auditlog.models import LogEntry
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.http import Http404

from audit.actions import Action, Severity
from audit.models import AuditEvent, AuditExport
from portal.policy import PATIENT_SIDE_ROLES, STAFF_ROLES, Actor, Role


def _require(actor: Actor, role: Role) -> None:
    # The views' @roles policy already decides this; a selector called from
    # elsewhere must not widen it.
    if getattr(actor, "role", None) != role:
        raise PermissionDenied


def user_id_for(*, username: str) -> uuid.UUID | None:
    return (
        get_user_model()
        .objects.filter(username__iexact=username)
        .values_list("pk", flat=True)
        .first()
    )


def event_filter(*, filters: dict[str, Any]) -> QuerySet[AuditEvent]:
    qs = AuditEvent.objects.all()
    for field, lookup in (
        ("user", "actor_id"),
        ("patient", "patient_id"),
        ("action", "action"),
        ("outcome", "outcome"),
        ("since", "occurred_at__gte"),
        ("until", "occurred_at__lt"),
    ):
        if filters.get(field):
            qs = qs.filter(**{lookup: filters[field]})
    return qs


def change_filter(*, filters: dict[str, Any]) -> QuerySet[LogEntry]:
    """auditlog's change rows: only the user and time filters apply to them."""
    qs: QuerySet[LogEntry] = LogEntry.objects.all()
    for field, lookup in (
        ("user", "actor_id"),
        ("since", "timestamp__gte"),
        ("until", "timestamp__lt"),
    ):
        if filters.get(field):
            qs = qs.filter(**{lookup: filters[field]})
    return qs


@dataclass(frozen=True)
class EventPage:
    rows: list[tuple[AuditEvent, str]]  # each event with its actor's username, if any
    newer: int | None  # pass as ?after= for the page before this one
    older: int | None  # pass as ?before= for the next page


def event_page(*, actor: Actor, filters: dict[str, Any], size: int) -> EventPage:
    """Newest first, by keyset on id (a count of millions of rows is never needed)."""
    _require(actor, Role.AUDITOR)
    qs = event_filter(filters=filters)
    if filters.get("after"):
        rows = list(qs.filter(id__gt=filters["after"]).order_by("id")[: size + 1])
        more_newer, rows = len(rows) > size, rows[:size][::-1]
        more_older = bool(rows)
    else:
        if filters.get("before"):
            qs = qs.filter(id__lt=filters["before"])
        rows = list(qs.order_by("-id")[: size + 1])
        more_older, rows = len(rows) > size, rows[:size]
        more_newer = bool(filters.get("before")) and bool(rows)
    names = dict(
        get_user_model()
        .objects.filter(pk__in={e.actor_id for e in rows if e.actor_id})
        .values_list("pk", "username")
    )
    return EventPage(
        [(e, names.get(e.actor_id, "") if e.actor_id else "") for e in rows],
        rows[0].pk if rows and more_newer else None,
        rows[-1].pk if rows and more_older else None,
    )


def export_list(*, actor: Actor, limit: int = 10) -> list[AuditExport]:
    _require(actor, Role.AUDITOR)
    return list(AuditExport.objects.filter(actor_id=actor.pk).order_by("-created_at")[:limit])


def access_export(*, actor: Actor, export_id: uuid.UUID) -> AuditExport:
    _require(actor, Role.AUDITOR)
    found = AuditExport.objects.filter(pk=export_id).first()
    if found is None:
        raise Http404("No such export, or it has not finished")
    return found


@dataclass(frozen=True)
class RecordAccess:
    occurred_at: object
    who: str
    role: str
    what: str
    break_glass: bool


def _what(event: AuditEvent) -> str:
    if event.object_type and event.action != Action.BREAK_GLASS:
        return event.object_type.replace("_", " ")
    return Action(event.action).label if event.action in Action.values else event.action


def record_access_page(
    *, actor: Actor, number: str | None, size: int
) -> tuple[Page[Any], list[RecordAccess]]:
    """Every access to the patient's own data by staff or by someone acting for them
    (a proxy), newest first; the patient's own reads are not listed."""
    _require(actor, Role.PATIENT)
    qs = (
        AuditEvent.objects.filter(
            patient_id=actor.patient_id,
            actor_role__in=[r.value for r in STAFF_ROLES | PATIENT_SIDE_ROLES],
        )
        .exclude(actor_id=actor.pk)
        .order_by("-id")
    )
    page = Paginator(qs, size).get_page(number)
    events = list(page.object_list)
    staff = {
        pk: display or username
        for pk, display, username in get_user_model()
        .objects.filter(pk__in={e.actor_id for e in events if e.actor_id})
        .values_list("pk", "display_name", "username")
    }
    roles = dict(Role.choices)
    accesses = [
        RecordAccess(
            occurred_at=e.occurred_at,
            who=staff.get(e.actor_id, "A former staff member"),
            role=(
                "Acting for you (proxy)"
                if e.actor_role in PATIENT_SIDE_ROLES
                else roles.get(e.actor_role, e.actor_role)
            ),
            what=_what(e),
            break_glass=e.action == Action.BREAK_GLASS or e.severity == Severity.HIGH,
        )
        for e in events
    ]
    return page, accesses

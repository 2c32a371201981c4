"""Response-time escalation and out-of-office, run by the periodic job (messaging/tasks.py).

- A thread whose patient has waited ``MESSAGING_RESPONSE_HOURS`` working hours
  (``MESSAGING_WORKING_HOURS`` on ``MESSAGING_WORKING_DAYS``, less
  ``MESSAGING_HOLIDAYS``, in ``MESSAGING_CLINIC_TIME_ZONE``) for a staff reply is
  flagged (``escalated_at``) once, an audit event per thread, and the pool's lead
  (``MESSAGING_POOL_LEADS``) gets one e-mail per run saying how many threads in
  which pool are overdue: no patient, subject or body.
- While a staff member is away (``Absence``), their open threads go to the
  delegate when the delegate may hold that thread and is not away too, otherwise
  back to the pool (unassigned); each move is an audit event.
"""

import logging
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import User
from audit.actions import Action, Severity
from audit.services import record
from messaging.models import Absence, Pool, Status, Thread
from patients.models import CareTeam
from portal.access import CLINICAL_ROLES, Role

logger = logging.getLogger(__name__)


# --- Working hours ---------------------------------------------------------------------


def _working_window() -> tuple[time, time]:
    opens, closes = settings.MESSAGING_WORKING_HOURS.split("-")
    return time.fromisoformat(opens.strip()), time.fromisoformat(closes.strip())


def _working_days() -> set[int]:
    return {int(d) for d in settings.MESSAGING_WORKING_DAYS.split(",") if d.strip()}


def _holidays() -> set[date]:
    return {
        date.fromisoformat(d.strip()) for d in settings.MESSAGING_HOLIDAYS.split(",") if d.strip()
    }


def working_day_hours() -> float:
    """How long one working day of the clinic is, in hours."""
    opens, closes = _working_window()
    day = date(2000, 1, 3)
    return (datetime.combine(day, closes) - datetime.combine(day, opens)) / timedelta(hours=1)


def working_hours_between(start: datetime, end: datetime) -> float:
    """Working hours of the clinic between two instants (0 when end is not after start)."""
    if end <= start:
        return 0.0
    zone = ZoneInfo(settings.MESSAGING_CLINIC_TIME_ZONE)
    opens, closes = _working_window()
    days, holidays = _working_days(), _holidays()
    seconds = 0.0
    day, last = start.astimezone(zone).date(), end.astimezone(zone).date()
    while day <= last:
        if day.isoweekday() in days and day not in holidays:
            lo = max(start, datetime.combine(day, opens, zone))
            hi = min(end, datetime.combine(day, closes, zone))
            if hi > lo:
                seconds += (hi - lo).total_seconds()
        day += timedelta(days=1)
    return seconds / 3600


# --- Escalation --------------------------------------------------------------------------


def threads_escalate(*, now: datetime | None = None) -> Counter[str]:
    """Flag overdue threads; returns how many were newly flagged per pool."""
    now = now or timezone.now()
    flagged: Counter[str] = Counter()
    waiting = Thread.objects.filter(
        status=Status.OPEN, awaiting_staff_since__isnull=False, escalated_at__isnull=True
    ).only("id", "patient_id", "pool", "awaiting_staff_since")
    for thread in waiting:
        since = thread.awaiting_staff_since
        if since is None or working_hours_between(since, now) < settings.MESSAGING_RESPONSE_HOURS:
            continue
        with transaction.atomic():
            changed = Thread.objects.filter(pk=thread.pk, escalated_at__isnull=True).update(
                escalated_at=now
            )
            if changed:
                record(
                    action=Action.MESSAGE_ESCALATE,
                    patient_id=thread.patient_id,
                    object_type="thread",
                    object_id=thread.pk,
                    severity=Severity.INFO,
                )
                flagged[thread.pool] += 1
    for pool, count in flagged.items():
        _tell_lead(pool, count)
    return flagged


def pool_lead(pool: str) -> str:
    """The address of a pool's lead from MESSAGING_POOL_LEADS ("clinical=a@x,billing=b@y"),
    or "" when none is set. Read at each call, so a changed setting applies at once."""
    pairs = (p.split("=", 1) for p in settings.MESSAGING_POOL_LEADS.split(",") if "=" in p)
    return {name.strip(): address.strip() for name, address in pairs}.get(pool, "")


def _tell_lead(pool: str, count: int) -> None:
    address = pool_lead(pool)
    if not address:
        logger.info("%s threads overdue in pool %s; no lead configured", count, pool)
        return
    label = Pool(pool).label
    body = (
        f"{count} conversation{'s' if count != 1 else ''} in the {label} pool "
        f"waited more than {settings.MESSAGING_RESPONSE_HOURS} working hours for a reply.\n\n"
        f"See the pool: {settings.PORTAL_BASE_URL}/staff/messages/\n"
    )
    send_mail("Carebridge: conversations waiting for a reply", body, None, [address])


# --- Out of office ---------------------------------------------------------------------------


def away_now(user_id: uuid.UUID, now: datetime | None = None) -> Absence | None:
    now = now or timezone.now()
    return (
        Absence.objects.filter(user_id=user_id, starts_at__lte=now, ends_at__gt=now)
        .order_by("-starts_at")
        .first()
    )


def delegate_of(absence: Absence, now: datetime | None = None) -> User | None:
    """The absence's delegate, if they are active and not away themselves."""
    delegate = absence.delegate
    if delegate is None or not delegate.is_active or away_now(delegate.pk, now):
        return None
    return delegate


def stand_in(
    person: User | None, *, may_hold: Callable[[User], bool], now: datetime | None = None
) -> User | None:
    """Who should hold work meant for ``person`` now (refills route through this too).

    The person, unless they are away; while away, their delegate when the delegate
    may hold the work and is not away too; otherwise None (back to the pool).
    """
    if person is None or not person.is_active:
        return None
    absence = away_now(person.pk, now)
    if absence is None:
        return person if may_hold(person) else None
    delegate = delegate_of(absence, now)
    return delegate if delegate is not None and may_hold(delegate) else None


def may_hold(person: User, thread: Thread) -> bool:
    """Whether the person could open the thread where it is (its pool, their role)."""
    if thread.pool == Pool.CLINICAL:
        return (
            person.role in CLINICAL_ROLES
            and CareTeam.objects.filter(patients=thread.patient_id, members=person).exists()
        )
    wanted = Role.FRONT_DESK if thread.pool == Pool.FRONT_DESK else Role.BILLING
    return person.role == wanted


def absences_apply(*, now: datetime | None = None) -> int:
    """Move the open threads of everyone away now; returns how many moved."""
    now = now or timezone.now()
    moved = 0
    current = Absence.objects.filter(starts_at__lte=now, ends_at__gt=now).select_related("delegate")
    for absence in current:
        delegate = delegate_of(absence, now)
        with transaction.atomic():
            threads = Thread.objects.select_for_update().filter(
                Q(assigned_to_id=absence.user_id), status=Status.OPEN
            )
            for thread in threads:
                target = delegate if delegate is not None and may_hold(delegate, thread) else None
                thread.assigned_to = target
                thread.save(update_fields=["assigned_to"])
                record(
                    action=Action.MESSAGE_ASSIGN,
                    patient_id=thread.patient_id,
                    object_type="absence:user" if target else "absence:pool",
                    object_id=target.pk if target else thread.pool,
                )
                moved += 1
    return moved

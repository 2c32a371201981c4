"""Open slots: clinicians' weekly templates, minus exceptions, minus what is booked.

Templates are wall-clock hours in their location's zone. Each day's window is
turned into UTC instants first and slots are stepped in real time (duration plus
buffer) from the window's start, so a DST change never yields a missing or a
doubled slot, and a 09:00 template stays 09:00 on the wall on both sides of it.

No patient data here and no access check: the selectors and services that call
these functions decide who may see or book what.
"""

import uuid
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlencode

from appointments.models import Appointment, Location, ScheduleException, VisitType, WeeklyTemplate


@dataclass(frozen=True)
class Slot:
    clinician_id: uuid.UUID
    clinician_name: str
    location: Location
    visit_type: VisitType
    starts_at: datetime  # UTC

    @property
    def ends_at(self) -> datetime:
        return self.starts_at + self.visit_type.duration

    @property
    def blocked_until(self) -> datetime:
        return self.ends_at + self.visit_type.buffer

    @property
    def local_start(self) -> datetime:
        return self.starts_at.astimezone(self.location.zone)

    @property
    def fields(self) -> dict[str, str]:
        """The slot as the booking form sends it back (appointments.forms.SlotForm)."""
        return {
            "clinician": str(self.clinician_id),
            "location": str(self.location.pk),
            "visit_type": str(self.visit_type.pk),
            "starts_at": self.starts_at.isoformat(),
        }

    @property
    def query(self) -> str:
        return urlencode(self.fields)


class _Busy:
    """A clinician's busy intervals, merged and sorted, for O(log n) overlap checks."""

    def __init__(self, intervals: Iterable[tuple[datetime, datetime]]) -> None:
        merged: list[list[datetime]] = []
        for start, end in sorted(intervals):
            if merged and start <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([start, end])
        self.starts = [m[0] for m in merged]
        self.ends = [m[1] for m in merged]

    def overlaps(self, start: datetime, end: datetime) -> bool:
        # Half-open ranges: the last busy interval starting before `end` is the only
        # candidate (they are disjoint), and it overlaps if it ends after `start`.
        i = bisect_left(self.starts, end) - 1
        return i >= 0 and self.ends[i] > start


def _days(first: date, last: date, weekday: int) -> Iterable[date]:
    day = first + timedelta(days=(weekday - first.weekday()) % 7)
    while day <= last:
        yield day
        day += timedelta(days=7)


def template_starts(
    template: WeeklyTemplate, earliest: datetime, latest: datetime
) -> Iterable[datetime]:
    """Every slot start the template offers between earliest and latest (UTC, inclusive)."""
    zone = template.location.zone
    step = template.visit_type.step
    duration = template.visit_type.duration
    first = (earliest.astimezone(zone) - timedelta(days=1)).date()
    last = (latest.astimezone(zone) + timedelta(days=1)).date()
    if template.valid_from:
        first = max(first, template.valid_from)
    if template.valid_until:
        last = min(last, template.valid_until)
    for day in _days(first, last, template.weekday):
        start = datetime.combine(day, template.start_time, tzinfo=zone).astimezone(UTC)
        end = datetime.combine(day, template.end_time, tzinfo=zone).astimezone(UTC)
        t = start
        while t + duration <= end:
            if earliest <= t <= latest:
                yield t
            t += step


def open_slots(
    *,
    visit_type: VisitType,
    earliest: datetime,
    latest: datetime,
    clinician_ids: Iterable[uuid.UUID] | None = None,
    location_id: uuid.UUID | None = None,
    include_booked: bool = False,
    ignore_appointment: uuid.UUID | None = None,
    limit: int | None = None,
) -> list[Slot]:
    """Slots of this visit type starting within [earliest, latest], soonest first.

    ``include_booked`` keeps slots that bookings cover (what is offered at all);
    ``ignore_appointment`` treats one appointment as free (a reschedule's own).
    """
    templates = WeeklyTemplate.objects.filter(visit_type=visit_type).select_related(
        "location", "visit_type", "clinician"
    )
    if clinician_ids is not None:
        templates = templates.filter(clinician_id__in=list(clinician_ids))
    if location_id is not None:
        templates = templates.filter(location_id=location_id)
    chosen = list(templates)
    if not chosen:
        return []
    slots: list[Slot] = []
    # With a limit (a page shows the soonest few), generate a window at a time and stop
    # once it is filled, instead of the whole horizon of every clinician.
    for start, end in _windows(earliest, latest) if limit is not None else [(earliest, latest)]:
        busy = _busy(
            chosen,
            start,
            end + visit_type.step,
            include_booked=include_booked,
            ignore_appointment=ignore_appointment,
        )
        found: dict[tuple[uuid.UUID, uuid.UUID, datetime], Slot] = {}
        for template in chosen:
            intervals = busy[(template.clinician_id, template.location_id)]
            name = template.clinician.display_name or template.clinician.username
            for t in template_starts(template, start, end):
                if intervals.overlaps(t, t + visit_type.step):
                    continue
                found.setdefault(
                    (template.clinician_id, template.location_id, t),
                    Slot(template.clinician_id, name, template.location, visit_type, t),
                )
        slots += sorted(
            found.values(), key=lambda s: (s.starts_at, s.clinician_name, s.location.name)
        )
        if limit is not None and len(slots) >= limit:
            break
    return slots[:limit] if limit is not None else slots


def _busy(
    templates: list[WeeklyTemplate],
    start: datetime,
    reach: datetime,
    *,
    include_booked: bool,
    ignore_appointment: uuid.UUID | None,
) -> dict[tuple[uuid.UUID, uuid.UUID], _Busy]:
    """Each (clinician, location)'s busy time between start and reach: exceptions for that
    location or all, and (unless include_booked) the clinician's active appointments."""
    clinicians = {t.clinician_id for t in templates}
    booked: dict[uuid.UUID, list[tuple[datetime, datetime]]] = defaultdict(list)
    blocked_at: dict[tuple[uuid.UUID, uuid.UUID | None], list[tuple[datetime, datetime]]] = (
        defaultdict(list)
    )
    exceptions = ScheduleException.objects.filter(
        clinician_id__in=clinicians, starts_at__lt=reach, ends_at__gt=start
    ).values_list("clinician_id", "location_id", "starts_at", "ends_at")
    for clinician_id, location_id, begins, ends in exceptions:
        blocked_at[(clinician_id, location_id)].append((begins, ends))
    if not include_booked:
        rows = Appointment.objects.filter(
            clinician_id__in=clinicians,
            status__in=Appointment.ACTIVE,
            starts_at__lt=reach,
            blocked_until__gt=start,
        )
        if ignore_appointment is not None:
            rows = rows.exclude(pk=ignore_appointment)
        for clinician_id, begins, ends in rows.values_list(
            "clinician_id", "starts_at", "blocked_until"
        ):
            booked[clinician_id].append((begins, ends))
    return {
        (t.clinician_id, t.location_id): _Busy(
            booked[t.clinician_id]
            + blocked_at[(t.clinician_id, None)]
            + blocked_at[(t.clinician_id, t.location_id)]
        )
        for t in templates
    }


def _windows(earliest: datetime, latest: datetime) -> Iterable[tuple[datetime, datetime]]:
    """[earliest, latest] cut into disjoint, inclusive windows: two days, then weeks."""
    tick = timedelta(microseconds=1)
    start, length = earliest, timedelta(days=2)
    while start <= latest:
        end = min(start + length, latest + tick)
        yield start, end - tick
        start, length = end, timedelta(days=7)


def nearest_slots(
    *,
    visit_type: VisitType,
    clinician_id: uuid.UUID,
    location_id: uuid.UUID,
    wanted: datetime,
    earliest: datetime,
    latest: datetime,
    count: int = 3,
) -> list[Slot]:
    """The open slots closest in time to the one wanted (what "just taken" offers instead)."""
    window = timedelta(days=14)
    slots = open_slots(
        visit_type=visit_type,
        earliest=max(earliest, wanted - window),
        latest=min(latest, wanted + window),
        clinician_ids=[clinician_id],
        location_id=location_id,
    )
    return sorted(
        sorted(slots, key=lambda s: abs(s.starts_at - wanted))[:count], key=lambda s: s.starts_at
    )

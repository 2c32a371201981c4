"""Slots come from weekly templates in the location's zone, minus exceptions and bookings."""

import datetime as dt
import itertools
from zoneinfo import ZoneInfo

import pytest

from appointments.models import Appointment, ScheduleException
from appointments.slots import open_slots
from tests.appointments import builders

NY = ZoneInfo(builders.NEW_YORK)
UTC = dt.UTC


def _starts(kind, earliest, latest, **kwargs):
    return [
        s.starts_at for s in open_slots(visit_type=kind, earliest=earliest, latest=latest, **kwargs)
    ]


def test_it_generates_wall_clock_slots_in_the_locations_zone(clinic):
    _place, kind = clinic
    day = dt.datetime(2026, 1, 5, tzinfo=UTC)
    starts = _starts(kind, day, day + dt.timedelta(days=1))
    assert [s.astimezone(NY).strftime("%H:%M") for s in starts] == [
        "09:00",
        "09:30",
        "10:00",
        "10:30",
        "11:00",
        "11:30",
    ]
    assert starts[0] == dt.datetime(2026, 1, 5, 14, 0, tzinfo=UTC)  # 09:00 EST


def test_it_keeps_nine_oclock_on_the_wall_across_the_march_change(clinic):
    _place, kind = clinic
    before = _starts(kind, dt.datetime(2026, 3, 6, tzinfo=UTC), dt.datetime(2026, 3, 7, tzinfo=UTC))
    after = _starts(kind, dt.datetime(2026, 3, 9, tzinfo=UTC), dt.datetime(2026, 3, 10, tzinfo=UTC))
    assert before[0] == dt.datetime(2026, 3, 6, 14, 0, tzinfo=UTC)  # Friday, EST
    assert after[0] == dt.datetime(2026, 3, 9, 13, 0, tzinfo=UTC)  # Monday, EDT
    assert len(before) == len(after) == 6


@pytest.mark.parametrize(
    ("night", "expected_wall_times", "expected_count"),
    [
        # Spring forward (2026-03-08): 02:00-03:00 does not exist; three real hours.
        (dt.date(2026, 3, 8), ["00:00 EST", "01:00 EST", "03:00 EDT"], 3),
        # Fall back (2026-11-01): 01:00-02:00 happens twice; five real hours.
        (
            dt.date(2026, 11, 1),
            ["00:00 EDT", "01:00 EDT", "01:00 EST", "02:00 EST", "03:00 EST"],
            5,
        ),
    ],
)
def test_it_has_no_missing_or_doubled_slots_across_a_dst_change(
    carol, night, expected_wall_times, expected_count
):
    place = builders.location()
    kind = builders.visit_type(duration_minutes=60)
    builders.weekdays(carol, place, kind, start=dt.time(0), end=dt.time(4), days=[6])
    earliest = dt.datetime.combine(night, dt.time(0), tzinfo=UTC)
    starts = _starts(kind, earliest, earliest + dt.timedelta(days=1))
    assert len(starts) == len(set(starts)) == expected_count
    assert [s.astimezone(NY).strftime("%H:%M %Z") for s in starts] == expected_wall_times
    assert all(b - a == dt.timedelta(hours=1) for a, b in itertools.pairwise(starts))


def test_it_leaves_out_exceptions_and_booked_time_with_its_buffer(clinic, carol, alice):
    place, kind = clinic
    kind.buffer_minutes = 10
    kind.save()
    day = dt.datetime(2026, 1, 5, tzinfo=UTC)
    # 40-minute steps: 09:00, 09:40, 10:20, 11:00 (11:40 would end after 12:00).
    assert len(_starts(kind, day, day + dt.timedelta(days=1))) == 4
    ScheduleException.objects.create(
        clinician=carol,
        starts_at=dt.datetime(2026, 1, 5, 14, 0, tzinfo=UTC),
        ends_at=dt.datetime(2026, 1, 5, 14, 30, tzinfo=UTC),
        label="Blocked",
    )
    start = dt.datetime(2026, 1, 5, 15, 20, tzinfo=UTC)  # 10:20 EST
    Appointment.objects.create(
        patient=alice.patient,
        clinician=carol,
        location=place,
        visit_type=kind,
        starts_at=start,
        ends_at=start + dt.timedelta(minutes=30),
        blocked_until=start + dt.timedelta(minutes=40),
        booked_by=alice,
    )
    left = _starts(kind, day, day + dt.timedelta(days=1))
    assert [s.astimezone(NY).strftime("%H:%M") for s in left] == ["09:40", "11:00"]


def test_it_frees_a_cancelled_appointments_time(clinic, carol, alice):
    place, kind = clinic
    start = dt.datetime(2026, 1, 5, 14, 0, tzinfo=UTC)
    Appointment.objects.create(
        patient=alice.patient,
        clinician=carol,
        location=place,
        visit_type=kind,
        starts_at=start,
        ends_at=start + dt.timedelta(minutes=30),
        blocked_until=start + dt.timedelta(minutes=30),
        booked_by=alice,
        status=Appointment.Status.CANCELLED,
    )
    assert start in _starts(kind, start, start)


def test_it_lets_a_holiday_for_every_location_win_over_the_template(clinic, carol):
    _place, kind = clinic
    ScheduleException.objects.create(
        clinician=carol,
        starts_at=dt.datetime(2026, 1, 5, 5, 0, tzinfo=UTC),
        ends_at=dt.datetime(2026, 1, 6, 5, 0, tzinfo=UTC),
        label="Holiday",
    )
    day = dt.datetime(2026, 1, 5, tzinfo=UTC)
    assert _starts(kind, day, day + dt.timedelta(days=1)) == []


def test_a_limited_search_finds_the_same_soonest_slots_as_the_whole_horizon(clinic, carol, alice):
    place, kind = clinic
    earliest = dt.datetime(2026, 1, 5, 20, 0, tzinfo=UTC)  # after Monday's hours
    latest = earliest + dt.timedelta(days=90)
    for days in (1, 8, 9):  # booked slots in the first window, the second and the third
        start = dt.datetime(2026, 1, 5, 14, 0, tzinfo=UTC) + dt.timedelta(days=days)
        Appointment.objects.create(
            patient=alice.patient,
            clinician=carol,
            location=place,
            visit_type=kind,
            starts_at=start,
            ends_at=start + dt.timedelta(minutes=30),
            blocked_until=start + dt.timedelta(minutes=30),
            booked_by=alice,
        )
    whole = open_slots(visit_type=kind, earliest=earliest, latest=latest)
    for limit in (1, 5, 30, 70, 10_000):
        limited = open_slots(visit_type=kind, earliest=earliest, latest=latest, limit=limit)
        assert limited == whole[:limit]

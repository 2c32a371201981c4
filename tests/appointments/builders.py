"""Clinic set-up for appointment tests: a location, visit types, carol's weekly hours."""

import datetime as dt

from appointments.models import Location, VisitType, WeeklyTemplate

# A Monday, 06:00 in New York (EST, UTC-5): "now" in most appointment tests.
MONDAY = dt.datetime(2026, 1, 5, 11, 0, tzinfo=dt.UTC)
NEW_YORK = "America/New_York"


def location(name="Main Street Clinic", time_zone=NEW_YORK) -> Location:
    return Location.objects.create(name=name, address="1 Main Street", time_zone=time_zone)


def visit_type(name="Follow-up", **rules) -> VisitType:
    rules = {
        "duration_minutes": 30,
        "min_notice_minutes": 120,
        "horizon_days": 90,
        "cancel_cutoff_hours": 24,
        "buffer_minutes": 0,
        **rules,
    }
    return VisitType.objects.create(name=name, **rules)


def weekdays(clinician, place, kind, start=dt.time(9), end=dt.time(12), days=range(5)):
    """Weekly hours on the given weekdays (Monday 0)."""
    return [
        WeeklyTemplate.objects.create(
            clinician=clinician,
            location=place,
            visit_type=kind,
            weekday=day,
            start_time=start,
            end_time=end,
        )
        for day in days
    ]

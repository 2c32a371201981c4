"""Dates and times in a named zone: appointments show their location's wall clock."""

import zoneinfo
from datetime import datetime

from django import template

register = template.Library()


@register.filter
def in_zone(value: datetime | None, zone: str | zoneinfo.ZoneInfo) -> str:
    """``Mon 7 Dec 2026, 09:00 EST``: the wall-clock time in ``zone``, its abbreviation named."""
    if value is None:
        return ""
    local = value.astimezone(
        zone if isinstance(zone, zoneinfo.ZoneInfo) else zoneinfo.ZoneInfo(zone)
    )
    return f"{local:%a} {local.day} {local:%b %Y, %H:%M} {local.tzname()}"


@register.filter
def time_in_zone(value: datetime | None, zone: str | zoneinfo.ZoneInfo) -> str:
    if value is None:
        return ""
    local = value.astimezone(
        zone if isinstance(zone, zoneinfo.ZoneInfo) else zoneinfo.ZoneInfo(zone)
    )
    return f"{local:%H:%M}"

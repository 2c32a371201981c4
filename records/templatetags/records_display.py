"""Display helpers for record values (as sent: no rounding, no unit conversion)."""

from typing import Any

from django import template

from records import presenters

register = template.Library()


@register.filter
def quantity(value: Any) -> str:
    return presenters.quantity(value)


@register.filter
def when(value: Any) -> str:
    return presenters.when(str(value or ""))


@register.filter
def note_for(notes: dict[str, Any], key: str) -> Any:
    """``notes|note_for:item.fhir_id``: what another feature says about this entry."""
    return notes.get(key) if notes else None

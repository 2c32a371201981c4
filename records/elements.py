"""Reading FHIR data types out of a validated resource, values exactly as sent.

The display mappers in records/types.py are built from these. They read the
resource's JSON (already validated by portal/fhir): the R4B model would turn
"2026-10-01T08:15:00Z" into a datetime and 7.10 sent as a float into 7.1,
and the portal shows what the EHR sent. Every reader tolerates an element
that is absent or sent only as its extension (``_birthDate``, a
data-absent-reason), which FHIR allows on any primitive.
"""

from typing import Any, TypedDict


class Coding(TypedDict, total=False):
    """The first coding's system and code (lab trends group by them)."""

    system: str
    code: str


class Quantity(TypedDict, total=False):
    """Value, comparator and unit as sent; keys absent when the EHR sent none."""

    value: Any  # Decimal or int, as parsed from the JSON
    unit: str
    comparator: str


def primitives(values: Any) -> list[Any]:
    """A primitive list's values without its nulls.

    A null lines a value up with its ``_element`` sibling when only the
    extension was sent (``"category": [null], "_category": [{data-absent-reason}]``).
    """
    return [v for v in values or [] if v is not None]


def concept_text(concept: Any) -> str:
    """A CodeableConcept's text, else its first coding's display, else its code."""
    if not isinstance(concept, dict):
        return ""
    if concept.get("text"):
        return str(concept["text"])
    for coding in concept.get("coding") or []:
        if coding.get("display"):
            return str(coding["display"])
    for coding in concept.get("coding") or []:
        if coding.get("code"):
            return str(coding["code"])
    return ""


def concept_texts(concepts: Any) -> list[str]:
    return [t for t in (concept_text(c) for c in concepts or []) if t]


def first_coding(concept: Any) -> Coding:
    for coding in (concept or {}).get("coding") or []:
        if coding.get("code"):
            return {"system": coding.get("system", ""), "code": coding["code"]}
    return {}


def quantity(element: Any) -> Quantity:
    """Value, comparator and unit exactly as sent (unit text, else the UCUM code)."""
    if not isinstance(element, dict):
        return {}
    out: Quantity = {}
    if element.get("value") is not None:
        out["value"] = element["value"]
    if (unit := element.get("unit") or element.get("code")) is not None:
        out["unit"] = unit
    if element.get("comparator"):
        out["comparator"] = element["comparator"]
    return out


class Value(TypedDict, total=False):
    """An Observation's (or component's) value[x]: a quantity's keys, or a range."""

    value: Any
    unit: str
    comparator: str
    low: Quantity
    high: Quantity


def value(resource: dict[str, Any]) -> Value:
    if "valueQuantity" in resource:
        return Value(**quantity(resource["valueQuantity"]))
    if "valueCodeableConcept" in resource:
        return {"value": concept_text(resource["valueCodeableConcept"])}
    for key in ("valueString", "valueBoolean", "valueInteger", "valueDateTime", "valueTime"):
        if key in resource:
            return {"value": resource[key]}
    if "valueRange" in resource:
        low = quantity(resource["valueRange"].get("low"))
        high = quantity(resource["valueRange"].get("high"))
        return {"low": low, "high": high}
    return {}


def period_start(period: Any) -> str:
    return str(period.get("start", "")) if isinstance(period, dict) else ""


def first_date(resource: dict[str, Any], *keys: str) -> str:
    """The first of several choice elements present (dates: as sent, ISO text)."""
    for key in keys:
        element = resource.get(key)
        if isinstance(element, str) and element:
            return element
        if key.endswith("Period") and (start := period_start(element)):
            return start
    return ""


def medication_name(resource: dict[str, Any]) -> str:
    if "medicationCodeableConcept" in resource:
        return concept_text(resource["medicationCodeableConcept"])
    reference = resource.get("medicationReference") or {}
    return str(reference.get("display", ""))


def dosage_texts(resource: dict[str, Any], key: str) -> list[str]:
    return [str(d["text"]) for d in resource.get(key) or [] if d.get("text")]


def note_texts(resource: dict[str, Any]) -> list[str]:
    """Annotation texts (``note``)."""
    return [str(n["text"]) for n in resource.get("note") or [] if n.get("text")]

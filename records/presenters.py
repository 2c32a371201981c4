"""Stored FHIR rows as the plain items pages, the PDF and the chart show.

Everything here works on decrypted ``display`` dicts (mapped at ingest by the
registry in records/types.py, in the shapes it states) and never touches the
database. A row whose ``display`` cannot be decrypted becomes an item with
``unreadable`` set to the ``Undecryptable`` marker and an empty ``display``:
templates show the marker, never crash.

Values are shown exactly as sent: a ``Decimal("7.10")`` renders as 7.10, an
int as itself; nothing is rounded or converted.
"""

import base64
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any, cast

from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.formats import date_format

from portal.crypto.digests import site_digest
from portal.crypto.values import Undecryptable
from records.models import FhirRecord
from records.types import AnyDisplay, DocumentDisplay, EncounterDisplay, ObservationDisplay

ACTIVE_STATUSES = frozenset({"active", "recurrence", "relapse", "on-hold"})
# Interpretation codes (v3 ObservationInterpretation) and what the page says.
FLAGS = {
    "H": "High",
    "HU": "Very high",
    "HH": "Critically high",
    "L": "Low",
    "LU": "Very low",
    "LL": "Critically low",
    "A": "Abnormal",
    "AA": "Critically abnormal",
}
TREND_KEY_LENGTH = 12


@dataclass
class Item:
    """One stored resource: its display dict, or the marker when it cannot be read.

    ``display`` has the shape its type's ``*Display`` in records/types.py states
    (``{}`` when unreadable); templates read ``item.display.<key>``.
    """

    resource_type: str
    fhir_id: str
    display: AnyDisplay | dict[str, Any]
    unreadable: Undecryptable | None = None

    @property
    def effective(self) -> str:
        return str(self.display.get("effective") or "")

    @property
    def when(self) -> str:
        return when(self.effective)

    @property
    def status(self) -> str:
        return str(self.display.get("status") or "")

    @property
    def name(self) -> str:
        """What the entry is about: the code's text, or the medicine."""
        return text(self.display.get("code") or self.display.get("medication"))

    @property
    def reference(self) -> str:
        return f"{self.resource_type}/{self.fhir_id}"


def open_rows(rows: list[FhirRecord]) -> list[Item]:
    items = []
    for row in rows:
        display = row.display
        if isinstance(display, Undecryptable):
            items.append(Item(row.resource_type, row.fhir_id, {}, display))
        else:
            items.append(Item(row.resource_type, row.fhir_id, display or {}))
    return items


def entered_in_error(item: Item) -> bool:
    """The EHR withdrew this resource as a mistake (FHIR status or verification status).

    Such a result or diagnosis is not the patient's: pages and the PDF leave it
    out (the FHIR download keeps it, with its status, as sent).
    """
    values = (item.display.get("status"), item.display.get("verification_status"))
    return any(str(v or "").strip().lower().replace(" ", "-") == "entered-in-error" for v in values)


def latest_first(items: list[Item]) -> list[Item]:
    """By clinical date, newest first; undated and unreadable rows last."""
    return sorted(items, key=lambda i: i.effective, reverse=True)


def active_first(items: list[Item], status_key: str = "status") -> list[Item]:
    """Active entries first, each group newest first (unreadable rows with the active)."""
    return sorted(latest_first(items), key=lambda i: not is_active(i, status_key))


def is_active(item: Item, status_key: str = "status") -> bool:
    if item.unreadable is not None:
        return True  # cannot tell: shown rather than hidden
    return str(item.display.get(status_key) or "").lower() in ACTIVE_STATUSES


# --- values and dates ---------------------------------------------------------------


def number(value: Any) -> Decimal | None:
    """A JSON number as a Decimal (floats by their shortest text); None for anything else."""
    if isinstance(value, bool) or not isinstance(value, Decimal | int | float):
        return None
    try:
        result = value if isinstance(value, Decimal) else Decimal(repr(value))
    except InvalidOperation:
        return None
    return result if result.is_finite() else None


def text(value: Any) -> str:
    """A value as sent: Decimal("7.10") -> "7.10"; booleans as Yes/No."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def quantity(q: Any) -> str:
    """Comparator, value and unit of a mapped quantity: "< 5.6 %"."""
    if not isinstance(q, dict) or "value" not in q:
        return ""
    parts = [q.get("comparator", ""), text(q.get("value")), text(q.get("unit"))]
    return " ".join(p for p in parts if p)


def parse_when(value: str) -> datetime | date | None:
    """A FHIR date (kept a date: no made-up midnight) or dateTime; None for partial dates."""
    try:
        if len(value) <= len("2026-01-01"):
            return parse_date(value)
        parsed = parse_datetime(value)
    except ValueError:
        return None
    if parsed is None:
        return None
    if timezone.is_naive(parsed):
        return parsed
    return timezone.localtime(parsed)


def when(value: str) -> str:
    """An ISO date or date-time as a reader's date ("1 Oct 2026, 08:15"); other text as sent."""
    if not value:
        return ""
    parsed = parse_when(value)
    if isinstance(parsed, datetime):
        return date_format(parsed, "j M Y, H:i")
    if isinstance(parsed, date):
        return date_format(parsed, "j M Y")
    return value  # a partial date ("2019-04") or a year


def timestamp(value: str) -> float | None:
    """Seconds since the epoch for the chart's time axis; None when undated."""
    parsed = parse_when(value) if value else None
    if isinstance(parsed, datetime):
        if timezone.is_naive(parsed):
            parsed = timezone.make_aware(parsed)
        return parsed.timestamp()
    if isinstance(parsed, date):
        return datetime.combine(parsed, time(), tzinfo=timezone.get_current_timezone()).timestamp()
    return None


# --- lab results ---------------------------------------------------------------------


def trend_key(coding: Any) -> str:
    """A short opaque key for a test's code system and code (URL-safe, never a name).

    Keyed with the site's secret, so a key in a URL or an access log cannot be
    turned back into the test by hashing a code list.
    """
    if not isinstance(coding, dict) or not coding.get("code"):
        return ""
    digest = site_digest(f"{coding.get('system', '')}|{coding['code']}", purpose="records.trend")
    return base64.urlsafe_b64encode(digest).decode()[:TREND_KEY_LENGTH]


@dataclass
class RangeBand:
    low: Decimal | None = None
    high: Decimal | None = None
    text: str = ""


@dataclass
class LabResult:
    item: Item
    name: str = ""
    value: str = ""
    unit: str = ""
    number: Decimal | None = None
    range: RangeBand = field(default_factory=RangeBand)
    range_text: str = ""
    flag: str = ""  # "high", "low", "abnormal" or ""
    flag_label: str = ""
    interpretation: str = ""
    key: str = ""
    code: str = ""

    @property
    def unreadable(self) -> Undecryptable | None:
        return self.item.unreadable

    @property
    def when(self) -> str:
        return self.item.when

    @property
    def effective(self) -> str:
        return self.item.effective


def lab_result(item: Item) -> LabResult:
    result = LabResult(item=item)
    if item.unreadable is not None:
        return result
    d = cast(ObservationDisplay, item.display)
    result.name = text(d.get("code")) or "Unnamed test"
    result.number = number(d.get("value"))
    result.unit = text(d.get("unit"))
    if "value" in d:
        result.value = " ".join(p for p in (text(d.get("comparator")), text(d["value"])) if p)
    elif "low" in d or "high" in d:
        result.value = f"{quantity(d.get('low'))} to {quantity(d.get('high'))}"
    elif d.get("components"):
        result.value = "; ".join(
            f"{c.get('code', '')} {quantity(c) or text(c.get('value'))}".strip()
            for c in d["components"]
            if isinstance(c, dict)
        )
    result.range = _range(d.get("reference_range"))
    result.range_text = _range_text(result.range, result.unit)
    result.interpretation = ", ".join(text(t) for t in d.get("interpretation") or [])
    result.flag, result.flag_label = _flag(
        str(d.get("interpretation_code") or ""), result.number, result.range
    )
    result.key = trend_key(d.get("coding"))
    result.code = text((d.get("coding") or {}).get("code"))
    return result


def _range(ranges: Any) -> RangeBand:
    """The first reference range (the normal range when the EHR gives several)."""
    for rr in ranges or []:
        if isinstance(rr, dict):
            return RangeBand(
                low=number((rr.get("low") or {}).get("value")),
                high=number((rr.get("high") or {}).get("value")),
                text=text(rr.get("text")),
            )
    return RangeBand()


def _range_text(band: RangeBand, unit: str) -> str:
    if band.text:
        return band.text
    if band.low is not None and band.high is not None:
        return f"{band.low} to {band.high} {unit}".strip()
    if band.low is not None:
        return f"at least {band.low} {unit}".strip()
    if band.high is not None:
        return f"at most {band.high} {unit}".strip()
    return ""


def _flag(code: str, value: Decimal | None, band: RangeBand) -> tuple[str, str]:
    """The EHR's interpretation when it gives one; else the value against the range."""
    code = code.upper()
    if code in FLAGS:
        kind = "high" if code.startswith("H") else "low" if code.startswith("L") else "abnormal"
        return kind, FLAGS[code]
    if value is not None and band.high is not None and value > band.high:
        return "high", "High"
    if value is not None and band.low is not None and value < band.low:
        return "low", "Low"
    return "", ""


@dataclass
class LabTest:
    """One test over time: its latest result and how many there are."""

    key: str
    name: str
    latest: LabResult
    count: int


def lab_tests(results: list[LabResult]) -> list[LabTest]:
    """Tests (by code), each with its latest result, most recently measured first."""
    tests: dict[str, LabTest] = {}
    for result in results:  # already latest first
        if not result.key:
            continue
        if result.key in tests:
            tests[result.key].count += 1
        else:
            tests[result.key] = LabTest(result.key, result.name, result, 1)
    return list(tests.values())


# --- visits --------------------------------------------------------------------------


@dataclass
class Visit:
    item: Item
    diagnoses: list[Item]
    notes: list[Item]
    missing_diagnoses: int = 0

    @property
    def unreadable(self) -> Undecryptable | None:
        return self.item.unreadable


def visits(encounters: list[Item], conditions: list[Item], notes: list[Item]) -> list[Visit]:
    """Encounters newest first, each with its diagnoses and notes resolved."""
    by_reference = {c.reference: c for c in conditions}
    notes_by_encounter: dict[str, list[Item]] = {}
    for note in latest_first(notes):
        for reference in cast(DocumentDisplay, note.display).get("encounters") or []:
            notes_by_encounter.setdefault(str(reference), []).append(note)
    out = []
    for encounter in latest_first(encounters):
        diagnoses = cast(EncounterDisplay, encounter.display).get("diagnoses") or []
        references = [str(r) for r in diagnoses]
        found = [by_reference[r] for r in references if r in by_reference]
        out.append(
            Visit(
                item=encounter,
                diagnoses=found,
                notes=notes_by_encounter.get(encounter.reference, []),
                missing_diagnoses=len(references) - len(found),
            )
        )
    return out


def unattached_notes(encounters: list[Item], notes: list[Item]) -> list[Item]:
    """Notes that name no encounter we hold (unreadable notes included)."""
    known = {e.reference for e in encounters}
    return [
        n
        for n in latest_first(notes)
        if n.unreadable is not None
        or not known.intersection(cast(DocumentDisplay, n.display).get("encounters") or [])
    ]

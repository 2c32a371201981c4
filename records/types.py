"""The record types the portal syncs and shows: one registry, one stated display shape.

Each FHIR resource type the pages show has one ``RecordType`` in ``REGISTRY``:

- ``search``: the search parameters that narrow the EHR's answer to what is
  shown (records/sync.py asks ``<Type>?patient=<id>&<search>``, nothing else);
- ``patient_element``: where the type names its patient (``subject`` or
  ``patient``); ingest drops a resource that names anyone else;
- ``display``: the mapper from a validated resource to the small dict pages,
  the PDF and the presenters read, stored encrypted in ``FhirRecord.display``.
  Its shape is the type's ``TypedDict`` below (``ObservationDisplay``…): that
  is the one statement of what a row can show; templates read
  ``item.display.<key>`` and records/pdf.py ``item.display.get("<key>")``;
- ``short``: the type's short name where an audit row lists several types.

Every display has ``status`` and ``effective`` (the clinical date, ISO text
as sent, "" when unknown; pages sort by it). Values are kept exactly as sent.
The shape of stored displays is the one these mappers have always written, so
rows stored before this registry read unchanged (no data migration).

Adding a type: see "How to add a record type" in docs/architecture.md.
"""

import base64
import binascii
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NotRequired, TypedDict

from django.db import models

from records.elements import (
    Coding,
    Quantity,
    Value,
    concept_text,
    concept_texts,
    dosage_texts,
    first_coding,
    first_date,
    medication_name,
    note_texts,
    period_start,
    primitives,
    quantity,
    value,
)

# A visit note's text is shown inline up to this size; longer notes are cut
# with a marker (the whole note stays in the stored resource and the downloads).
NOTE_TEXT_LIMIT = 20_000


class ResourceType(models.TextChoices):
    """The FHIR resource types the portal shows (and therefore syncs)."""

    OBSERVATION = "Observation"
    DIAGNOSTIC_REPORT = "DiagnosticReport"
    ENCOUNTER = "Encounter"
    CONDITION = "Condition"
    MEDICATION_REQUEST = "MedicationRequest"
    MEDICATION_STATEMENT = "MedicationStatement"
    ALLERGY_INTOLERANCE = "AllergyIntolerance"
    IMMUNIZATION = "Immunization"
    # Visit notes and discharge summaries (context.encounter links them to visits).
    DOCUMENT_REFERENCE = "DocumentReference"


# --- the display shapes ------------------------------------------------------------


class Display(TypedDict):
    """What every type's display has."""

    status: str
    effective: str  # ISO date or dateTime text as sent; "" when unknown


class ReferenceRange(TypedDict):
    low: Quantity
    high: Quantity
    text: str
    type: str


class Component(Value):
    code: str


class ObservationDisplay(Display):
    code: str
    coding: Coding
    category: list[str]
    # value[x]: a quantity's value/unit/comparator, or a range's low/high; absent when none.
    value: NotRequired[Any]
    unit: NotRequired[str]
    comparator: NotRequired[str]
    low: NotRequired[Quantity]
    high: NotRequired[Quantity]
    reference_range: list[ReferenceRange]
    interpretation: list[str]
    interpretation_code: str
    components: list[Component]
    note: list[str]


class DiagnosticReportDisplay(Display):
    code: str
    category: list[str]
    conclusion: str
    results: list[str]  # references to the Observations


# "class" is a Python keyword: the functional form states the same kind of TypedDict.
EncounterDisplay = TypedDict(
    "EncounterDisplay",
    {
        "status": str,
        "effective": str,
        "class": str,
        "type": list[str],
        "reason": list[str],
        "diagnoses": list[str],  # references to Conditions
        "end": str,
        "service_provider": str,
    },
)


class ConditionDisplay(Display):
    code: str
    clinical_status: str
    verification_status: str
    category: list[str]
    severity: str
    abatement: str
    note: list[str]


class MedicationRequestDisplay(Display):
    medication: str
    intent: str
    dosage: list[str]
    requester: str


class MedicationStatementDisplay(Display):
    medication: str
    dosage: list[str]


class Reaction(TypedDict):
    manifestation: list[str]
    severity: str
    description: str


class AllergyDisplay(Display):
    code: str
    clinical_status: str
    verification_status: str
    type: str
    category: list[str]
    criticality: str
    reactions: list[Reaction]


class ImmunizationDisplay(Display):
    code: str
    lot_number: str
    dose_quantity: Quantity
    site: str
    route: str


class DocumentDisplay(Display):
    type: str
    category: list[str]
    description: str
    encounters: list[str]  # references to the Encounters the note is about
    authors: list[str]
    text: str  # the plain-text note, cut at NOTE_TEXT_LIMIT


AnyDisplay = (
    ObservationDisplay
    | DiagnosticReportDisplay
    | EncounterDisplay
    | ConditionDisplay
    | MedicationRequestDisplay
    | MedicationStatementDisplay
    | AllergyDisplay
    | ImmunizationDisplay
    | DocumentDisplay
)


# --- the mappers: a validated resource's JSON -> its display ----------------------------


def _status(r: dict[str, Any]) -> str:
    return str(r.get("status") or "")


def _observation(r: dict[str, Any]) -> ObservationDisplay:
    interpretation = r.get("interpretation") or []
    return {
        "status": _status(r),
        "code": concept_text(r.get("code")),
        "coding": first_coding(r.get("code")),
        "category": concept_texts(r.get("category")),
        **value(r),  # type: ignore[typeddict-item]
        "reference_range": [
            {
                "low": quantity(rr.get("low")),
                "high": quantity(rr.get("high")),
                "text": rr.get("text", ""),
                "type": concept_text(rr.get("type")),
            }
            for rr in r.get("referenceRange") or []
        ],
        "interpretation": concept_texts(interpretation),
        "interpretation_code": (
            first_coding(interpretation[0]).get("code", "") if interpretation else ""
        ),
        "effective": first_date(r, "effectiveDateTime", "effectivePeriod", "effectiveInstant")
        or str(r.get("issued", "")),
        "components": [
            {"code": concept_text(c.get("code")), **value(c)}  # type: ignore[typeddict-item]
            for c in r.get("component") or []
        ],
        "note": note_texts(r),
    }


def _diagnostic_report(r: dict[str, Any]) -> DiagnosticReportDisplay:
    return {
        "status": _status(r),
        "code": concept_text(r.get("code")),
        "category": concept_texts(r.get("category")),
        "conclusion": r.get("conclusion", ""),
        "effective": first_date(r, "effectiveDateTime", "effectivePeriod")
        or str(r.get("issued", "")),
        "results": [x.get("reference", "") for x in r.get("result") or []],
    }


def _encounter(r: dict[str, Any]) -> EncounterDisplay:
    period = r.get("period") or {}
    klass = r.get("class") or {}
    return {
        "status": _status(r),
        "class": klass.get("display") or klass.get("code", ""),
        "type": concept_texts(r.get("type")),
        "reason": concept_texts(r.get("reasonCode")),
        "diagnoses": [d["condition"].get("reference", "") for d in r.get("diagnosis") or []],
        "effective": period.get("start", ""),
        "end": period.get("end", ""),
        "service_provider": (r.get("serviceProvider") or {}).get("display", ""),
    }


def _condition(r: dict[str, Any]) -> ConditionDisplay:
    return {
        "status": _status(r),
        "code": concept_text(r.get("code")),
        "clinical_status": concept_text(r.get("clinicalStatus")),
        "verification_status": concept_text(r.get("verificationStatus")),
        "category": concept_texts(r.get("category")),
        "severity": concept_text(r.get("severity")),
        "effective": first_date(r, "onsetDateTime", "onsetPeriod", "recordedDate"),
        "abatement": first_date(r, "abatementDateTime", "abatementPeriod"),
        "note": note_texts(r),
    }


def _medication_request(r: dict[str, Any]) -> MedicationRequestDisplay:
    return {
        "status": _status(r),
        "medication": medication_name(r),
        "intent": r.get("intent", ""),
        "dosage": dosage_texts(r, "dosageInstruction"),
        "effective": r.get("authoredOn", ""),
        "requester": (r.get("requester") or {}).get("display", ""),
    }


def _medication_statement(r: dict[str, Any]) -> MedicationStatementDisplay:
    return {
        "status": _status(r),
        "medication": medication_name(r),
        "dosage": dosage_texts(r, "dosage"),
        "effective": first_date(r, "effectiveDateTime", "effectivePeriod", "dateAsserted"),
    }


def _allergy(r: dict[str, Any]) -> AllergyDisplay:
    return {
        "status": _status(r),
        "code": concept_text(r.get("code")),
        "clinical_status": concept_text(r.get("clinicalStatus")),
        "verification_status": concept_text(r.get("verificationStatus")),
        "type": r.get("type", ""),
        "category": primitives(r.get("category")),
        "criticality": r.get("criticality", ""),
        "reactions": [
            {
                "manifestation": concept_texts(x.get("manifestation")),
                "severity": x.get("severity", ""),
                "description": x.get("description", ""),
            }
            for x in r.get("reaction") or []
        ],
        "effective": first_date(r, "onsetDateTime", "onsetPeriod", "recordedDate"),
    }


def _immunization(r: dict[str, Any]) -> ImmunizationDisplay:
    return {
        "status": _status(r),
        "code": concept_text(r.get("vaccineCode")),
        "effective": r.get("occurrenceDateTime", "") or r.get("occurrenceString", ""),
        "lot_number": r.get("lotNumber", ""),
        "dose_quantity": quantity(r.get("doseQuantity")),
        "site": concept_text(r.get("site")),
        "route": concept_text(r.get("route")),
    }


def _document_reference(r: dict[str, Any]) -> DocumentDisplay:
    context = r.get("context") or {}
    return {
        "status": _status(r),
        "type": concept_text(r.get("type")),
        "category": concept_texts(r.get("category")),
        "description": r.get("description", ""),
        "effective": r.get("date", "") or period_start(context.get("period")),
        "encounters": [
            e["reference"]
            for e in context.get("encounter") or []
            if isinstance(e.get("reference"), str)
        ],
        "authors": [str(a["display"]) for a in r.get("author") or [] if a.get("display")],
        "text": _note_text(r.get("content") or []),
    }


def _note_text(content: list[dict[str, Any]]) -> str:
    """The first plain-text attachment's text, decoded; "" when there is none.

    Only inline ``text/plain`` data is read: the portal never follows an
    attachment URL (that would be a request to wherever the EHR points).
    """
    for item in content:
        attachment = item.get("attachment") or {}
        content_type = str(attachment.get("contentType", "")).split(";")[0].strip().lower()
        data = attachment.get("data")
        if content_type != "text/plain" or not isinstance(data, str):
            continue
        try:
            text = base64.b64decode(data, validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            return ""
        if len(text) > NOTE_TEXT_LIMIT:
            return text[:NOTE_TEXT_LIMIT] + " [… continued in the downloaded record]"
        return text
    return ""


# --- the registry --------------------------------------------------------------------


@dataclass(frozen=True)
class RecordType:
    name: ResourceType
    short: str
    patient_element: str
    display: Callable[[dict[str, Any]], AnyDisplay]
    search: Mapping[str, str] = field(default_factory=dict)


# In the order the sync fetches them.
REGISTRY: dict[str, RecordType] = {
    t.name: t
    for t in [
        RecordType(
            ResourceType.OBSERVATION,
            "Obs",
            "subject",
            _observation,
            search={"category": "laboratory"},
        ),
        RecordType(
            ResourceType.DIAGNOSTIC_REPORT,
            "Report",
            "subject",
            _diagnostic_report,
            search={"category": "LAB"},  # HL7 v2-0074, as US Core uses
        ),
        RecordType(ResourceType.ENCOUNTER, "Visit", "subject", _encounter),
        RecordType(ResourceType.DOCUMENT_REFERENCE, "Note", "subject", _document_reference),
        RecordType(ResourceType.CONDITION, "Condition", "subject", _condition),
        RecordType(ResourceType.MEDICATION_REQUEST, "MedRequest", "subject", _medication_request),
        RecordType(
            ResourceType.MEDICATION_STATEMENT, "MedStatement", "subject", _medication_statement
        ),
        RecordType(ResourceType.ALLERGY_INTOLERANCE, "Allergy", "patient", _allergy),
        RecordType(ResourceType.IMMUNIZATION, "Immunization", "patient", _immunization),
    ]
}

# The search narrowing per type, as records/sync.py iterates it.
SYNCED_TYPES: dict[str, Mapping[str, str]] = {name: t.search for name, t in REGISTRY.items()}
# Short names for audit rows that list several types (the Patient's demographics too).
SHORT_NAMES: dict[str, str] = {name: t.short for name, t in REGISTRY.items()} | {
    "Patient": "Patient"
}


def record_type(name: str) -> RecordType:
    """The registry's entry for ``name``; KeyError for a type the portal does not sync."""
    return REGISTRY[name]


def display_of(resource_type: str, resource: dict[str, Any]) -> AnyDisplay:
    """The display dict of one validated resource (its type's ``*Display`` shape)."""
    return REGISTRY[resource_type].display(resource)

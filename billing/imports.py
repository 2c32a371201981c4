"""Statements from a practice-management system's CSV export (``manage.py import_statements``).

One row per line item; rows with the same statement number make one statement. The
whole file is checked first: any malformed row is reported by its line number and
nothing of that file is written. Amounts are decimal text ("12.34"), turned into
minor units without floats.

Columns: mrn, statement, due_on, currency, service_date, description, charge,
insurance_paid, adjustment, patient_responsibility.
"""

import csv
from dataclasses import dataclass, field
from datetime import date
from typing import IO

from billing import money
from billing.models import Statement
from billing.services import ItemInput
from patients.models import Patient, PatientDemographics
from portal.crypto.blind_index import blind_index

COLUMNS = (
    "mrn",
    "statement",
    "due_on",
    "currency",
    "service_date",
    "description",
    "charge",
    "insurance_paid",
    "adjustment",
    "patient_responsibility",
)
AMOUNTS = ("charge", "insurance_paid", "adjustment", "patient_responsibility")


@dataclass
class Parsed:
    patient: Patient
    number: str
    due_on: date
    currency: str
    items: list[ItemInput] = field(default_factory=list)
    line: int = 0


@dataclass
class ImportResult:
    statements: list[Parsed]
    errors: list[str]


def parse(stream: IO[str]) -> ImportResult:
    reader = csv.DictReader(stream)
    missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        return ImportResult([], [f"line 1: missing columns: {', '.join(missing)}"])
    found: dict[str, Parsed] = {}
    errors: list[str] = []
    patients: dict[str, Patient | None] = {}
    for row in reader:
        line = reader.line_num
        try:
            _row(row, line, found, patients)
        except ValueError as problem:
            errors.append(f"line {line}: {problem}")
    return ImportResult(list(found.values()), errors)


def _row(
    row: dict[str, str],
    line: int,
    found: dict[str, Parsed],
    patients: dict[str, Patient | None],
) -> None:
    values = {k: (row.get(k) or "").strip() for k in COLUMNS}
    empty = [k for k in COLUMNS if not values[k] and k not in ("insurance_paid", "adjustment")]
    if empty:
        raise ValueError(f"empty {', '.join(empty)}")
    currency = values["currency"].lower()
    if len(currency) != 3 or not currency.isalpha():
        raise ValueError(f"currency {values['currency']!r} is not an ISO code")
    try:
        amounts = {k: money.parse(values[k] or "0", currency) for k in AMOUNTS}
        due_on = date.fromisoformat(values["due_on"])
        service_date = date.fromisoformat(values["service_date"])
    except ValueError as problem:
        raise ValueError(str(problem)) from None
    if any(v < 0 for v in amounts.values()):
        raise ValueError("negative amount")
    expected = amounts["charge"] - amounts["insurance_paid"] - amounts["adjustment"]
    if amounts["patient_responsibility"] != expected:
        raise ValueError("patient_responsibility is not charge - insurance_paid - adjustment")
    mrn = values["mrn"]
    if mrn not in patients:
        demographics = (
            PatientDemographics.objects.filter(mrn_index=blind_index(mrn, purpose="mrn"))
            .select_related("patient")
            .first()
        )
        patients[mrn] = demographics.patient if demographics else None
    patient = patients[mrn]
    if patient is None:
        raise ValueError("no patient with that MRN")
    number = values["statement"]
    statement = found.get(number)
    if statement is None:
        if Statement.objects.filter(number=number).exists():
            raise ValueError(f"statement {number} was imported before")
        statement = found[number] = Parsed(patient, number, due_on, currency, line=line)
    elif (statement.patient.pk, statement.due_on, statement.currency) != (
        patient.pk,
        due_on,
        currency,
    ):
        raise ValueError(
            f"statement {number}: MRN, due date or currency differs from line {statement.line}"
        )
    statement.items.append(
        ItemInput(
            service_date=service_date,
            description=values["description"],
            charge=amounts["charge"],
            insurance_paid=amounts["insurance_paid"],
            adjustment=amounts["adjustment"],
            patient_responsibility=amounts["patient_responsibility"],
        )
    )

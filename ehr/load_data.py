"""The load-test patients' records (`make load`), the same on every run.

Fifty fictional patients, `carebridge-load-01` .. `carebridge-load-50`, each
linked by the demo loader to a portal account `load01` .. `load50`
(portal/demo_load.py). Each has a record the size of an ordinary adult's in
primary care: two problems, three visits with notes, six lab tests drawn five
times (so every test has a trend), three medicines, an allergy and two
vaccinations, about fifty resources. Values differ from patient to patient
but depend on nothing but the patient's number and ANCHOR.

Nothing here is a real person; names are "Load Patient NN".
"""

import datetime as dt
from decimal import Decimal

from ehr.chart import Chart, Resource
from ehr.demo_data import ANCHOR, CAROL, DAVE

__all__ = ["COUNT", "fhir_id", "resources", "username"]

COUNT = 50
LAB_DAYS = (600, 450, 300, 150, 30)
# Each test's values for patient 0; a patient's own are shifted by a small, fixed amount.
LABS = {
    "hba1c": ("7.80", "7.50", "7.20", "7.00", "6.90"),
    "glucose": ("150", "142", "135", "128", "122"),
    "creatinine": ("0.90", "0.92", "0.95", "0.97", "1.00"),
    "potassium": ("4.1", "4.3", "4.0", "4.4", "4.2"),
    "sodium": ("139", "140", "138", "141", "139"),
    "ldl": ("150", "135", "120", "110", "100"),
}


def fhir_id(n: int) -> str:
    return f"carebridge-load-{n:02d}"


def username(n: int) -> str:
    return f"load{n:02d}"


def _shift(text: str, n: int) -> str:
    """The value moved by up to ±4 % by the patient's number, written with as many digits."""
    places = len(text.partition(".")[2])
    value = Decimal(text) * (Decimal(96 + n % 9) / 100)
    return str(value.quantize(Decimal(1).scaleb(-places)))


# The charts are tables of facts; one call per fact reads better than the formatter's
# one argument per line.
# fmt: off
def chart(n: int, anchor: dt.date = ANCHOR) -> list[Resource]:
    c = Chart(fhir_id(n), anchor)
    c.patient(
        mrn=f"LOAD-{n:04d}", given=["Load"], family=f"Patient {n:02d}",
        birth=f"{1950 + n % 40}-0{1 + n % 9}-1{n % 10}", phone=f"+1 555 02{n:02d}",
        street=f"{n} Load Street",
    )
    c.condition("diabetes", "44054006", "Diabetes mellitus type 2", onset=2000, problem=True)
    c.condition("hypertension", "38341003", "Hypertensive disorder", onset=2500, problem=True)
    review = ("185349003", "Encounter for check up")
    for key, days in (("review-1", 600), ("review-2", 300), ("review-3", 30)):
        c.encounter(
            key, kind="AMB", start=c.at(days, "10:00"), end=c.at(days, "10:30"), type_=review,
            reason=("44054006", "Diabetes mellitus type 2"),
            diagnoses=("diabetes", "hypertension"), clinician=CAROL if n % 2 else DAVE,
            note_title="Diabetes review",
            note="Sugars improving on metformin. Blood pressure at target on lisinopril. "
            "Statin continued. Labs again before the next review.",
        )
    c.labs(LAB_DAYS, {slug: tuple(_shift(v, n) for v in values) for slug, values in LABS.items()})
    c.medication(
        "metformin", "6809", "metformin", "Metformin 1000 mg oral tablet",
        "Take 1 tablet by mouth twice a day with meals.",
        status="active", authored=600, reason="diabetes", prescriber=CAROL,
        repeats=5, valid_until=-300,
    )
    c.medication(
        "lisinopril", "29046", "lisinopril", "Lisinopril 20 mg oral tablet",
        "Take 1 tablet by mouth once a day.",
        status="active", authored=600, reason="hypertension", prescriber=CAROL,
        repeats=3, valid_until=-200,
    )
    c.medication(
        "atorvastatin", "83367", "atorvastatin", "Atorvastatin 40 mg oral tablet",
        "Take 1 tablet by mouth at bedtime.",
        status="active", authored=450, reason=None, prescriber=CAROL, repeats=2, valid_until=30,
    )
    c.allergy(
        "penicillin", "91936005", "Penicillin", category="medication", criticality="high",
        reaction=("271807003", "Skin rash"), severity="moderate", onset=9000,
    )
    flu = "Influenza, injectable, quadrivalent, preservative free"
    c.immunization("influenza-1", "150", flu, 400, f"FLU{7000 + n}A")
    c.immunization("influenza-2", "150", flu, 35, f"FLU{8000 + n}A")
    return c.out
# fmt: on


def resources(anchor: dt.date = ANCHOR) -> list[Resource]:
    """Every load-test patient's resources: each Patient first, then its record."""
    return [r for n in range(1, COUNT + 1) for r in chart(n, anchor)]

"""Demo statements for `manage.py load_demo`: one issued statement each for alice and
mallory. Idempotent: a statement is found by its number."""

import datetime as dt

from accounts.models import User
from billing.models import Statement
from billing.services import ItemInput, statements_import
from portal.access import clinic_today

DEMO = {
    "alice": [
        ("Office visit, established patient", 18_500, 12_000, 1_500),
        ("Blood panel", 9_000, 6_500, 0),
    ],
    "mallory": [("New patient visit", 26_000, 20_000, 2_000)],
}


def demo_statements_load() -> None:
    today = clinic_today()
    for username, lines in DEMO.items():
        number = f"DEMO-{username.upper()}-1"
        user = User.objects.filter(username=username).first()
        if user is None or user.patient is None or Statement.objects.filter(number=number).exists():
            continue
        items = [
            ItemInput(
                service_date=today - dt.timedelta(days=30 - n),
                description=description,
                charge=charge,
                insurance_paid=insurance,
                adjustment=adjustment,
                patient_responsibility=charge - insurance - adjustment,
            )
            for n, (description, charge, insurance, adjustment) in enumerate(lines)
        ]
        due_on = today + dt.timedelta(days=30)
        statements_import(statements=[(user.patient, number, due_on, "usd", items)])

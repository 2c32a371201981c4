"""`make run`'s demo: a pharmacy directory, and alice's demo EHR prescriptions showing
refillable and non-refillable medicines, each for its own reason."""

import datetime as dt
import io

import pytest
from django.core.management import call_command

from accounts.models import User
from ehr import demo_data
from records.ingest import ingest
from refills.models import Pharmacy, Prescriber
from refills.rules import Offer
from refills.selectors import medicine_eligibility

pytestmark = pytest.mark.django_db


def test_alice_has_refillable_renewable_and_excluded_medicines(tmp_path, time_machine):
    time_machine.move_to(dt.datetime.combine(demo_data.ANCHOR, dt.time(12), dt.UTC))
    for _ in range(2):  # idempotent: nothing doubled
        call_command(
            "load_demo",
            accounts_file=str(tmp_path / "accounts.json"),
            load_patients=0,  # the load-test patients are beside the point here
            stdout=io.StringIO(),
        )
    assert Pharmacy.objects.count() == 3
    assert Prescriber.objects.get().user.username == "carol"
    alice = User.objects.get(username="alice").patient
    orders = [
        {**r, "meta": {"versionId": "1", "lastUpdated": "2026-09-15T00:00:00Z"}}
        for r in demo_data.resources()
        if r["resourceType"] == "MedicationRequest"
        and r["subject"]["reference"] == f"Patient/{demo_data.ALICE}"
    ]
    ingest(
        patient=alice,
        resource_type="MedicationRequest",
        resources=orders,
        requested_patient_fhir_id=demo_data.ALICE,
    )

    offers = {e.medicine.split()[0]: e for e in medicine_eligibility(patient=alice)}
    assert offers["Metformin"].offer == Offer.REFILL
    assert offers["Lisinopril"].offer == Offer.REFILL
    assert offers["Atorvastatin"].offer == Offer.RENEWAL
    assert offers["Levothyroxine"].offer == Offer.NONE
    assert "see you before" in offers["Levothyroxine"].reason
    assert offers["Oxycodone"].offer == Offer.NONE
    assert "controlled medicine" in offers["Oxycodone"].reason

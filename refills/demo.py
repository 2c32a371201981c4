"""The demo clinic's refill set-up for `manage.py load_demo`: a pharmacy directory, Dr Chen
as the prescriber the demo EHR names, and one needs-a-visit rule.

With the demo EHR's prescriptions (ehr/demo_data.py) alice sees metformin and
lisinopril refillable online, atorvastatin offered as a renewal (expired),
levothyroxine needing a visit (this rule) and oxycodone never (a controlled
substance, settings.REFILLS_CONTROLLED_RXNORM). Idempotent.
"""

from accounts.models import User
from refills.models import MedicineRule, Pharmacy, Prescriber

PHARMACIES = [
    ("Corner Pharmacy", "12 Main Street, Springfield", "555-0140", "1234563"),
    ("Riverside Drugs", "3 River Road, Springfield", "555-0177", "2345674"),
    ("Hospital Outpatient Pharmacy", "1 Hospital Way, Springfield", "555-0199", "3456785"),
]
LEVOTHYROXINE = "10582"


def demo_refills_load() -> None:
    for name, address, phone, ncpdp_id in PHARMACIES:
        Pharmacy.objects.update_or_create(
            ncpdp_id=ncpdp_id, defaults={"name": name, "address": address, "phone": phone}
        )
    carol = User.objects.filter(username="carol").first()
    if carol is not None:
        Prescriber.objects.update_or_create(user=carol, defaults={"ehr_requester": "Dr Carol Chen"})
    MedicineRule.objects.get_or_create(
        rxnorm=LEVOTHYROXINE,
        kind=MedicineRule.Kind.NEEDS_VISIT,
        defaults={"note": "Thyroid blood test and visit before each refill"},
    )

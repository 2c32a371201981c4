"""Refill benchmark: the care team's queue with 1,000 open requests.

    .venv/bin/python bench/bench_refills.py     # prints one JSON object per figure

On a scratch database (bench/scratch.py: ``carebridge_bench_refills``, fresh keys,
temporary key store, dropped at the end):

- ``refills_queue_p95_ms``: 1,000 open refill requests (one medicine each, names
  encrypted under each patient's key) across 500 patients on one care team, each
  with demographics; a signed-in, 2FA-verified physician GETs ``/staff/refills/``
  (every middleware, the care-team query, key unwrapping for the page's patients,
  decrypting medicine names and patient names of the 200 rows shown, the overdue
  flag, the audit event, the template). Target p95 <= 150 ms.

30 requests after 3 warm-up requests, then ``gc.freeze()`` as gunicorn does. The
tables are ANALYZEd after loading, as autovacuum would.
"""

import json
import sys
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_messaging import _series  # noqa: E402
from bench.bench_pages import _p95, _signed_in_client  # noqa: E402
from bench.scratch import run_in_scratch  # noqa: E402

BENCH_DB = "carebridge_bench_refills"
PATIENTS = 500
REQUESTS = 1_000
TARGET_MS = 150


def _data():
    from django.utils import timezone

    from accounts.models import User
    from patients.models import CareTeam, Patient, PatientDemographics
    from portal.crypto.scope import key_scope
    from refills.models import Pharmacy, RefillItem, RefillRequest

    clinician = User.objects.create_user(
        username="bench-carol", email="carol@example.org", role="physician"
    )
    team = CareTeam.objects.create(name="Bench ward")
    team.members.add(clinician)
    patients = Patient.objects.bulk_create(Patient() for _ in range(PATIENTS))
    team.patients.add(*patients)
    users = User.objects.bulk_create(
        User(username=f"p{n}", email=f"p{n}@example.org", role="patient", patient=p)
        for n, p in enumerate(patients)
    )
    pharmacy = Pharmacy.objects.create(
        name="Bench Pharmacy", address="1 Main St", phone="555-0100", ncpdp_id="1234567"
    )
    now = timezone.now()
    with key_scope():
        PatientDemographics.objects.bulk_create(
            PatientDemographics(patient=p, given_name=f"Given{n}", family_name=f"Family{n}")
            for n, p in enumerate(patients)
        )
        requests, items = [], []
        for n in range(REQUESTS):
            patient, user = patients[n % PATIENTS], users[n % PATIENTS]
            at = now - timezone.timedelta(minutes=n)
            request = RefillRequest(
                patient=patient,
                requested_by=user,
                pharmacy=pharmacy,
                comment="Running low before my holiday",
                created_at=at,
                submit_token=uuid.uuid4(),
            )
            requests.append(request)
            items.append(
                RefillItem(
                    request=request,
                    patient=patient,
                    medication_request_id=f"med-{n}",
                    medicine="Metformin 1000 mg oral tablet",
                    rxnorm="6809",
                    repeats_left=3,
                    created_at=at,
                )
            )
        RefillRequest.objects.bulk_create(requests, batch_size=1000)
        RefillItem.objects.bulk_create(items, batch_size=1000)
    return clinician


def bench() -> list[dict]:
    from django.db import connection

    clinician = _data()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    client = _signed_in_client(clinician)
    queue = _series(client, "/staff/refills/")
    return [
        {
            "name": "refills_queue_p95_ms",
            "value": round(_p95(queue), 1),
            "unit": "ms",
            "target": f"<= {TARGET_MS}",
            "baseline": None,
        }
    ]


def run() -> list[dict]:
    return run_in_scratch(BENCH_DB, bench)


if __name__ == "__main__":
    for figure in run():
        print(json.dumps(figure))

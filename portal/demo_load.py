"""The load-test patients of the demo data (`load_demo`; `make load` signs them in).

Fifty patients, ``load01`` .. ``load50``, each linked to a record on the demo EHR
(ehr/load_data.py), with one message to the clinic (a thread to open), and a
first sync of their record queued when an EHR is configured, so that `make load`
finds labs, medicines and visits to read. They share a care team of their own
with no clinician on it (a medical message needs a care team to go to), so the
demo clinicians' lists and pools stay as the demo shows them. Their passwords
and authenticator secrets go to the accounts file beside the demo accounts'
(marked ``"load_test": true``) and are never printed one by one.

The command passes its own ``ensure_user`` helper, the one that makes alice's
account and authenticator, so the load-test accounts are made exactly like
the demo ones whatever that helper does.
"""

import base64
import secrets
from collections.abc import Callable, Mapping

from accounts.models import User
from ehr import load_data
from messaging import services as message_services
from messaging.models import Thread, Topic
from patients.models import CareTeam, PatientDemographics
from portal.access import Role
from records import sync
from records.demographics import from_fhir_patient

EnsureUser = Callable[[str, Role, str, dict], None]


def load_credentials(username: str) -> dict:
    return {
        "username": username,
        "password": secrets.token_urlsafe(12),
        "role": str(Role.PATIENT),
        "totp_secret": base64.b32encode(secrets.token_bytes(20)).decode(),
        "load_test": True,
    }


LOAD_CARE_TEAM = "Load test (demo, no clinicians)"


def demo_load_patients_load(
    *, known: Mapping[str, dict], ensure_user: EnsureUser, count: int = load_data.COUNT
) -> list[dict]:
    """Make or refresh the first ``count`` load-test patients; their credentials, for the file.

    Call it inside the command's transaction and key scope. ``known``: the
    accounts file's entries by username (kept, so a second run changes no secret).
    """
    team, _ = CareTeam.objects.get_or_create(name=LOAD_CARE_TEAM)
    charts = {r["id"]: r for r in load_data.resources() if r["resourceType"] == "Patient"}
    accounts = []
    for n in range(1, count + 1):
        username = load_data.username(n)
        creds = known.get(username) or load_credentials(username)
        ensure_user(username, Role.PATIENT, "", creds)
        user = User.objects.select_related("patient").get(username=username)
        patient = user.patient
        if patient is None:  # ensure_user attaches a record to every patient account
            raise ValueError(f"{username} has no patient record")
        if patient.fhir_id != load_data.fhir_id(n):
            patient.fhir_id = load_data.fhir_id(n)
            patient.save(update_fields=["fhir_id"])
        PatientDemographics.objects.update_or_create(
            patient=patient, defaults=from_fhir_patient(charts[patient.fhir_id])
        )
        team.patients.add(patient)
        if not Thread.objects.filter(patient_id=patient.pk).exists():
            message_services.thread_start(
                actor=user,
                topic=Topic.MEDICAL,
                subject="Question about my tablets",
                body="Should I take the metformin before or after breakfast?",
            )
        if sync.configured() and patient.sync_requested_at is None:
            # Fetched by the worker in the background, before anyone signs in.
            sync.request_sync(patient=patient, actor=user, reason=sync.SyncReason.ACTIVATION)
        accounts.append(creds)
    return accounts

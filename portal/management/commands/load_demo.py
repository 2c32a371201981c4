"""Demo accounts for a local portal; refuses to run in production.

Idempotent: the credentials live in the accounts file (var/demo_accounts.json);
a second run reuses them, so the printed passwords and authenticator secrets
stay valid.

The demo patients are linked to their records on the demo EHR (ehr/demo_data.py
seeds it with the same ids), with demographics taken from those Patient
resources, and put on one care team with Dr Chen and Nurse Park, so that
signing in shows real-looking records without any manual step. The demo clinicians
get weekly hours at a demo clinic (appointments/demo.py), so there are open slots
for the next 90 days, and alice a booked follow-up.

It lives in the shell (portal), not in accounts: it seeds every app at once,
from accounts to records and the demo EHR.
"""

import base64
import json
import secrets
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django_otp.plugins.otp_email.models import EmailDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import services
from accounts.models import User
from appointments.demo import demo_schedule_load
from ehr import demo_data
from patients.models import CareTeam, PatientDemographics
from portal.access import EMAIL_OTP_ROLES, Role
from portal.crypto.scope import key_scope
from records.demographics import from_fhir_patient

# Demo patient → their id on the demo EHR.
DEMO_EHR_IDS = {"alice": demo_data.ALICE, "mallory": demo_data.MALLORY}
DEMO_CARE_TEAM = ("Primary care (demo)", ["carol", "nina"], ["alice", "mallory"])

DEMO_USERS = [
    ("alice", Role.PATIENT, ""),
    ("mallory", Role.PATIENT, ""),
    ("carol", Role.PHYSICIAN, "Dr Carol Chen"),
    ("dave", Role.PHYSICIAN, "Dr Dave Okafor"),
    ("nina", Role.NURSE, "Nina Park, RN"),
    ("bill", Role.BILLING, "Bill Romero"),
    ("fran", Role.FRONT_DESK, "Fran Ibsen"),
    ("ada", Role.ADMIN, "Ada Lindqvist"),
    ("otto", Role.AUDITOR, "Otto Varga"),
]


def _new_credentials(username: str, role: Role) -> dict:
    return {
        "username": username,
        "password": secrets.token_urlsafe(12),
        "role": str(role),
        "totp_secret": base64.b32encode(secrets.token_bytes(20)).decode(),
    }


class Command(BaseCommand):
    help = "Create or refresh the demo accounts (development only)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--accounts-file",
            default=str(settings.VAR_DIR / "demo_accounts.json"),
            help="Where the demo credentials are kept (default: var/demo_accounts.json).",
        )

    def handle(self, *args, accounts_file: str, **options):
        if settings.PRODUCTION:
            raise CommandError("load_demo refuses to run with PORTAL_ENV=production.")
        path = Path(accounts_file)
        known = {}
        if path.exists():
            known = {a["username"]: a for a in json.loads(path.read_text())}
        accounts = [
            known.get(username) or _new_credentials(username, role)
            for username, role, _ in DEMO_USERS
        ]
        with transaction.atomic(), key_scope():
            for (username, role, display_name), creds in zip(DEMO_USERS, accounts, strict=True):
                self._ensure_user(username, role, display_name, creds)
            self._link_demo_patients()
            demo_schedule_load()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(json.dumps(accounts, indent=2) + "\n")
        self.stdout.write(f"Demo accounts (also in {path}):")
        for a in accounts:
            self.stdout.write(
                f"  {a['role']:<11} {a['username']:<8} password {a['password']}  "
                f"authenticator key {a['totp_secret']}"
            )

    def _ensure_user(self, username: str, role: Role, display_name: str, creds: dict) -> None:
        user = User.objects.filter(username__iexact=username).first()
        if user is None:
            user = User(username=username, email=f"{username}@demo.carebridge.invalid", role=role)
            services.patient_record_attach(user=user)
        user.display_name = display_name
        user.is_active = True
        user.set_password(creds["password"])
        user.save()
        key = base64.b32decode(creds["totp_secret"]).hex()
        TOTPDevice.objects.filter(user=user).exclude(key=key).delete()
        TOTPDevice.objects.get_or_create(
            user=user, key=key, defaults={"name": "Authenticator app", "confirmed": True}
        )
        if role in EMAIL_OTP_ROLES:
            EmailDevice.objects.get_or_create(
                user=user, defaults={"name": "E-mail", "confirmed": True}
            )

    def _link_demo_patients(self) -> None:
        ehr_patients = {r["id"]: r for r in demo_data.resources() if r["resourceType"] == "Patient"}
        for username, fhir_id in DEMO_EHR_IDS.items():
            patient = User.objects.get(username=username).patient
            patient.fhir_id = fhir_id
            patient.save(update_fields=["fhir_id"])
            PatientDemographics.objects.update_or_create(
                patient=patient, defaults=from_fhir_patient(ehr_patients[fhir_id])
            )
        name, members, patients = DEMO_CARE_TEAM
        team, _ = CareTeam.objects.get_or_create(name=name)
        team.members.add(*User.objects.filter(username__in=members))
        team.patients.add(*(User.objects.get(username=u).patient for u in patients))

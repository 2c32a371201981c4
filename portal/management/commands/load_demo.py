"""Demo accounts for a local portal; refuses to run in production.

Idempotent: the credentials live in the accounts file (var/demo_accounts.json);
a second run reuses them, so the printed passwords and authenticator secrets
stay valid.

The demo patients are linked to their records on the demo EHR (ehr/demo_data.py
seeds it with the same ids), with demographics taken from those Patient
resources, and put on one care team with Dr Chen and Nurse Park, so that
signing in shows real-looking records without any manual step. The demo clinicians
get weekly hours at a demo clinic (appointments/demo.py), so there are open slots
for the next 90 days, and alice a booked follow-up; the clinic gets a pharmacy
directory and Dr Chen is the prescriber of alice's demo prescriptions (refills/demo.py).
Fifty load-test patients for `make load` come with them (portal/demo_load.py).

It lives in the shell (portal), not in accounts: it seeds every app at once,
from accounts to records and the demo EHR.
"""

import base64
import io
import json
import secrets
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone
from django_otp.plugins.otp_email.models import EmailDevice
from PIL import Image

from accounts import services
from accounts.models import AuthenticatorDevice, User
from appointments.demo import demo_schedule_load
from audit.context import NO_CONTEXT
from billing.demo import demo_statements_load
from ehr import demo_data, load_data
from invitations import codes, proxies
from invitations import ehr as invitation_ehr
from invitations import services as invitation_services
from invitations.models import Invitation
from invitations.selectors import age_on
from messaging import services as message_services
from messaging.models import Thread, Topic
from patients.models import CareTeam, PatientDemographics, ProxyGrant
from portal.access import EMAIL_OTP_ROLES, Role, clinic_today
from portal.crypto.errors import DecryptionError
from portal.crypto.scope import key_scope
from portal.demo_load import demo_load_patients_load
from records.demographics import from_fhir_patient
from refills.demo import demo_refills_load

# Demo patient → their id on the demo EHR.
DEMO_EHR_IDS = {"alice": demo_data.ALICE, "mallory": demo_data.MALLORY}
DEMO_CARE_TEAM = ("Primary care (demo)", ["carol", "nina"], ["alice", "mallory"])
# The demo guardian and the child she acts for (a patient without an account).
DEMO_GUARDIAN = ("greta", demo_data.LEO)
# The demo patient who has no account yet: invited, her code kept in the accounts file.
DEMO_INVITED = demo_data.ROSA

DEMO_USERS = [
    ("alice", Role.PATIENT, ""),
    ("mallory", Role.PATIENT, ""),
    ("greta", Role.PROXY, ""),
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
        parser.add_argument(
            "--load-patients",
            type=int,
            default=load_data.COUNT,
            help=f"How many load-test patients to make (default {load_data.COUNT}).",
        )

    def handle(self, *args, accounts_file: str, load_patients: int, **options):
        if settings.PRODUCTION:
            raise CommandError("load_demo refuses to run with PORTAL_ENV=production.")
        path = Path(accounts_file)
        known = {}
        if path.exists():
            known = {a.get("username") or a["role"]: a for a in json.loads(path.read_text())}
        accounts = [
            known.get(username) or _new_credentials(username, role)
            for username, role, _ in DEMO_USERS
        ]
        with transaction.atomic(), key_scope():
            for (username, role, display_name), creds in zip(DEMO_USERS, accounts, strict=True):
                self._ensure_user(username, role, display_name, creds)
            self._link_demo_patients()
            self._grant_demo_guardian()
            self._demo_messages()
            demo_schedule_load()
            demo_refills_load()
            demo_statements_load()
            load_accounts = demo_load_patients_load(
                known=known, ensure_user=self._ensure_user, count=load_patients
            )
            invited = self._invite_demo_patient(
                next((a for a in known.values() if a.get("role") == "patient (invited)"), None)
            )
        if invited:
            accounts.append(invited)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(json.dumps(accounts + load_accounts, indent=2) + "\n")
        self.stdout.write(f"Demo accounts (also in {path}):")
        for a in accounts:
            if "activation_code" in a:
                self.stdout.write(
                    f"  invited     {a['family_name']} (born {a['birth_date']}): activation code "
                    f"{a['activation_code']} at /activate/"
                )
                continue
            self.stdout.write(
                f"  {a['role']:<11} {a['username']:<8} password {a['password']}  "
                f"authenticator key {a['totp_secret']}"
                + ("  (guardian of the demo child Leo)" if a["role"] == Role.PROXY else "")
            )
        if load_accounts:
            self.stdout.write(
                f"  load test   {len(load_accounts)} patients for `make load`"
                f" ({load_accounts[0]['username']}..{load_accounts[-1]['username']}), in the file"
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
        seed = base64.b32decode(creds["totp_secret"])
        # Seeds are sealed (no lookup by value): keep the device whose seed opens to this one.
        kept = False
        for device in AuthenticatorDevice.objects.filter(user=user):
            if kept or not device.confirmed or not _seed_is(device, seed):
                device.delete()
            else:
                kept = True
        if not kept:
            AuthenticatorDevice.objects.create(
                user=user, seed=seed, name="Authenticator app", confirmed=True
            )
        if role in EMAIL_OTP_ROLES:
            EmailDevice.objects.get_or_create(
                user=user, defaults={"name": "E-mail", "confirmed": True}
            )

    def _grant_demo_guardian(self) -> None:
        """Greta is Leo's mother: a guardian's grant, its scope from his age today."""
        username, fhir_id = DEMO_GUARDIAN
        resource = next(r for r in demo_data.resources() if r["id"] == fhir_id)
        found = invitation_ehr.from_resource(resource)
        if found is None or found.birth_date is None:
            raise CommandError("the demo child is not a valid Patient with a birth date")
        child = invitation_services.store_patient(found)
        name, _, _ = DEMO_CARE_TEAM
        CareTeam.objects.get(name=name).patients.add(child)
        today = clinic_today()
        ProxyGrant.objects.get_or_create(
            patient=child,
            proxy=User.objects.get(username=username),
            revoked_at=None,
            ended_at=None,
            defaults={
                "kind": ProxyGrant.Kind.GUARDIAN,
                "relationship": ProxyGrant.Relationship.PARENT,
                "scope": proxies.minor_scope(age_on(found.birth_date, today)),
                "starts_on": today,
                "ends_on": found.birth_date.replace(year=found.birth_date.year + 18)
                - timedelta(days=1),
                "accepted_at": timezone.now(),
            },
        )

    def _invite_demo_patient(self, known: dict | None) -> dict | None:
        """A pending invitation for the third demo patient; the code in the file stays valid.

        None once she has activated her account (nothing left to print).
        """
        resource = next(r for r in demo_data.resources() if r["id"] == DEMO_INVITED)
        found = invitation_ehr.from_resource(resource)
        if found is None:
            raise CommandError("the demo EHR's invited patient is not a valid Patient")
        pending = Invitation.objects.filter(
            patient__fhir_id=DEMO_INVITED, status=Invitation.Status.PENDING
        ).first()
        still_valid = (
            known is not None
            and pending is not None
            and pending.usable
            and bytes(pending.code_digest) == codes.digest(known["activation_code"])
        )
        if still_valid:
            return known
        if User.objects.filter(patient__fhir_id=DEMO_INVITED).exists():
            return None
        issued = invitation_services.invite(actor=None, context=NO_CONTEXT, found=found, email="")
        return {
            "role": "patient (invited)",
            "activation_code": issued.shown_code,
            "family_name": found.family_name,
            "birth_date": found.birth_date.isoformat() if found.birth_date else "",
        }

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

    def _demo_messages(self) -> None:
        """Two conversations of alice's, once: a medical one with a photo, answered by Dr Chen,
        and a billing question still waiting."""
        alice, carol = User.objects.get(username="alice"), User.objects.get(username="carol")
        if Thread.objects.filter(patient_id=alice.patient_id).exists():
            return
        photo = io.BytesIO()
        Image.new("RGB", (320, 240), (214, 160, 150)).save(photo, "JPEG")
        thread = message_services.thread_start(
            actor=alice,
            topic=Topic.MEDICAL,
            subject="Rash after the new cream",
            body="Since I started the new cream my forearm is red and itchy. Photo attached.",
            files=[SimpleUploadedFile("forearm.jpg", photo.getvalue(), "image/jpeg")],
        )
        message_services.message_reply(
            actor=carol,
            thread_id=thread.pk,
            body="Please stop the cream for now. If the rash spreads, book a visit this week.",
        )
        message_services.thread_start(
            actor=alice,
            topic=Topic.BILLING,
            subject="Two charges for one visit",
            body="My statement shows the March visit twice. Could you check?",
        )


def _seed_is(device: AuthenticatorDevice, seed: bytes) -> bool:
    try:
        return device.bin_key == seed
    except DecryptionError:  # sealed under a KEK this installation no longer has
        return False

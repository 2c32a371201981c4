"""The demo data of `make run`: accounts, links to the demo EHR, a care team."""

import base64
import hashlib
import hmac
import io
import json
import struct
import time

import pytest
from django.core.management import CommandError, call_command

from accounts.models import User
from ehr import demo_data, load_data
from invitations.models import Invitation
from patients.models import CareTeam, Patient, PatientDemographics, ProxyGrant
from portal.access import clinical_patients
from portal.crypto.scope import key_scope

pytestmark = pytest.mark.django_db


# Each load-test patient costs a password hash and a conversation: most tests make three;
# one makes the default fifty.
LOAD_PATIENTS = 3


def load(tmp_path, load_patients=LOAD_PATIENTS):
    call_command(
        "load_demo",
        accounts_file=str(tmp_path / "accounts.json"),
        load_patients=load_patients,
        stdout=io.StringIO(),
    )


def test_it_links_the_demo_patients_to_their_ehr_records(tmp_path):
    load(tmp_path)

    alice = User.objects.get(username="alice")
    assert alice.patient.fhir_id == demo_data.ALICE
    ehr_alice = next(r for r in demo_data.resources() if r["id"] == demo_data.ALICE)
    with key_scope():
        demographics = PatientDemographics.objects.get(patient=alice.patient)
        assert demographics.family_name == ehr_alice["name"][0]["family"]
        assert demographics.birth_date.isoformat() == ehr_alice["birthDate"]
    assert User.objects.get(username="mallory").patient.fhir_id == demo_data.MALLORY


def test_it_puts_the_demo_patients_on_a_care_team_of_a_physician_and_a_nurse(tmp_path):
    load(tmp_path)

    carol = User.objects.get(username="carol")
    dave = User.objects.get(username="dave")
    assert set(clinical_patients(carol).filter(care_teams__members=carol)) == {
        User.objects.get(username="alice").patient,
        User.objects.get(username="mallory").patient,
        Patient.objects.get(fhir_id=demo_data.LEO),  # the child the demo guardian acts for
    }
    assert not CareTeam.objects.filter(members=dave).exists()  # for break-glass demos


def test_a_second_run_keeps_credentials_links_and_teams(tmp_path):
    load(tmp_path)
    first = json.loads((tmp_path / "accounts.json").read_text())
    patient = User.objects.get(username="alice").patient

    load(tmp_path)

    assert json.loads((tmp_path / "accounts.json").read_text()) == first
    assert User.objects.get(username="alice").patient == patient
    assert CareTeam.objects.count() == 2  # the demo's, and the load test's of no clinician
    # alice, mallory, the invited rosa, leo (the child of the demo guardian), the load test's
    assert PatientDemographics.objects.count() == 4 + LOAD_PATIENTS
    assert ProxyGrant.objects.count() == 1
    assert Invitation.objects.filter(status=Invitation.Status.PENDING).count() == 1


def test_it_leaves_a_pending_invitation_whose_code_is_in_the_file(tmp_path, client):
    load(tmp_path)
    (invited,) = [
        a for a in json.loads((tmp_path / "accounts.json").read_text()) if "activation_code" in a
    ]
    ehr_rosa = next(r for r in demo_data.resources() if r["id"] == demo_data.ROSA)
    assert invited["family_name"] == ehr_rosa["name"][0]["family"]
    assert invited["birth_date"] == ehr_rosa["birthDate"]

    step_one = client.post(
        "/activate/",
        {
            "code": invited["activation_code"],
            "family_name": invited["family_name"],
            "birth_date": invited["birth_date"],
        },
    )
    assert step_one.status_code == 302
    assert step_one["Location"] == "/activate/account/"


def test_it_refuses_to_run_in_production(settings, tmp_path):
    settings.PRODUCTION = True

    with pytest.raises(CommandError, match="production"):
        load(tmp_path)
    assert not User.objects.exists()


def test_the_demo_guardian_acts_for_the_demo_child_and_is_in_the_file(tmp_path):
    load(tmp_path)

    greta = User.objects.get(username="greta")
    assert greta.role == "proxy"
    assert greta.patient_id is None
    assert list(clinical_patients(greta)) == [Patient.objects.get(fhir_id=demo_data.LEO)]
    saved = {a.get("username"): a for a in json.loads((tmp_path / "accounts.json").read_text())}
    assert saved["greta"]["role"] == "proxy"


def test_it_leaves_demo_conversations_in_both_directions_once(tmp_path):
    from messaging.models import Attachment, Message, Thread

    load(tmp_path)
    load(tmp_path)

    alice = User.objects.get(username="alice")
    assert Thread.objects.filter(patient=alice.patient).count() == 2
    assert set(Message.objects.values_list("from_patient", flat=True)) == {True, False}
    assert Attachment.objects.count() == 1


def totp(secret: str, step: int) -> str:
    """RFC 6238 as an authenticator app computes it (and bench/load/loadlib.py does)."""
    digest = hmac.new(base64.b32decode(secret), struct.pack(">Q", step), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    return f"{(struct.unpack('>I', digest[offset : offset + 4])[0] & 0x7FFFFFFF) % 10**6:06d}"


def load_test_accounts(tmp_path) -> list[dict]:
    saved = json.loads((tmp_path / "accounts.json").read_text())
    return [a for a in saved if a.get("load_test")]


def test_it_makes_the_load_test_patients_with_their_ehr_records_and_authenticators(
    tmp_path, make_client
):
    from messaging.models import Thread

    load(tmp_path, load_patients=load_data.COUNT)

    accounts = load_test_accounts(tmp_path)
    assert [a["username"] for a in accounts] == [f"load{n:02d}" for n in range(1, 51)]
    for n, account in enumerate(accounts, start=1):
        user = User.objects.get(username=account["username"])
        assert user.role == "patient"
        assert user.patient.fhir_id == load_data.fhir_id(n)
        assert Thread.objects.filter(patient_id=user.patient_id).count() == 1
    # Signing in costs an Argon2 hash: the first and the last make the point. The code
    # is worked out from the file's secret, as `make load` does.
    for account in (accounts[0], accounts[-1]):
        client = make_client()
        signed = client.post(
            "/accounts/sign-in/",
            {"username": account["username"], "password": account["password"]},
        )
        assert signed.status_code == 302
        code = totp(account["totp_secret"], int(time.time()) // 30)
        verified = client.post("/accounts/sign-in/verify/", {"method": "totp", "token": code})
        assert verified.status_code == 302
    with key_scope():
        demographics = PatientDemographics.objects.get(patient__fhir_id=load_data.fhir_id(7))
        assert demographics.family_name == "Patient 07"


def test_the_load_test_patients_are_on_a_care_team_of_no_clinician(tmp_path):
    load(tmp_path)

    (team,) = CareTeam.objects.filter(patients__fhir_id=load_data.fhir_id(1))
    assert team.members.count() == 0
    assert team.patients.count() == LOAD_PATIENTS
    carol = User.objects.get(username="carol")
    assert not clinical_patients(carol).filter(fhir_id__startswith="carebridge-load-").exists()


def test_it_prints_one_line_for_the_load_test_patients_and_none_of_their_secrets(tmp_path):
    out = io.StringIO()
    call_command(
        "load_demo", accounts_file=str(tmp_path / "accounts.json"), load_patients=3, stdout=out
    )

    printed = out.getvalue()
    assert printed.count("load01") == 1
    for account in load_test_accounts(tmp_path):
        assert account["password"] not in printed
        assert account["totp_secret"] not in printed


def test_a_second_run_keeps_the_load_test_secrets_and_adds_no_message(tmp_path):
    from messaging.models import Thread

    load(tmp_path)
    first = load_test_accounts(tmp_path)
    threads = Thread.objects.count()

    load(tmp_path)

    assert load_test_accounts(tmp_path) == first
    assert Thread.objects.count() == threads


def test_it_queues_one_first_sync_of_each_load_test_patient_when_an_ehr_is_set(tmp_path, settings):
    from procrastinate.contrib.django.models import ProcrastinateJob

    settings.FHIR_BASE_URL = "https://ehr.example.org/fhir"
    load(tmp_path)
    load(tmp_path)

    queued = ProcrastinateJob.objects.filter(task_name="records.sync_patient")
    patients = {job.args["patient_id"] for job in queued}
    assert len(patients) == queued.count() == LOAD_PATIENTS
    assert str(User.objects.get(username="load01").patient_id) in patients


def test_it_queues_no_sync_without_an_ehr(tmp_path, settings):
    from procrastinate.contrib.django.models import ProcrastinateJob

    settings.FHIR_BASE_URL = ""
    load(tmp_path)

    assert not ProcrastinateJob.objects.filter(task_name="records.sync_patient").exists()

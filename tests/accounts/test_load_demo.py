"""The demo data of `make run`: accounts, links to the demo EHR, a care team."""

import io
import json

import pytest
from django.core.management import CommandError, call_command

from accounts.models import User
from ehr import demo_data
from invitations.models import Invitation
from patients.models import CareTeam, Patient, PatientDemographics, ProxyGrant
from portal.access import clinical_patients
from portal.crypto.scope import key_scope

pytestmark = pytest.mark.django_db


def load(tmp_path):
    call_command("load_demo", accounts_file=str(tmp_path / "accounts.json"), stdout=io.StringIO())


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
    assert CareTeam.objects.count() == 1
    # alice, mallory, the invited rosa and leo, the child of the demo guardian
    assert PatientDemographics.objects.count() == 4
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

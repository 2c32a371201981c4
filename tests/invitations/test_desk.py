"""The front desk finds a patient on the real EHR (sekmet), invites them, prints the letter.

Also the batch command, and administrators unlinking an account.
"""

import io
import re

import pytest
from django.core.management import CommandError, call_command

from accounts.models import User, UserSession
from audit.actions import Action, Outcome
from invitations import codes
from invitations.models import Invitation
from patients.models import Patient, PatientDemographics
from portal.access import Role
from tests.audit_helpers import events, last_event
from tests.conftest import sign_in_fully
from tests.invitations.conftest import MRN_SYSTEM, patient_resource

SEARCH, INVITE, LETTER = (
    "/staff/invitations/",
    "/staff/invitations/invite/",
    "/staff/invitations/letter/",
)


@pytest.fixture
def ehr(settings, ehr_server):
    smart = ehr_server.smart_config()
    settings.FHIR_BASE_URL = ehr_server.base_url
    settings.FHIR_CA_BUNDLE = ehr_server.ca_bundle
    settings.FHIR_CLIENT_ID = smart.client_id
    settings.FHIR_PRIVATE_KEY_FILE = str(smart.private_key_file)
    settings.FHIR_KEY_ID = smart.key_id
    settings.FHIR_SCOPE = smart.scope
    ehr_server.load(
        [
            patient_resource("desk-rosa", mrn="DESK-1", email="rosa@example.org"),
            patient_resource(
                "desk-ruth", family="Delgado", given="Ruth", birth="1980-01-01", mrn="DESK-2"
            ),
        ]
    )
    return ehr_server


@pytest.fixture
def desk(client, fran):
    return sign_in_fully(client, fran)


def code_on(page) -> str:
    match = re.search(r'id="activation-code">([A-Z0-9-]+)<', page.content.decode())
    assert match, page.content.decode()
    return match.group(1)


def test_the_desk_finds_a_patient_by_mrn_and_sees_name_birth_date_and_mrn_only(desk, ehr):
    page = desk.post(SEARCH, {"mrn": "DESK-1", "system": MRN_SYSTEM})
    html = page.content.decode()

    assert "Rosa Delgado" in html
    assert "1954" in html
    assert "DESK-1" in html
    assert "Ruth" not in html
    assert "Placeholder Road" not in html
    assert "rosa@example.org" not in html
    event = last_event(Action.EHR_PATIENT_SEARCH)
    assert event.actor_id
    assert event.object_id == "1"
    assert event.patient_id is None
    assert "DESK-1" not in f"{event.object_id}{event.object_type}"


def test_the_desk_finds_by_last_name_and_birth_date_exactly(desk, ehr):
    html = desk.post(SEARCH, {"family": "delgado", "birth_date": "1980-01-01"}).content.decode()
    assert "Ruth Delgado" in html
    assert "Rosa" not in html
    none = desk.post(SEARCH, {"family": "Delg", "birth_date": "1980-01-01"}).content.decode()
    assert "No patient found" in none


def test_a_search_needs_an_mrn_or_a_name_with_a_birth_date(desk, ehr):
    page = desk.post(SEARCH, {"family": "Delgado"})
    assert (
        "Enter a medical record number, or a last name and a date of birth" in page.content.decode()
    )
    assert events(Action.EHR_PATIENT_SEARCH) == []


def test_inviting_links_the_ehr_patient_and_shows_the_code_once(
    desk, ehr, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        page = desk.post(INVITE, {"fhir_id": "desk-rosa"})
    code = code_on(page)

    assert page["Cache-Control"].startswith("max-age=0") or "no-cache" in page["Cache-Control"]
    patient = Patient.objects.get(fhir_id="desk-rosa")
    demographics = PatientDemographics.objects.get(patient=patient)
    assert (demographics.mrn, demographics.mrn_system) == ("DESK-1", MRN_SYSTEM)
    invitation = Invitation.objects.get(patient=patient)
    assert bytes(invitation.code_digest) == codes.digest(code)
    created = last_event(Action.INVITATION_CREATED)
    assert created.patient_id == patient.pk
    assert created.object_id == str(invitation.pk)
    # The EHR has an address: the code went there too, with nothing clinical.
    assert invitation.emailed
    assert mailoutbox[0].to == ["rosa@example.org"]


def test_inviting_again_revokes_the_old_code(desk, ehr):
    first = code_on(desk.post(INVITE, {"fhir_id": "desk-rosa"}))
    second = code_on(desk.post(INVITE, {"fhir_id": "desk-rosa"}))

    assert first != second
    statuses = dict(Invitation.objects.values_list("code_digest", "status"))
    assert statuses[codes.digest(first)] == Invitation.Status.REVOKED
    assert statuses[codes.digest(second)] == Invitation.Status.PENDING
    assert last_event(Action.INVITATION_REVOKED).patient_id


def test_the_letter_needs_the_code_just_shown(desk, ehr):
    page = desk.post(INVITE, {"fhir_id": "desk-rosa"})
    code = code_on(page)
    invitation = Invitation.objects.get(status=Invitation.Status.PENDING)

    letter = desk.post(LETTER, {"invitation": invitation.pk, "code": code})
    assert letter.status_code == 200
    assert letter["Content-Type"] == "application/pdf"
    assert letter.content.startswith(b"%PDF")
    assert last_event(Action.INVITATION_LETTER).patient_id == invitation.patient_id
    wrong = desk.post(LETTER, {"invitation": invitation.pk, "code": "ACDE-FGHJ-KMNP-QRTW"})
    assert wrong.status_code == 404


def test_an_id_the_ehr_does_not_have_is_not_invited(desk, ehr):
    response = desk.post(INVITE, {"fhir_id": "no-such-patient"})
    assert response.status_code == 404
    assert not Invitation.objects.exists()


@pytest.mark.parametrize("role", ["alice", "carol", "bill", "otto"])
def test_only_the_desk_and_admins_invite(make_client, ehr, role, request):
    user = request.getfixturevalue(role)
    other = sign_in_fully(make_client(), user)
    assert other.post(SEARCH, {"mrn": "DESK-1"}).status_code == 403
    assert other.post(INVITE, {"fhir_id": "desk-rosa"}).status_code == 403
    assert not Invitation.objects.exists()
    assert events(Action.EHR_PATIENT_SEARCH) == []


def test_the_command_invites_by_mrn_and_prints_the_code_once(db, ehr, mailoutbox):
    out = io.StringIO()
    call_command(
        "invite_patient", "--mrn", "DESK-2", "--system", MRN_SYSTEM, "--email", "", stdout=out
    )

    code = re.search(r"Activation code: ([A-Z0-9-]+)", out.getvalue()).group(1)
    invitation = Invitation.objects.get(patient__fhir_id="desk-ruth")
    assert bytes(invitation.code_digest) == codes.digest(code)
    assert invitation.created_by is None
    assert mailoutbox == []
    assert last_event(Action.INVITATION_CREATED).actor_id is None


def test_the_command_does_nothing_without_exactly_one_match(db, ehr):
    with pytest.raises(CommandError, match="0 patients"):
        call_command("invite_patient", "--mrn", "NOBODY", stdout=io.StringIO())
    assert not Invitation.objects.exists()


# --- Administrators unlink -------------------------------------------------------------


def unlink_url(user: User) -> str:
    return f"/admin/invitations/patientlink/{user.pk}/unlink/"


def test_an_admin_lists_links_with_who_made_them(make_client, ada, alice):
    admin = sign_in_fully(make_client(), ada)
    page = admin.get("/admin/invitations/patientlink/")
    html = page.content.decode()
    assert page.status_code == 200
    assert "alice" in html
    assert str(alice.patient_id) in html


def test_unlinking_needs_the_username_typed_and_ends_the_sessions(make_client, ada, alice):
    patient_id = alice.patient_id
    patient_client = sign_in_fully(make_client(), alice)
    assert patient_client.get("/patient/records/labs/").status_code == 200
    admin = sign_in_fully(make_client(), ada)

    wrong = admin.post(unlink_url(alice), {"username": "mallory"})
    assert "not this account" in wrong.content.decode()
    alice.refresh_from_db()
    assert alice.patient_id == patient_id

    assert admin.post(unlink_url(alice), {"username": "alice"}).status_code == 302
    alice.refresh_from_db()
    assert alice.patient_id is None
    assert alice.role == Role.PATIENT
    assert not UserSession.objects.filter(user=alice).exists()
    assert patient_client.get("/patient/records/labs/").status_code == 302  # signed out
    event = last_event(Action.ACCOUNT_UNLINKED)
    assert event.patient_id == patient_id
    assert event.outcome == Outcome.SUCCESS
    # Signed in again, the account sees no record: the link, not the session, decided.
    again = sign_in_fully(make_client(), alice)
    assert again.get("/patient/records/labs/").status_code == 404
    assert "not linked to a patient record" in again.get("/patient/").content.decode()

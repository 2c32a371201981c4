"""Proxy access: guardians of minors and caregivers of adults.

Invited, activated with the child's (or patient's) last name and birth date,
switched to, narrowed at 12 and ended at 18 by the daily job, revoked by the
patient or by staff; confidential resources never shown to a proxy; every
view audited and listed on the patient's "who viewed my record".
"""

import io
from datetime import date, timedelta

import pytest
import time_machine
from django.utils import timezone
from procrastinate.contrib.django.models import ProcrastinateJob
from pypdf import PdfReader

from accounts.models import User, UserSession
from audit.actions import Action
from audit.context import NO_CONTEXT
from invitations import proxies, services
from invitations.ehr import from_resource
from invitations.models import Invitation
from patients.models import Patient, ProxyGrant
from portal.access import Role, clinical_patients
from tests.audit_helpers import events, last_event
from tests.conftest import sign_in_fully
from tests.invitations.conftest import patient_resource
from tests.records import builders
from tests.records import resources as r

ACTIVATE, ACCOUNT = "/activate/", "/activate/account/"
SWITCH, SHARING = "/patient/switch/", "/patient/sharing/"
LABS, PROBLEMS = "/patient/records/labs/", "/patient/records/problems/"
PASSWORD = "a long enough passphrase 71"
CONFIDENTIAL = {
    "system": "http://terminology.hl7.org/CodeSystem/v3-Confidentiality",
    "code": "R",
}


def child_resource(birth: str) -> dict:
    return patient_resource("leo-1", family="Whitfield", given="Leo", birth=birth, mrn="KID-1")


def years_ago(years: int, days: int = 0) -> str:
    today = timezone.localdate()
    return (today.replace(year=today.year - years) - timedelta(days=days)).isoformat()


@pytest.fixture
def invite_guardian(fran):
    def invite(birth: str = "", email: str = ""):
        found = from_resource(child_resource(birth or years_ago(8)))
        return proxies.guardian_invite(
            actor=fran, context=NO_CONTEXT, found=found, relationship="parent", email=email
        )

    return invite


@pytest.fixture
def leo_with_greta(invite_guardian, greta):
    """Greta holds an accepted guardian's grant for 8-year-old Leo; Leo has records."""
    issued = invite_guardian()
    grant = issued.invitation.grant
    grant.proxy, grant.accepted_at = greta, timezone.now()
    grant.save()
    leo = Patient.objects.get(fhir_id="leo-1")
    builders.store(leo, "Observation", [r.lab("leo-lab-1", patient="leo-1")])
    secret = r.condition("leo-cond-secret", patient="leo-1")
    secret["meta"]["security"] = [CONFIDENTIAL]
    secret["code"] = {"text": "Anxiety disorder"}
    builders.store(leo, "Condition", [r.condition("leo-cond-1", patient="leo-1"), secret])
    return leo, grant


def proxy_client(make_client, greta, leo):
    client = sign_in_fully(make_client(), greta)
    assert client.post(SWITCH, {"patient": leo.pk}).status_code == 302
    return client


# --- Inviting and activating ------------------------------------------------------------


def test_a_guardian_of_a_young_child_gets_full_access_until_the_eve_of_18(invite_guardian):
    birth = years_ago(8)
    grant = invite_guardian(birth).invitation.grant

    assert (grant.kind, grant.scope, grant.relationship) == ("guardian", "full", "parent")
    born = date.fromisoformat(birth)
    assert grant.ends_on == born.replace(year=born.year + 18) - timedelta(days=1)
    assert last_event(Action.PROXY_INVITED).patient_id == grant.patient_id


def test_a_guardian_of_a_teenager_gets_limited_access(invite_guardian):
    assert invite_guardian(years_ago(13)).invitation.grant.scope == ProxyGrant.Scope.LIMITED


def test_no_guardian_is_invited_for_an_adult(invite_guardian):
    with pytest.raises(services.InvitationError, match="adult"):
        invite_guardian(years_ago(18))
    assert not ProxyGrant.objects.exists()


def test_a_new_guardian_activates_with_the_childs_name_and_birth_date(client, invite_guardian):
    issued = invite_guardian()
    response = client.post(
        ACTIVATE, {"code": issued.code, "family_name": "Whitfield", "birth_date": years_ago(8)}
    )
    assert response["Location"] == ACCOUNT
    account = {"username": "greta2", "email": "greta2@example.org"}
    response = client.post(ACCOUNT, {**account, "password1": PASSWORD, "password2": PASSWORD})
    assert response["Location"] == "/accounts/sign-in/enrol/"

    user = User.objects.get(username="greta2")
    assert (user.role, user.patient_id) == (Role.PROXY, None)
    grant = ProxyGrant.objects.get(pk=issued.invitation.grant_id)
    assert grant.proxy == user
    assert grant.accepted_at is not None
    assert last_event(Action.PROXY_ACCEPTED).actor_id == user.pk
    assert list(clinical_patients(user)) == [grant.patient]


def test_an_existing_account_is_never_merged_silently(client, make_client, invite_guardian, alice):
    """Alice (a patient) types her own address: she is told to sign in and accept there."""
    issued = invite_guardian()
    identity = {"code": issued.code, "family_name": "Whitfield", "birth_date": years_ago(8)}
    client.post(ACTIVATE, identity)
    taken = client.post(
        ACCOUNT,
        {"username": "new", "email": alice.email, "password1": PASSWORD, "password2": PASSWORD},
    )
    assert "sign in to it, then enter the code again" in taken.content.decode()
    assert ProxyGrant.objects.get().proxy is None

    signed_in = sign_in_fully(make_client(), alice)
    assert signed_in.post(ACTIVATE, identity)["Location"] == ACCOUNT
    offer = signed_in.get(ACCOUNT).content.decode()
    assert "Leo Whitfield" in offer
    assert "Add it to my account" in offer
    assert ProxyGrant.objects.get().proxy is None  # nothing until she confirms
    assert signed_in.post(ACCOUNT)["Location"] == SWITCH
    grant = ProxyGrant.objects.get()
    assert grant.proxy == alice
    assert set(clinical_patients(alice)) == {alice.patient, grant.patient}


def test_a_signed_in_user_cannot_spend_a_patients_own_code(make_client, fran, alice):
    issued = services.invite(
        actor=fran, context=NO_CONTEXT, found=from_resource(patient_resource())
    )
    signed_in = sign_in_fully(make_client(), alice)
    page = signed_in.post(
        ACTIVATE, {"code": issued.code, "family_name": "Delgado", "birth_date": "1954-11-02"}
    )
    assert "Sign out first" in page.content.decode()
    assert Invitation.objects.get().status == Invitation.Status.PENDING


# --- Seeing the record ------------------------------------------------------------------


def test_the_proxy_switches_to_the_child_and_every_page_says_whose_record(
    make_client, leo_with_greta, greta
):
    leo, _grant = leo_with_greta
    client = proxy_client(make_client, greta, leo)
    page = client.get(LABS).content.decode()

    assert "You are looking at the record of" in page
    assert "Leo Whitfield" in page
    assert "Hemoglobin A1c" in page
    view = last_event(Action.RECORD_VIEW)
    assert (view.actor_id, view.actor_role, view.patient_id) == (greta.pk, "proxy", leo.pk)


def test_confidential_resources_never_reach_a_proxy(make_client, leo_with_greta, greta, carol):
    leo, _ = leo_with_greta
    client = proxy_client(make_client, greta, leo)

    problems = client.get(PROBLEMS).content.decode()
    assert "Type 2 diabetes" in problems
    assert "Anxiety" not in problems
    bundle = client.get("/patient/records/download/health-record.json").content.decode()
    assert "leo-cond-1" in bundle
    assert "leo-cond-secret" not in bundle
    pdf = client.get("/patient/records/download/health-record.pdf")
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages)
    assert "Type 2 diabetes" in text
    assert "Anxiety" not in text
    # The clinic's clinicians see both (the label is about proxies).
    from patients.models import CareTeam

    team = CareTeam.objects.create(name="Kids")
    team.members.add(carol)
    team.patients.add(leo)
    staff = sign_in_fully(make_client(), carol)
    assert "Anxiety disorder" in staff.get(f"/staff/patients/{leo.pk}/problems/").content.decode()


def test_another_patients_record_cannot_be_chosen(make_client, leo_with_greta, greta, mallory):
    _leo, _ = leo_with_greta
    client = sign_in_fully(make_client(), greta)
    assert client.post(SWITCH, {"patient": mallory.patient_id}).status_code == 404
    assert client.get(LABS).status_code == 200  # still Leo's (her only record)
    assert mallory.patient not in clinical_patients(greta)


def test_the_patients_who_viewed_page_lists_the_proxy(make_client, invite_guardian, greta, alice):
    """An adult patient's caregiver reads her labs; she sees it on her page."""
    issued = proxies.caregiver_invite(
        actor=alice,
        context=NO_CONTEXT,
        email="helper@example.org",
        relationship="friend",
        scope="full",
    )
    grant = issued.invitation.grant
    grant.proxy, grant.accepted_at = greta, timezone.now()
    grant.save()
    proxy_client(make_client, greta, alice.patient).get(LABS)

    page = sign_in_fully(make_client(), alice).get("/audit/who-viewed-my-record/").content.decode()
    assert "greta" in page
    assert "Acting for you (proxy)" in page


# --- Ending access ----------------------------------------------------------------------


def test_the_12th_birthday_narrows_and_the_18th_ends(make_client, invite_guardian, greta):
    birth = date(2014, 6, 1)
    with time_machine.travel(date(2026, 5, 1)):
        grant = invite_guardian(birth.isoformat()).invitation.grant
        grant.proxy, grant.accepted_at = greta, timezone.now()
        grant.save()
        assert grant.scope == ProxyGrant.Scope.FULL
        assert proxies.proxy_rules_apply() == {"narrowed": 0, "ended": 0}
    with time_machine.travel(date(2026, 6, 1)):
        assert proxies.proxy_rules_apply() == {"narrowed": 1, "ended": 0}
        grant.refresh_from_db()
        assert grant.scope == ProxyGrant.Scope.LIMITED
        assert last_event(Action.PROXY_NARROWED).patient_id == grant.patient_id
    with time_machine.travel(date(2032, 6, 1)):
        assert proxies.proxy_rules_apply() == {"narrowed": 0, "ended": 1}
        grant.refresh_from_db()
        assert grant.ended_at is not None
        assert not clinical_patients(greta).exists()
    # Both sides are told (an e-mail with no detail); here the proxy: the child has no account.
    mails = ProcrastinateJob.objects.filter(task_name="accounts.send_account_email")
    assert {j.args["kind"] for j in mails} == {"proxy_access_changed"}


def test_a_grant_past_its_end_date_ends(leo_with_greta, greta):
    _leo, grant = leo_with_greta
    ProxyGrant.objects.filter(pk=grant.pk).update(ends_on=timezone.localdate() - timedelta(days=1))
    assert not clinical_patients(greta).exists()  # at once, before the job
    assert proxies.proxy_rules_apply()["ended"] == 1


def test_staff_revoke_with_a_reason_and_the_proxy_is_out_of_that_record(
    make_client, leo_with_greta, greta, ada
):
    leo, grant = leo_with_greta
    client = proxy_client(make_client, greta, leo)
    admin = sign_in_fully(make_client(), ada)
    url = f"/admin/patients/proxygrant/{grant.pk}/revoke/"

    refused = admin.post(url, {"reason": ""})
    assert "Give a reason" in refused.content.decode()
    assert admin.post(url, {"reason": "court order 2026/114"}).status_code == 302

    grant.refresh_from_db()
    assert grant.revoked_by == ada
    assert grant.revoke_reason == "court order 2026/114"
    assert client.get(LABS).status_code == 302  # she had no other record: signed out
    assert not UserSession.objects.filter(user=greta).exists()
    assert last_event(Action.PROXY_REVOKED).patient_id == leo.pk


def test_a_patient_invites_and_revokes_a_caregiver(
    make_client, alice, greta, mailoutbox, django_capture_on_commit_callbacks
):
    patient = sign_in_fully(make_client(), alice)
    with django_capture_on_commit_callbacks(execute=True):
        response = patient.post(
            SHARING,
            {"email": "helper@example.org", "relationship": "friend", "scope": "limited"},
        )
    assert response.status_code == 302
    (mail,) = mailoutbox
    assert mail.to == ["helper@example.org"]
    assert "/activate/" in mail.body
    grant = ProxyGrant.objects.get()
    assert (grant.kind, grant.scope, grant.patient_id) == ("caregiver", "limited", alice.patient_id)
    grant.proxy, grant.accepted_at = greta, timezone.now()
    grant.save()
    helper = proxy_client(make_client, greta, alice.patient)
    assert helper.get(LABS).status_code == 200

    assert patient.post(f"{SHARING}{grant.pk}/revoke/").status_code == 302
    assert helper.get(LABS).status_code == 302
    assert alice.patient not in clinical_patients(greta)


def test_a_patient_cannot_revoke_someone_elses_grant(make_client, leo_with_greta, mallory):
    _, grant = leo_with_greta
    client = sign_in_fully(make_client(), mallory)
    client.post(f"{SHARING}{grant.pk}/revoke/")
    grant.refresh_from_db()
    assert grant.revoked_at is None
    assert events(Action.PROXY_REVOKED) == []


def test_a_limited_scope_leaves_out_messages_and_bills_unless_guarantor(leo_with_greta, greta):
    from portal.access import ProxyFeature, proxy_allows

    leo, grant = leo_with_greta
    assert proxy_allows(actor=greta, patient_id=leo.pk, feature=ProxyFeature.MESSAGES)
    ProxyGrant.objects.filter(pk=grant.pk).update(scope=ProxyGrant.Scope.LIMITED)
    assert not proxy_allows(actor=greta, patient_id=leo.pk, feature=ProxyFeature.MESSAGES)
    assert not proxy_allows(actor=greta, patient_id=leo.pk, feature=ProxyFeature.BILLS)
    ProxyGrant.objects.filter(pk=grant.pk).update(guarantor=True)
    assert proxy_allows(actor=greta, patient_id=leo.pk, feature=ProxyFeature.BILLS)
    ProxyGrant.objects.filter(pk=grant.pk).update(revoked_at=timezone.now())
    assert not proxy_allows(actor=greta, patient_id=leo.pk, feature=ProxyFeature.BILLS)


def test_a_proxys_sign_in_queues_a_sync_of_each_record_they_act_for(
    make_client, invite_guardian, greta, settings
):
    settings.FHIR_BASE_URL = "https://ehr.example.org/fhir"
    grant = invite_guardian().invitation.grant
    grant.proxy, grant.accepted_at = greta, timezone.now()
    grant.save()

    sign_in_fully(make_client(), greta)

    (job,) = ProcrastinateJob.objects.filter(task_name="records.sync_patient")
    assert job.args == {"patient_id": str(grant.patient_id)}


def test_a_guardians_letter_is_addressed_to_the_parent(make_client, invite_guardian, fran):
    issued = invite_guardian()
    desk = sign_in_fully(make_client(), fran)
    letter = desk.post(
        "/staff/invitations/letter/", {"invitation": issued.invitation.pk, "code": issued.code}
    )
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(letter.content)).pages)
    assert "parent or guardian of Leo Whitfield" in " ".join(text.split())
    assert issued.shown_code in text

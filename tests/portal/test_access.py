"""Minimum necessary: who sees which patient, break-glass, and the role x route matrix."""

import datetime as dt
import re
import uuid

import pytest
import time_machine
from django.core import mail

from audit.actions import Action, Outcome, Severity
from patients.models import BreakGlassGrant, CareTeam
from portal.access import Policy, Role, view_policy
from tests.audit_helpers import events, last_event
from tests.conftest import device_of, sign_in_fully, totp_now
from tests.urlwalk import walk


@pytest.fixture
def ward(alice, carol, nina):
    """Carol (physician) and Nina (nurse) treat Alice; nobody treats Mallory."""
    team = CareTeam.objects.create(name="Ward 3")
    team.members.add(carol, nina)
    team.patients.add(alice.patient)
    return team


def chart(patient_user) -> str:
    return f"/staff/patients/{patient_user.patient_id}/"


def test_it_shows_care_team_clinicians_their_patients_chart(client, ward, alice, carol):
    sign_in_fully(client, carol)
    assert client.get(chart(alice)).status_code == 200
    event = last_event(Action.RECORD_VIEW)
    assert (event.actor_id, event.patient_id, event.severity) == (
        carol.pk,
        alice.patient_id,
        Severity.INFO,
    )


def test_it_answers_404_alike_for_another_patient_and_a_missing_one(client, ward, carol, mallory):
    sign_in_fully(client, carol)
    other = client.get(chart(mallory))
    missing = client.get(f"/staff/patients/{uuid.uuid4()}/")
    assert other.status_code == missing.status_code == 404
    assert _without_csrf(other.content) == _without_csrf(missing.content)


def _without_csrf(html: bytes) -> bytes:
    return re.sub(rb'name="csrfmiddlewaretoken" value="[^"]+"', b"", html)


def test_it_hides_a_patient_from_a_clinician_outside_the_care_team(client, ward, alice, dave):
    sign_in_fully(client, dave)
    assert client.get(chart(alice)).status_code == 404
    assert client.get("/staff/patients/").context["patients"] == []


def test_it_lists_only_the_care_teams_patients(client, ward, alice, mallory, nina):
    sign_in_fully(client, nina)
    assert client.get("/staff/patients/").context["patients"] == [alice.patient]


@pytest.mark.parametrize("cast", ["alice", "bill", "fran", "ada", "otto"])
def test_it_refuses_charts_to_non_clinical_roles(client, ward, alice, cast, request):
    user = request.getfixturevalue(cast)
    sign_in_fully(client, user)
    assert client.get(chart(alice)).status_code == 403


def break_glass(client, user, patient_user, reason="Unconscious in ED, no team on shift"):
    return client.post(
        "/accounts/emergency-access/",
        {
            "patient_id": str(patient_user.patient_id),
            "reason": reason,
            "method": "totp",
            "token": totp_now(device_of(user), offset=1),
        },
    )


def test_it_opens_a_chart_through_break_glass_with_reason_and_code(
    client, ward, alice, dave, settings, django_capture_on_commit_callbacks
):
    settings.PORTAL_PRIVACY_OFFICER_EMAIL = "privacy@clinic.example"
    sign_in_fully(client, dave)
    with django_capture_on_commit_callbacks(execute=True):
        response = break_glass(client, dave, alice)
    assert response.url == chart(alice)
    page = client.get(chart(alice))
    assert page.status_code == 200
    assert page.context["break_glass"] is True
    granted = last_event(Action.BREAK_GLASS)
    assert (granted.severity, granted.patient_id, granted.reason) == (
        Severity.HIGH,
        alice.patient_id,
        "Unconscious in ED, no team on shift",
    )
    assert last_event(Action.RECORD_VIEW).severity == Severity.HIGH
    (message,) = mail.outbox
    assert message.to == ["privacy@clinic.example"]
    assert "Unconscious" not in message.body  # ids only, no clinical words in mail
    assert str(alice.patient_id) not in message.body


def test_it_refuses_break_glass_without_a_valid_code(client, ward, alice, dave):
    sign_in_fully(client, dave)
    response = client.post(
        "/accounts/emergency-access/",
        {
            "patient_id": str(alice.patient_id),
            "reason": "Unconscious in ED",
            "method": "totp",
            "token": "000000",
        },
    )
    assert response.status_code == 200
    assert response.context["form"]["reason"].value() == "Unconscious in ED"
    assert not BreakGlassGrant.objects.exists()
    assert client.get(chart(alice)).status_code == 404
    assert last_event(Action.BREAK_GLASS).outcome == Outcome.FAILURE


def test_it_requires_a_reason_for_break_glass(client, ward, alice, dave):
    sign_in_fully(client, dave)
    response = break_glass(client, dave, alice, reason="")
    assert response.status_code == 200
    assert response.context["form"].errors["reason"]
    assert not BreakGlassGrant.objects.exists()


def test_it_refuses_break_glass_to_non_clinicians(client, alice, bill):
    sign_in_fully(client, bill)
    assert break_glass(client, bill, alice).status_code == 403
    assert not BreakGlassGrant.objects.exists()


def test_it_ends_break_glass_access_after_its_time(client, ward, alice, dave):
    start = dt.datetime(2026, 7, 1, 3, 0, tzinfo=dt.UTC)
    with time_machine.travel(start, tick=False):
        sign_in_fully(client, dave)
        break_glass(client, dave, alice)
    # Looked at every ten minutes, so the idle timeout is not what ends it.
    for minute in range(10, 60, 10):
        with time_machine.travel(start + dt.timedelta(minutes=minute), tick=False):
            assert client.get(chart(alice)).status_code == 200
    with time_machine.travel(start + dt.timedelta(minutes=61), tick=False):
        assert client.get(chart(alice)).status_code == 404


def test_it_lists_grants_for_admin_review_until_marked(make_client, ward, alice, dave, ada):
    clinician, admin = make_client(), make_client()
    sign_in_fully(clinician, dave)
    break_glass(clinician, dave, alice)
    sign_in_fully(admin, ada)
    (grant,) = admin.get("/accounts/emergency-access/review/").context["grants"]
    admin.post("/accounts/emergency-access/review/", {"grant": str(grant.pk)})
    assert admin.get("/accounts/emergency-access/review/").context["grants"] == []
    assert last_event(Action.BREAK_GLASS_REVIEWED).object_id == str(grant.pk)


def test_it_keeps_the_review_page_from_clinicians(client, dave):
    sign_in_fully(client, dave)
    assert client.get("/accounts/emergency-access/review/").status_code == 403


# --- The role x route matrix, generated from the URLconf --------------------------

ROLE_CAST = {
    Role.PATIENT: "alice",
    Role.PROXY: "greta",
    Role.PHYSICIAN: "carol",
    Role.NURSE: "nina",
    Role.BILLING: "bill",
    Role.FRONT_DESK: "fran",
    Role.ADMIN: "ada",
    Role.AUDITOR: "otto",
}
ROLE_ROUTES = [
    r
    for r in walk()
    if view_policy(r.view, r.name.rsplit(":", 1)[0] if ":" in r.name else "")[0] is Policy.ROLES
]


def _allowed(route) -> frozenset:
    namespace = route.name.rsplit(":", 1)[0] if ":" in route.name else ""
    return view_policy(route.view, namespace)[1]


def _concrete(path: str, own_patient, own_ids: dict) -> str:
    # Object routes get an id the role may use; the walk's sample id stands
    # for "someone else's or nobody's" and is tested separately below.
    return path.replace(str(uuid.UUID(int=1)), str(own_ids.get("uuid", uuid.UUID(int=1))))


@pytest.mark.parametrize("role", list(ROLE_CAST))
def test_it_gives_each_role_exactly_its_routes(make_client, ward, role, request):
    """Every role, the proxy's included, against every route (its own records' pages
    answer a proxy without a grant with 404: allowed by the policy, no record to show)."""
    user = request.getfixturevalue(ROLE_CAST[role])
    client = make_client()
    sign_in_fully(client, user)
    own = {"uuid": request.getfixturevalue("alice").patient_id}
    for route in ROLE_ROUTES:
        denials = len(events(Action.ACCESS_DENIED))
        status = client.get(_concrete(route.path, None, own)).status_code
        # The policy's own refusals are audited; a view may still refuse a
        # malformed request by itself (the admin's autocomplete without
        # parameters), which is not what this matrix is about.
        refused_by_policy = len(events(Action.ACCESS_DENIED)) > denials
        expected = role not in _allowed(route)
        assert refused_by_policy == expected, (role, route.name, status)
        if expected:
            assert status == 403, (role, route.name, status)


def test_it_answers_404_for_another_patients_id_on_every_patient_route(client, ward, carol):
    sign_in_fully(client, carol)
    patient_routes = [
        r
        for r in ROLE_ROUTES
        if "/patients/" in r.path
        and str(uuid.UUID(int=1)) in r.path
        and Role.PHYSICIAN in _allowed(r)
    ]
    assert patient_routes
    for route in patient_routes:
        assert client.get(route.path).status_code == 404, route.name


def test_it_changes_nothing_when_a_write_names_someone_elses_object(make_client, alice, mallory):
    attacker = make_client()
    sign_in_fully(attacker, mallory)
    before = len(events())
    attacker.post("/accounts/emergency-access/review/", {"grant": str(uuid.uuid4())})
    attacker.post(f"/accounts/security/sessions/{uuid.uuid4()}/end/")
    assert [e.action for e in events()[before:]] == [Action.ACCESS_DENIED]

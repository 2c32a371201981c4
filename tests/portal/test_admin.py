"""The Django admin: administrators only, after the second factor, every change audited."""

from accounts.models import User, UserSession
from audit.actions import Action
from portal.access import Role
from tests.audit_helpers import last_event
from tests.conftest import sign_in_fully, sign_in_password


def test_it_lets_a_verified_administrator_in(client, ada):
    sign_in_fully(client, ada)
    assert client.get("/admin/").status_code == 200


def test_it_wants_the_second_factor_from_an_administrator_too(client, ada):
    sign_in_password(client, ada)
    response = client.get("/admin/")
    assert response.url.startswith("/accounts/sign-in/verify/")


def test_it_refuses_every_other_role(make_client, alice, carol, nina, bill, fran, otto):
    for user in (alice, carol, nina, bill, fran, otto):
        client = make_client()
        sign_in_fully(client, user)
        assert client.get("/admin/").status_code == 403, user.role
        assert client.get("/admin/accounts/user/").status_code == 403, user.role
        assert last_event(Action.ACCESS_DENIED).actor_id == user.pk


def test_it_audits_an_account_created_in_the_admin(client, ada):
    sign_in_fully(client, ada)
    response = client.post(
        "/admin/accounts/user/add/",
        {
            "username": "peggy",
            "email": "peggy@example.org",
            "display_name": "",
            "role": Role.PATIENT,
            "password1": "a long enough passphrase",
            "password2": "a long enough passphrase",
            "usable_password": "true",
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    peggy = User.objects.get(username="peggy")
    assert peggy.patient_id is not None  # a patient account gets its own patient record
    event = last_event(Action.ADMIN_ADD)
    assert (event.actor_id, event.object_type, event.object_id) == (
        ada.pk,
        "accounts.user",
        str(peggy.pk),
    )


def test_it_ends_every_session_of_a_deactivated_account(client, make_client, ada, carol):
    victim = make_client()
    sign_in_fully(victim, carol)
    sign_in_fully(client, ada)
    response = client.post(
        f"/admin/accounts/user/{carol.pk}/change/",
        {
            "username": "carol",
            "email": carol.email,
            "display_name": carol.display_name,
            "role": Role.PHYSICIAN,
        },
    )
    assert response.status_code == 302
    assert not UserSession.objects.filter(user=carol).exists()
    assert victim.get("/staff/").status_code == 302
    assert last_event(Action.ACCOUNT_DEACTIVATED).object_id == str(carol.pk)
    assert last_event(Action.ADMIN_CHANGE).object_id == str(carol.pk)


def test_it_will_not_turn_a_patient_into_staff(client, ada, alice):
    sign_in_fully(client, ada)
    response = client.post(
        f"/admin/accounts/user/{alice.pk}/change/",
        {"username": "alice", "email": alice.email, "role": Role.PHYSICIAN, "is_active": "on"},
    )
    assert response.status_code == 200
    assert User.objects.get(pk=alice.pk).role == Role.PATIENT


def test_it_offers_administrators_no_clinical_app(client, ada):
    sign_in_fully(client, ada)
    app_list = client.get("/admin/").context["app_list"]
    apps = {app["app_label"] for app in app_list}
    assert apps <= {
        "accounts",
        "otp_email",
        "axes",
        "patients",
        "records",
        "invitations",  # ids, states and who invited; never a name
        "appointments",
        "refills",  # pharmacies, medicine rules, prescribers; never a request
    }
    assert "audit" not in apps
    # Of the patients app, care teams only: never the patient or their demographics.
    patients = next(app for app in app_list if app["app_label"] == "patients")
    # Proxy grants by ids and states (revoked there with a reason); never a patient's name.
    assert {m["object_name"] for m in patients["models"]} == {"CareTeam", "ProxyGrant"}
    # Of the records app, only the sync's refusals and progress (ids and codes), read-only.
    records = next((app for app in app_list if app["app_label"] == "records"), {"models": []})
    assert {m["object_name"] for m in records["models"]} <= {"Quarantine", "SyncState"}
    assert all(not m["perms"]["change"] for m in records["models"])
    # Of appointments, the clinic's set-up only: never appointments (the reason is PHI).
    scheduling = next(app for app in app_list if app["app_label"] == "appointments")
    assert {m["object_name"] for m in scheduling["models"]} == {
        "Location",
        "VisitType",
        "WeeklyTemplate",
        "ScheduleException",
    }
    # Of refills, the set-up only: never a request (the comment and medicines are PHI).
    refills = next(app for app in app_list if app["app_label"] == "refills")
    assert {m["object_name"] for m in refills["models"]} == {
        "Pharmacy",
        "MedicineRule",
        "Prescriber",
    }

"""Proxy access in a real browser: a parent activates and switches to the child; the
child's 12th birthday narrows the access; revoking signs the parent out of the record."""

import re
from datetime import timedelta

import time_machine
from django.utils import timezone
from playwright.sync_api import expect

from audit.context import NO_CONTEXT
from invitations import proxies
from invitations.ehr import from_resource
from patients.models import Patient, ProxyGrant
from tests.conftest import totp_from_secret
from tests.invitations.conftest import patient_resource
from tests.records import builders
from tests.records import resources as r

PASSWORD = "correct horse battery staple 9"


def invite_for_leo(fran, birth: str):
    found = from_resource(
        patient_resource("e2e-leo", family="Whitfield", given="Leo", birth=birth, mrn="E2E-KID")
    )
    issued = proxies.guardian_invite(
        actor=fran, context=NO_CONTEXT, found=found, relationship="parent"
    )
    leo = Patient.objects.get(fhir_id="e2e-leo")
    builders.store(leo, "Observation", [r.lab("e2e-leo-lab", patient="e2e-leo")])
    secret = r.condition("e2e-leo-secret", patient="e2e-leo")
    secret["meta"]["security"] = [
        {"system": "http://terminology.hl7.org/CodeSystem/v3-Confidentiality", "code": "R"}
    ]
    secret["code"] = {"text": "Anxiety disorder"}
    builders.store(leo, "Condition", [r.condition("e2e-leo-cond", patient="e2e-leo"), secret])
    return issued, leo


def years_ago(years: int) -> str:
    today = timezone.localdate()
    return today.replace(year=today.year - years).isoformat()


def test_a_parent_activates_and_switches_to_the_child(open_portal, fran):
    birth = years_ago(8)
    issued, _ = invite_for_leo(fran, birth)
    portal = open_portal()
    page = portal.page

    portal.goto("/activate/")
    page.get_by_label("Activation code").fill(issued.shown_code)
    page.get_by_label("Last name").fill("Whitfield")
    page.get_by_label("Date of birth").fill(birth)
    page.get_by_role("button", name="Continue").click()
    portal.wait_for("/activate/account/")
    expect(page.get_by_text("to act for the person who invited you")).to_be_visible()
    page.get_by_label("Username").fill("parent.whitfield")
    page.get_by_label("E-mail address").fill("parent@example.org")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password again").fill(PASSWORD)
    page.get_by_role("button", name="Create my account").click()
    portal.wait_for("/accounts/sign-in/enrol/")
    secret = page.locator("#totp-secret").get_attribute("data-secret")
    page.get_by_label("6-digit code from your app").fill(totp_from_secret(secret))
    page.get_by_role("button", name="Turn on two-step sign-in").click()
    page.get_by_role("link", name="I've saved them — continue").click()
    portal.wait_for("/patient/")

    page.get_by_role("link", name="Switch record").first.click()
    portal.wait_for("/patient/switch/")
    page.get_by_role("button", name="Leo Whitfield").click()
    portal.wait_for("/patient/records/")
    expect(page.locator(".patient-banner")).to_contain_text("Leo Whitfield")
    page.get_by_role("navigation", name="Your health record").get_by_role(
        "link", name="Problems"
    ).click()
    expect(page.locator("main")).to_contain_text("Type 2 diabetes")
    expect(page.locator("main")).not_to_contain_text("Anxiety")


def test_the_12th_birthday_narrows_the_parents_access(open_portal, fran, greta):
    birth = years_ago(12)  # today is Leo's 12th birthday
    with time_machine.travel(timezone.now() - timedelta(days=30)):
        issued, _ = invite_for_leo(fran, birth)  # invited at 11: full access
    grant = issued.invitation.grant
    grant.proxy, grant.accepted_at = greta, timezone.now()
    grant.save()
    portal = open_portal()
    portal.sign_in_fully(greta)
    portal.goto("/patient/switch/")
    leo = portal.page.get_by_role("listitem").filter(has_text="Leo Whitfield")
    expect(leo).to_contain_text("as their parent")
    expect(leo).not_to_contain_text("limited")

    assert proxies.proxy_rules_apply() == {"narrowed": 1, "ended": 0}

    portal.page.reload()
    expect(leo).to_contain_text("limited access")
    grant.refresh_from_db()
    assert grant.scope == ProxyGrant.Scope.LIMITED


def test_revoking_signs_the_parent_out_of_the_record(open_portal, fran, greta, ada):
    issued, leo = invite_for_leo(fran, years_ago(8))
    grant = issued.invitation.grant
    grant.proxy, grant.accepted_at = greta, timezone.now()
    grant.save()
    portal = open_portal()
    portal.sign_in_fully(greta)
    portal.goto("/patient/records/labs/")
    expect(portal.page.locator(".patient-banner")).to_contain_text("Leo Whitfield")

    proxies.proxy_revoke(
        actor=ada, context=NO_CONTEXT, grant_id=grant.pk, reason="court order 2026/114"
    )

    portal.goto("/patient/records/labs/")
    portal.wait_for("/accounts/sign-in/")
    expect(portal.page.get_by_role("heading", level=1)).to_have_text(re.compile("Sign in"))
    assert leo.pk not in {
        p.pk
        for p in Patient.objects.filter(
            proxy_grants__proxy=greta, proxy_grants__revoked_at__isnull=True
        )
    }

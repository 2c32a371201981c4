"""Signing in, and being signed out, as a person at a browser does it."""

import time

from playwright.sync_api import expect

from accounts.models import AuthenticatorDevice
from accounts.services import _new_backup_codes
from tests.conftest import PASSWORD, device_of, totp_from_secret, totp_now

# The short inactivity settings of the idle tests, in seconds.
IDLE_TIMEOUT = 8
IDLE_WARNING = 4


def test_it_takes_a_new_patient_through_enrolment_to_their_home(open_portal, newcomer):
    portal = open_portal()
    page = portal.page

    portal.enter_password(newcomer)
    portal.wait_for("/accounts/sign-in/enrol/")
    secret = page.locator("#totp-secret").get_attribute("data-secret")
    page.get_by_label("6-digit code from your app").fill(totp_from_secret(secret))
    page.get_by_role("button", name="Turn on two-step sign-in").click()

    expect(page.get_by_role("heading", name="Two-step sign-in is on")).to_be_visible()
    expect(page.locator("#backup-codes li")).to_have_count(10)
    page.get_by_role("link", name="I've saved them — continue").click()

    portal.wait_for("/patient/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Welcome")
    expect(page.get_by_text("This is your Carebridge home.")).to_be_visible()


def _signed_in_on_a_short_timeout(open_portal, user):
    """Sign in on a server that signs out after IDLE_TIMEOUT s; returns the portal and
    the moment the home page had loaded (the server's deadline is no later than that
    plus IDLE_TIMEOUT)."""
    portal = open_portal(idle_timeout=IDLE_TIMEOUT, idle_warning=IDLE_WARNING)
    portal.sign_in_fully(user)
    return portal, time.monotonic()


def test_it_signs_an_idle_patient_out_after_a_warning(open_portal, alice):
    portal, _ = _signed_in_on_a_short_timeout(open_portal, alice)
    page = portal.page

    expect(page.locator("#idle-dialog")).to_be_visible(timeout=(IDLE_TIMEOUT + 2) * 1000)
    portal.wait_for("/accounts/sign-in/", timeout=(IDLE_TIMEOUT + 5) * 1000, signed_out="idle")
    expect(page.locator(".notice")).to_contain_text("signed out after")
    expect(page.locator(".notice")).to_contain_text("without activity")

    # The server ended the session too: the home page asks for a sign-in.
    portal.goto("/patient/")
    assert portal.at("/accounts/sign-in/", next="/patient/"), page.url


def test_it_keeps_a_patient_signed_in_who_chooses_to_stay(open_portal, alice):
    portal, loaded = _signed_in_on_a_short_timeout(open_portal, alice)
    page = portal.page
    dialog = page.locator("#idle-dialog")

    expect(dialog).to_be_visible(timeout=(IDLE_TIMEOUT + 2) * 1000)
    page.locator("#idle-stay").click()
    expect(dialog).to_be_hidden(timeout=3_000)

    # Past the deadline the session had before "Stay signed in", well before the new one.
    # (The warning may be showing again by then: it comes IDLE_WARNING s before the end.)
    page.wait_for_timeout(max(0, (loaded + IDLE_TIMEOUT + 0.5 - time.monotonic()) * 1000))
    assert portal.at("/patient/"), page.url
    response = portal.goto("/accounts/security/")
    assert response.status == 200
    assert response.request.redirected_from is None
    assert portal.at("/accounts/security/"), page.url
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign-in and security")


def test_it_lets_staff_sign_in_with_a_backup_code(open_portal, carol):
    codes = _new_backup_codes(carol)
    portal = open_portal()
    page = portal.page

    portal.enter_password(carol)
    portal.wait_for("/accounts/sign-in/verify/")
    page.get_by_role("link", name="Use a backup code").click()
    portal.wait_for("/accounts/sign-in/verify/", method="backup", next="/")
    expect(page.get_by_text("Enter one of your backup codes.")).to_be_visible()
    page.get_by_label("Code").fill(codes[0])
    page.get_by_role("button", name="Verify").click()

    portal.wait_for("/staff/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Staff home")
    expect(page.get_by_text("Signed in as Dr Carol Chen")).to_be_visible()


def confirm_its_me(portal, user) -> None:
    """On the sudo-mode confirm page: the password and the authenticator's next code."""
    portal.wait_for("/accounts/security/confirm/")
    # A code works once: forgetting the step used to sign in stands in for waiting.
    AuthenticatorDevice.objects.filter(user=user).update(last_t=-1)
    portal.page.get_by_label("Password").fill(PASSWORD)
    portal.page.get_by_label("Code").fill(totp_now(device_of(user)))
    portal.page.get_by_role("button", name="Confirm").click()


def test_it_asks_a_signed_in_patient_to_confirm_before_showing_a_new_secret(open_portal, alice):
    portal = open_portal()
    page = portal.page
    portal.sign_in_fully(alice)
    portal.goto("/accounts/security/")
    page.get_by_role("link", name="Move to a new phone or authenticator app").click()

    portal.wait_for("/accounts/security/confirm/", next="/accounts/sign-in/enrol/")
    expect(page.locator("#totp-secret")).to_have_count(0)
    page.get_by_label("Password").fill("not the right password")
    page.get_by_label("Code").fill("000000")
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_role("alert")).to_have_text(
        "That password or code didn't work. Check both and try again."
    )

    confirm_its_me(portal, alice)
    portal.wait_for("/accounts/sign-in/enrol/")
    secret = page.locator("#totp-secret").get_attribute("data-secret")
    page.get_by_label("6-digit code from your app").fill(totp_from_secret(secret))
    page.get_by_role("button", name="Turn on two-step sign-in").click()
    expect(page.locator("#backup-codes li")).to_have_count(10)


def test_it_shows_the_generic_error_for_a_wrong_password_and_keeps_the_username(open_portal, alice):
    portal = open_portal()
    page = portal.page

    portal.enter_password(alice, password="not the right password")

    expect(page.get_by_role("alert")).to_have_text(
        "That username and password don't match. Check them and try again."
    )
    assert portal.at("/accounts/sign-in/"), page.url
    expect(page.get_by_label("Username")).to_have_value("alice")
    expect(page.get_by_label("Password")).to_have_value("")

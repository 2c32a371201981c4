"""Walks of the whole URLconf: nothing is reachable by skipping a sign-in step
(OpenEMR 2018), and every view declares who may use it."""

import pytest
from django.http import HttpResponse
from django.urls import path, resolve

from portal import urls as portal_urls
from portal.access import Policy, view_policy
from tests.conftest import sign_in_fully, sign_in_password
from tests.urlwalk import walk

ROUTES = walk()
# The only pages anyone may open without signing in. A new public page must
# be added here on purpose, in review.
PUBLIC = {
    "healthz",
    "accounts:login",
    "accounts:password_reset",
    "accounts:password_reset_sent",
    "accounts:password_reset_confirm",
    "accounts:password_reset_done",
    "admin_login",
    "invitations:activate",
    "invitations:activate_account",
    # Stripe's webhook: signed by Stripe (the signature is checked on the raw body).
    "stripe_webhook",
}
SIGN_IN_STEPS = {
    "accounts:verify",
    "accounts:enrol",
    "accounts:email_code",
    "accounts:logout",
    "admin_logout",
}


def _policy(route):
    match = resolve(route.path)
    return view_policy(match.func, match.namespace)


def test_it_walks_every_app_and_the_admin():
    names = {r.name for r in ROUTES}
    assert {"home", "accounts:security", "admin:index", "admin:accounts_user_change"} <= names
    assert "admin:login" not in names  # shadowed by the portal's own sign-in


def test_it_finds_a_declared_policy_on_every_view():
    undeclared = [r.name for r in ROUTES if _policy(r)[0] is None]
    assert undeclared == []


def test_it_keeps_the_public_pages_to_the_reviewed_list():
    public = {r.name for r in ROUTES if _policy(r)[0] is Policy.PUBLIC}
    assert public == PUBLIC


def test_it_allows_only_the_sign_in_steps_before_the_second_factor():
    steps = {r.name for r in ROUTES if _policy(r)[0] is Policy.SIGN_IN_STEP}
    assert steps == SIGN_IN_STEPS


PROTECTED = [r for r in ROUTES if r.name not in PUBLIC]


def _assert_sent_to(response, prefix: str, route, client=None):
    """Redirected (possibly via the admin's own login URL) to prefix, never shown content."""
    for _ in range(3):
        assert response.status_code == 302, (route, response.status_code)
        if response.url.startswith(prefix) or client is None:
            break
        response = client.get(response.url)
    assert response.url.startswith(prefix), (route, response.url)


@pytest.mark.parametrize("method", ["get", "post"])
def test_it_sends_an_anonymous_visitor_to_sign_in_from_every_protected_route(client, db, method):
    for route in PROTECTED:
        response = getattr(client, method)(route.path)
        _assert_sent_to(response, "/accounts/sign-in/", route, client)


@pytest.mark.parametrize("method", ["get", "post"])
def test_it_sends_a_password_only_session_to_the_second_factor(client, alice, method):
    sign_in_password(client, alice)
    for route in PROTECTED:
        if route.name in SIGN_IN_STEPS:
            continue
        response = getattr(client, method)(route.path)
        _assert_sent_to(response, "/accounts/sign-in/verify/", route)


@pytest.mark.parametrize("method", ["get", "post"])
def test_it_keeps_a_mid_enrolment_session_in_enrolment(client, newcomer, method):
    sign_in_password(client, newcomer)
    assert client.get("/accounts/sign-in/enrol/").status_code == 200  # enrolment started
    for route in PROTECTED:
        if route.name in SIGN_IN_STEPS:
            continue
        response = getattr(client, method)(route.path)
        _assert_sent_to(response, "/accounts/sign-in/enrol/", route)


def test_it_does_not_let_a_password_alone_enrol_a_second_authenticator(client, alice):
    sign_in_password(client, alice)
    response = client.get("/accounts/sign-in/enrol/")
    _assert_sent_to(response, "/accounts/sign-in/verify/", "enrol")


def undeclared_view(request):
    return HttpResponse("secret")


urlpatterns = [path("undeclared/", undeclared_view), *portal_urls.urlpatterns]


@pytest.mark.urls("tests.portal.test_urlconf")
def test_it_refuses_a_view_that_declares_no_policy(client, alice):
    sign_in_fully(client, alice)
    response = client.get("/undeclared/")
    assert response.status_code == 403
    assert b"secret" not in response.content

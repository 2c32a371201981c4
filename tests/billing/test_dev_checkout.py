"""The development hosted payment page (`make run`'s demo): off in production and unless
asked for, inside the deny-by-default URLconf when on, test cards only, and a webhook
signature that Stripe's own library accepts. The whole payment, through the real
webhook endpoint, is the browser test tests/e2e/test_billing.py."""

import importlib
import json
import time

import pytest
import stripe
from django.urls import Resolver404, clear_url_caches, resolve

from billing import gateway
from billing.devcheckout import hosted
from billing.models import LedgerEntry
from portal.access import PATIENT_SIDE_ROLES, Policy, view_policy
from tests.billing.conftest import WEBHOOK_SECRET
from tests.conftest import sign_in_fully
from tests.portal.test_settings import production_env, run
from tests.portal.test_urlconf import PUBLIC
from tests.urlwalk import walk

SHOW = "import django; django.setup(); from django.conf import settings; print({})"


def test_it_is_never_on_in_production_whatever_the_environment_says(tmp_path):
    env = production_env(tmp_path) | {
        "BILLING_DEV_CHECKOUT": "1",
        "STRIPE_API_BASE": "http://127.0.0.1:8445",
        "DJANGO_SETTINGS_MODULE": "portal.settings",
    }
    shown = SHOW.format("repr(settings.BILLING_DEV_CHECKOUT), repr(settings.STRIPE_API_BASE)")
    result = run(["-c", shown], **env)
    assert result.stdout.split() == ["False", "''"], result.stderr


def test_it_is_off_in_development_without_a_local_stripe_server():
    shown = SHOW.format("settings.BILLING_DEV_CHECKOUT")
    dev = {"PORTAL_ENV": "development", "DJANGO_SETTINGS_MODULE": "portal.settings"}
    assert run(["-c", shown], **dev, BILLING_DEV_CHECKOUT="1").stdout == "False\n"
    on = run(
        ["-c", shown],
        **dev,
        BILLING_DEV_CHECKOUT="1",
        STRIPE_API_BASE="http://127.0.0.1:8445",
    )
    assert on.stdout == "True\n", on.stderr


def test_the_urlconf_has_no_hosted_page_unless_the_setting_says_so():
    with pytest.raises(Resolver404):
        resolve("/dev/checkout/cs_test_x/")


@pytest.fixture
def dev_urls(settings, localstripe):
    """portal/urls.py as it is built with BILLING_DEV_CHECKOUT on (as `make run` sets it)."""
    import portal.urls

    settings.BILLING_DEV_CHECKOUT = True
    importlib.reload(portal.urls)
    clear_url_caches()
    yield
    settings.BILLING_DEV_CHECKOUT = False
    importlib.reload(portal.urls)
    clear_url_caches()


def test_it_keeps_the_urlconf_deny_by_default_with_the_hosted_page(dev_urls):
    routes = {r.name: r for r in walk()}
    assert "dev_checkout:page" in routes
    policies = {
        name: view_policy(resolve(r.path).func, resolve(r.path).namespace)
        for name, r in routes.items()
    }
    assert [name for name, p in policies.items() if p[0] is None] == []
    assert {name for name, p in policies.items() if p[0] is Policy.PUBLIC} == PUBLIC
    policy, allowed = policies["dev_checkout:page"]
    assert policy is Policy.ROLES
    assert set(allowed) == set(PATIENT_SIDE_ROLES)


def _session(statement, alice):
    return gateway.checkout_payment(
        statement_id=str(statement.pk),
        statement_number=statement.number,
        amount=4_000,
        currency="usd",
        email=alice.email,
        success_url=f"https://testserver/patient/bills/{statement.pk}/?paid=1",
        cancel_url=f"https://testserver/patient/bills/{statement.pk}/",
        idempotency_key="checkout-test",
    )


@pytest.mark.parametrize("who", ["bill", "carol", "fran", "ada", "otto"])
def test_it_refuses_the_hosted_page_to_staff(dev_urls, client, statement, alice, who, request):
    page = _session(statement, alice)
    sign_in_fully(client, request.getfixturevalue(who))
    assert client.get(page.url.removeprefix("https://testserver")).status_code == 403


def test_it_sends_an_anonymous_visitor_to_sign_in(dev_urls, client, statement, alice):
    page = _session(statement, alice)
    answer = client.get(page.url.removeprefix("https://testserver"))
    assert answer.status_code == 302
    assert answer.url.startswith("/accounts/sign-in/")


def test_it_answers_404_for_a_session_the_local_server_does_not_have(dev_urls, client, alice):
    sign_in_fully(client, alice)
    assert client.get("/dev/checkout/cs_test_nothing/").status_code == 404
    assert client.get("/dev/checkout/pi_123/").status_code == 404


def test_it_shows_the_amount_and_takes_test_cards_only(dev_urls, client, statement, alice):
    page = _session(statement, alice)
    path = page.url.removeprefix("https://testserver")
    assert path.startswith("/dev/checkout/cs_test_")
    sign_in_fully(client, alice)
    shown = client.get(path)
    assert shown.status_code == 200
    assert b"40.00 USD" in shown.content
    assert "no-store" in shown["Cache-Control"]

    refused = client.post(path, {"card_number": "5555 5555 5555 4444"})
    assert b"test cards only" in refused.content
    declined = client.post(path, {"card_number": "4000 0000 0000 0002"})
    assert b"Your card was declined" in declined.content
    # Nothing was paid: the session is still open, nothing is on the ledger.
    assert hosted.session_get(page.session_id).open
    assert not LedgerEntry.objects.filter(kind="payment").exists()


def test_it_signs_as_stripe_does(settings):
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    payload = json.dumps({"id": "evt_1", "object": "event", "type": "x", "data": {"object": {}}})
    header = hosted.signature_header(payload.encode(), WEBHOOK_SECRET, int(time.time()))
    assert (
        stripe.Webhook.construct_event(payload, header, WEBHOOK_SECRET, tolerance=300).id == "evt_1"
    )
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(payload, header, "whsec_other", tolerance=300)


def test_it_never_sends_a_card_number_back_to_the_browser(dev_urls, client, statement, alice):
    page = _session(statement, alice)
    path = page.url.removeprefix("https://testserver")
    sign_in_fully(client, alice)
    refused = client.post(path, {"card_number": "5555 5555 5555 4444"})
    assert b"test cards only" in refused.content
    assert b"5555" not in refused.content

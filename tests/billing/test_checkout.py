"""Paying: the Checkout Session's parameters as they leave for Stripe, one session per
double click, amounts within the rules, and nothing clinical on the wire.

localstripe has no Checkout Sessions, so these run against a local recorder standing in
for api.stripe.com: they prove what the stripe library sends, not what Stripe does."""

import pytest
from django.http import Http404

from audit.actions import Action
from billing.models import CheckoutAttempt
from billing.services import BillingRefused, checkout_start
from tests.audit_helpers import events
from tests.billing.conftest import CLINICAL
from tests.conftest import sign_in_fully


def start(actor, statement, amount, **extra):
    return checkout_start(
        actor=actor,
        patient_id=actor.patient_id,
        statement_id=statement.pk,
        amount=amount,
        success_url="https://portal.test/ok",
        cancel_url="https://portal.test/back",
        **extra,
    )


def test_it_sends_stripe_the_amount_currency_statement_and_email_only(recorder, statement, alice):
    url = start(alice, statement, 10_000)
    (sent,) = recorder.requests
    assert sent["path"] == "/v1/checkout/sessions"
    form = sent["form"]
    assert form["mode"] == "payment"
    assert form["line_items[0][price_data][unit_amount]"] == "10000"
    assert form["line_items[0][price_data][currency]"] == "usd"
    assert form["line_items[0][price_data][product_data][name]"] == f"Statement {statement.number}"
    assert form["metadata[statement_id]"] == str(statement.pk)
    assert form["payment_intent_data[metadata][statement_id]"] == str(statement.pk)
    assert form["customer_email"] == alice.email
    assert form["payment_intent_data[receipt_email]"] == alice.email
    assert sent["headers"]["Idempotency-Key"].startswith("checkout-")
    for word in CLINICAL:
        assert word.lower() not in sent["body"].lower()
    assert url == "https://checkout.stripe.test/c/pay/cs_test_0"
    (started,) = events(Action.BILL_CHECKOUT)
    assert started.patient_id == alice.patient_id


def test_it_opens_one_session_for_a_double_click(recorder, statement, alice):
    first = start(alice, statement, 25_000)
    second = start(alice, statement, 25_000)
    assert first == second
    assert len(recorder.requests) == 1
    assert CheckoutAttempt.objects.count() == 1


@pytest.mark.parametrize(
    ("amount", "message"),
    [(25_001, "more than the balance"), (499, "smallest payment"), (0, "smallest payment")],
)
def test_it_refuses_an_overpayment_or_too_small_a_payment(
    recorder, statement, alice, amount, message
):
    with pytest.raises(BillingRefused, match=message):
        start(alice, statement, amount)
    assert recorder.requests == []


def test_it_refuses_to_start_paying_another_patients_statement(recorder, statement, mallory):
    with pytest.raises(Http404):
        start(mallory, statement, 10_000)
    assert recorder.requests == []
    assert not CheckoutAttempt.objects.exists()


def test_it_redirects_the_pay_button_to_checkout(client, recorder, statement, alice):
    sign_in_fully(client, alice)
    response = client.post(
        f"/patient/bills/{statement.pk}/", {"choice": "other", "amount": "40.00"}
    )
    assert response.status_code == 302
    assert response["Location"].startswith("https://checkout.stripe.test/")
    assert recorder.requests[0]["form"]["line_items[0][price_data][unit_amount]"] == "4000"


def test_it_re_renders_the_pay_form_with_its_error_and_input(client, recorder, statement, alice):
    sign_in_fully(client, alice)
    response = client.post(
        f"/patient/bills/{statement.pk}/", {"choice": "other", "amount": "900.00"}
    )
    assert response.status_code == 200
    assert b"more than the balance" in response.content
    assert b'value="900.00"' in response.content
    assert recorder.requests == []


def test_it_says_when_online_payment_is_off(client, settings, statement, alice):
    settings.STRIPE_SECRET_KEY = ""
    sign_in_fully(client, alice)
    response = client.get(f"/patient/bills/{statement.pk}/")
    assert b"Online payment is not available" in response.content

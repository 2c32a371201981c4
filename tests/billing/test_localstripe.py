"""The PaymentIntent, refund, customer and SetupIntent paths against a real local
Stripe-compatible server (localstripe), and the webhook fed with what it returned."""

import json

import pytest
import stripe

from audit.actions import Action
from billing import gateway
from billing.models import LedgerEntry
from billing.services import BillingRefused, refund_issue, statement_balance
from tests.audit_helpers import events
from tests.billing.conftest import CLINICAL, event


def pay_on_stripe(statement, amount):
    """What Checkout does on Stripe's side: a PaymentIntent with the statement's metadata,
    confirmed with a test card."""
    intent = gateway.client().v1.payment_intents.create(
        {
            "amount": amount,
            "currency": statement.currency,
            "payment_method": "pm_card_visa",
            "confirm": True,
            "metadata": {"statement_id": str(statement.pk)},
        }
    )
    assert intent.status == "succeeded"
    body = intent.to_dict()
    body["amount_received"] = body.get("amount_received") or amount  # localstripe leaves it out
    return body


def test_it_posts_a_real_payment_intent_delivered_by_webhook(localstripe, deliver, statement):
    intent = pay_on_stripe(statement, 10_000)
    assert deliver(event("payment_intent.succeeded", intent)).status_code == 200
    assert statement_balance(statement) == 15_000


def test_it_refunds_through_stripe_with_a_reason_and_posts_it_once(
    localstripe, deliver, statement, bill, alice
):
    intent = pay_on_stripe(statement, 10_000)
    deliver(event("payment_intent.succeeded", intent))
    payment = LedgerEntry.objects.get(kind="payment")
    refund = refund_issue(
        actor=bill,
        patient_id=alice.patient_id,
        payment_id=payment.pk,
        amount=4_000,
        reason="Billed twice for the MRI",
    )
    assert refund.stripe_id.startswith("re_")
    on_stripe = gateway.client().v1.refunds.retrieve(refund.stripe_id)
    assert (on_stripe.amount, on_stripe.payment_intent) == (4_000, intent["id"])
    assert "MRI" not in json.dumps(on_stripe.to_dict())
    # Stripe's own event for the same refund changes nothing.
    deliver(event("refund.created", on_stripe.to_dict()))
    assert statement_balance(statement) == 19_000
    assert len(events(Action.BILL_REFUND)) == 1
    assert LedgerEntry.objects.get(kind="refund").reason == "Billed twice for the MRI"


def test_it_refuses_to_refund_more_than_was_paid(localstripe, deliver, statement, bill, alice):
    deliver(event("payment_intent.succeeded", pay_on_stripe(statement, 10_000)))
    payment = LedgerEntry.objects.get(kind="payment")
    with pytest.raises(BillingRefused, match="at most"):
        refund_issue(
            actor=bill,
            patient_id=alice.patient_id,
            payment_id=payment.pk,
            amount=10_001,
            reason="x",
        )
    assert not LedgerEntry.objects.filter(kind="refund").exists()


def test_it_fetches_the_statement_of_a_dispute_that_comes_first(localstripe, deliver, statement):
    intent = pay_on_stripe(statement, 10_000)
    dispute = {"id": "dp_1", "object": "dispute", "amount": 10_000, "payment_intent": intent["id"]}
    deliver(event("charge.dispute.created", dispute))
    (posted,) = LedgerEntry.objects.filter(kind="dispute")
    assert posted.statement_id == statement.pk


def test_it_saves_a_card_and_charges_it_off_session(localstripe):
    """The payment-plan path Stripe offers (no plan is built yet): a customer, a card saved
    with a SetupIntent, an off-session charge with an idempotency key."""
    client = gateway.client()
    customer = client.v1.customers.create({"email": "alice@example.org"})
    setup = client.v1.setup_intents.create({"customer": customer.id, "usage": "off_session"})
    confirmed = client.v1.setup_intents.confirm(setup.id, {"payment_method": "pm_card_visa"})
    assert confirmed.status == "succeeded"
    client.v1.payment_methods.attach("pm_card_visa", {"customer": customer.id})
    charge = client.v1.payment_intents.create(
        {
            "amount": 2_500,
            "currency": "usd",
            "customer": customer.id,
            "payment_method": "pm_card_visa",
            "off_session": True,
            "confirm": True,
            "metadata": {"statement_id": "s-1"},
        },
        {"idempotency_key": "plan-1-installment-1"},
    )
    assert charge.status == "succeeded"


def test_it_sends_nothing_clinical_to_stripe(localstripe, statement):
    intent = pay_on_stripe(statement, 10_000)
    for word in CLINICAL:
        assert word.lower() not in json.dumps(intent).lower()


def test_it_turns_stripe_errors_into_one_exception(localstripe, settings):
    settings.STRIPE_SECRET_KEY = "sk_test_x"
    with pytest.raises(gateway.PaymentsUnavailable):
        gateway.payment_intent_metadata("pi_missing")
    assert isinstance(stripe.StripeError("x"), Exception)
    assert settings.STRIPE_API_BASE.startswith("http://127.0.0.1:")


def test_it_reconciles_the_ledger_with_stripe_and_finds_a_planted_difference(
    localstripe, deliver, statement, capsys
):
    from django.core.management import CommandError, call_command

    from billing.services import ledger_post

    since = "2020-01-01"
    existing = gateway.movements_since(0)[0]  # the shared server's earlier tests
    for m in existing:  # not this test's business: post them so they agree
        ledger_post(statement=statement, kind="payment", amount=-m.amount, stripe_id=m.stripe_id)
    refunds = gateway.movements_since(0)[1]
    for r in refunds:
        ledger_post(statement=statement, kind="refund", amount=r.amount, stripe_id=r.stripe_id)
    intent = pay_on_stripe(statement, 10_000)
    deliver(event("payment_intent.succeeded", intent))
    call_command("billing_reconcile", "--since", since)
    assert "agree" in capsys.readouterr().out

    # Planted: a payment Stripe never saw, and one Stripe took that the ledger lacks.
    ledger_post(statement=statement, kind="payment", amount=-500, stripe_id="pi_planted")
    missing = pay_on_stripe(statement, 700)
    with pytest.raises(CommandError, match="2 differences"):
        call_command("billing_reconcile", "--since", since)
    out = capsys.readouterr().out
    assert "payment pi_planted: 500 in the ledger, not at Stripe" in out
    assert f"payment {missing['id']}: 700 at Stripe, not in the ledger" in out


def test_it_asks_billing_to_confirm_it_is_them_before_a_large_refund(
    localstripe, deliver, statement, bill, alice, client
):
    import time as clock

    from accounts.session_store import REAUTH_AT
    from tests.conftest import sign_in_fully

    deliver(event("payment_intent.succeeded", pay_on_stripe(statement, 20_000)))
    payment = LedgerEntry.objects.get(kind="payment")
    sign_in_fully(client, bill)
    url = (
        f"/staff/billing/patients/{alice.patient_id}/statements/{statement.pk}/refund/{payment.pk}/"
    )
    asked = client.post(url, {"amount": "150.00", "reason": "Overcharged"})
    assert asked["Location"].startswith("/accounts/security/confirm/")
    assert not LedgerEntry.objects.filter(kind="refund").exists()
    small = client.post(url, {"amount": "50.00", "reason": "Overcharged"})
    assert small.status_code == 302
    session = client.session
    session[REAUTH_AT] = clock.time()
    session.save()
    client.post(url, {"amount": "150.00", "reason": "Overcharged"})
    assert statement_balance(statement) == 25_000 - 20_000 + 5_000 + 15_000
    assert len(events(Action.BILL_REFUND)) == 2

"""Payment plans: the card saved through Checkout in setup mode (parameters checked on
the wire), installments charged off-session against localstripe month by month, a
decline retried, and a plan in default flagged."""

import datetime as dt

import pytest
import time_machine

from audit.actions import Action
from billing import gateway
from billing.models import Installment, LedgerEntry, PaymentPlan
from billing.plans import add_months, installments_charge, plan_start
from billing.services import BillingRefused, statement_balance
from tests.audit_helpers import events
from tests.billing.conftest import CLINICAL, event

START = dt.datetime(2027, 1, 15, 15, 0, tzinfo=dt.UTC)


def start(actor, statement, monthly):
    return plan_start(
        actor=actor,
        patient_id=actor.patient_id,
        statement_id=statement.pk,
        monthly_amount=monthly,
        success_url="https://portal.test/ok",
        cancel_url="https://portal.test/back",
    )


def test_it_opens_checkout_in_setup_mode_with_nothing_clinical(recorder, statement, alice):
    url = start(alice, statement, 10_000)
    customer, setup = recorder.requests
    assert customer["path"] == "/v1/customers"
    assert setup["path"] == "/v1/checkout/sessions"
    form = setup["form"]
    assert form["mode"] == "setup"
    assert form["customer"] == "cs_test_0"  # the recorder's answer to the customer
    assert form["metadata[statement_id]"] == str(statement.pk)
    assert setup["headers"]["Idempotency-Key"].endswith("-setup")
    for word in CLINICAL:
        assert word.lower() not in (customer["body"] + setup["body"]).lower()
    assert start(alice, statement, 10_000) == url  # a second click: the same page
    assert PaymentPlan.objects.count() == 1


@pytest.mark.parametrize(("monthly", "message"), [(2_000, "smallest monthly"), (2_500, None)])
def test_it_keeps_plans_within_the_clinics_rules(
    recorder, settings, statement, alice, monthly, message
):
    settings.BILLING_PLAN_MAX_MONTHS = 12
    if message:
        with pytest.raises(BillingRefused, match=message):
            start(alice, statement, monthly)
    else:
        start(alice, statement, monthly)


def test_it_refuses_a_plan_longer_than_the_clinic_allows(recorder, settings, statement, alice):
    settings.BILLING_PLAN_MAX_MONTHS = 3
    with pytest.raises(BillingRefused, match=r"at least 83\.34 USD a month"):
        start(alice, statement, 5_000)
    assert recorder.requests == []


def test_it_adds_months_to_the_last_day_when_shorter():
    assert add_months(dt.date(2027, 1, 31), 1) == dt.date(2027, 2, 28)
    assert add_months(dt.date(2027, 11, 15), 3) == dt.date(2028, 2, 15)


DECLINES = "pm_card_chargeCustomerFail"  # saved fine, declined when charged


def _plan_on_localstripe(statement, alice, card="pm_card_visa"):
    """What Checkout in setup mode leaves behind: a customer and a SetupIntent with a card."""
    api = gateway.client().v1
    customer = api.customers.create({"email": alice.email})
    setup = api.setup_intents.create({"customer": customer.id, "usage": "off_session"})
    api.setup_intents.confirm(setup.id, {"payment_method": card})
    api.payment_methods.attach(card, {"customer": customer.id})
    api.payment_methods.attach(DECLINES, {"customer": customer.id})
    plan = PaymentPlan.objects.create(
        statement=statement,
        patient=alice.patient,
        monthly_amount=10_000,
        currency="usd",
        setup_session_id=f"cs_setup_{setup.id}",
        setup_url="https://checkout.stripe.test/setup",
        customer_id=customer.id,
        created_by=alice,
    )
    completed = {
        "id": plan.setup_session_id,
        "object": "checkout.session",
        "mode": "setup",
        "setup_intent": setup.id,
        "metadata": {"statement_id": str(statement.pk)},
    }
    return plan, completed


def test_it_charges_a_plan_monthly_retries_a_decline_and_completes(
    localstripe, deliver, statement, alice, mailoutbox
):
    with time_machine.travel(START, tick=False):
        plan, completed = _plan_on_localstripe(statement, alice)
        deliver(event("checkout.session.completed", completed))
        plan.refresh_from_db()
        assert plan.status == "active"
        assert plan.payment_method_id
        assert [(i.amount, i.due_on) for i in plan.installments.all()] == [
            (10_000, dt.date(2027, 1, 15)),
            (10_000, dt.date(2027, 2, 15)),
            (5_000, dt.date(2027, 3, 15)),
        ]
        assert installments_charge() == 1
        assert installments_charge() == 0  # nothing else is due today
        assert statement_balance(statement) == 15_000

    # February: the card is declined once, then the retry two days later goes through.
    with time_machine.travel(START.replace(month=2), tick=False):
        good = plan.payment_method_id
        PaymentPlan.objects.filter(pk=plan.pk).update(payment_method_id=DECLINES)
        assert installments_charge() == 1
        second = Installment.objects.get(plan=plan, number=2)
        assert (second.status, second.tries, second.next_try_on) == ("due", 1, dt.date(2027, 2, 17))
        assert statement_balance(statement) == 15_000
        assert len(events(Action.BILL_INSTALLMENT_FAILED)) == 1
    with time_machine.travel(START.replace(month=2, day=17), tick=False):
        PaymentPlan.objects.filter(pk=plan.pk).update(payment_method_id=good)
        assert installments_charge() == 1
        assert statement_balance(statement) == 5_000

    with time_machine.travel(START.replace(month=3), tick=False):
        assert installments_charge() == 1
    plan.refresh_from_db()
    assert plan.status == "completed"
    assert statement_balance(statement) == 0
    assert LedgerEntry.objects.filter(kind="payment").count() == 3


def test_it_puts_a_plan_in_default_after_the_last_try_and_flags_it(
    localstripe, deliver, statement, alice, client, bill
):
    from tests.conftest import sign_in_fully

    with time_machine.travel(START, tick=False):
        plan, completed = _plan_on_localstripe(statement, alice)
        deliver(event("checkout.session.completed", completed))
        PaymentPlan.objects.filter(pk=plan.pk).update(payment_method_id=DECLINES)
    for day in (15, 17, 22):
        with time_machine.travel(START.replace(day=day), tick=False):
            assert installments_charge() == 1
    plan.refresh_from_db()
    assert plan.status == "default"
    first = plan.installments.get(number=1)
    assert (first.status, first.tries) == ("failed", 3)
    sign_in_fully(client, bill)
    page = client.get(f"/staff/billing/patients/{alice.patient_id}/")
    assert b"payment plan in default" in page.content

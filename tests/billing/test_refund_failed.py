"""A refund that fails after it was made (Stripe: status "failed") is taken back off the
balance by one new reversing entry: never an edit, audited, idempotent under replay and
under Stripe's several events for it, in either order, shown to billing staff, and its
money refundable again."""

import pytest

from audit.actions import Action
from billing import gateway
from billing.models import LedgerEntry, WebhookEvent
from billing.services import refund_issue, statement_balance
from tests.audit_helpers import events
from tests.billing.conftest import event
from tests.billing.test_localstripe import pay_on_stripe
from tests.conftest import sign_in_fully


def failed(refund: dict) -> dict:
    """Stripe's Refund after the card network returned it."""
    return {**refund, "status": "failed", "failure_reason": "expired_or_canceled_card"}


@pytest.fixture
def refunded(localstripe, deliver, statement, bill, alice):
    """Alice paid 100.00 of her 250.00, and billing refunded 40.00 of it through Stripe."""
    deliver(event("payment_intent.succeeded", pay_on_stripe(statement, 10_000)))
    payment = LedgerEntry.objects.get(kind="payment")
    entry = refund_issue(
        actor=bill, patient_id=alice.patient_id, payment_id=payment.pk, amount=4_000, reason="x"
    )
    assert statement_balance(statement) == 19_000
    return gateway.client().v1.refunds.retrieve(entry.stripe_id).to_dict()


def test_it_reverses_a_failed_refund_with_a_new_audited_entry(deliver, statement, refunded):
    refund_entry = LedgerEntry.objects.get(kind="refund")
    assert deliver(event("refund.updated", failed(refunded))).status_code == 200

    reversal = LedgerEntry.objects.get(kind="reversal")
    assert (reversal.amount, reversal.stripe_id) == (-4_000, refunded["id"])
    assert reversal.payment_intent == refund_entry.payment_intent
    assert reversal.reason == "The refund failed at Stripe (expired_or_canceled_card)."
    assert statement_balance(statement) == 15_000  # as before the refund
    # The refund's own entry is untouched (the ledger is append-only).
    refund_entry.refresh_from_db()
    assert (refund_entry.kind, refund_entry.amount) == ("refund", 4_000)
    (audited,) = events(Action.BILL_ADJUSTMENT)
    assert (audited.object_type, audited.object_id) == ("LedgerEntry", str(reversal.pk))
    assert str(audited.patient_id) == str(statement.patient_id)


def test_it_reverses_once_whatever_stripe_sends_again(deliver, statement, refunded):
    replayed = event("refund.updated", failed(refunded))
    deliver(replayed)
    deliver(replayed)  # the same event again
    deliver(event("refund.failed", failed(refunded)))  # Stripe's other events for it
    deliver(event("charge.refund.updated", failed(refunded)))
    deliver(
        event(
            "charge.refunded",
            {"payment_intent": refunded["payment_intent"], "refunds": {"data": [failed(refunded)]}},
        )
    )
    assert LedgerEntry.objects.filter(kind="reversal").count() == 1
    assert len(events(Action.BILL_ADJUSTMENT)) == 1
    assert statement_balance(statement) == 15_000
    assert WebhookEvent.objects.filter(type="refund.updated").count() == 1


def test_it_posts_the_refund_and_its_reversal_when_the_failure_comes_first(
    localstripe, deliver, statement
):
    """A refund made on Stripe's dashboard: its failure may overtake its creation."""
    intent = pay_on_stripe(statement, 10_000)
    deliver(event("payment_intent.succeeded", intent))
    refund = gateway.client().v1.refunds.create({"payment_intent": intent["id"], "amount": 2_500})
    deliver(event("refund.failed", failed(refund.to_dict())))
    assert sorted(
        LedgerEntry.objects.filter(kind__in=["refund", "reversal"]).values_list("kind", "amount")
    ) == [("refund", 2_500), ("reversal", -2_500)]
    deliver(event("refund.created", {**refund.to_dict(), "status": "pending"}))  # late
    assert LedgerEntry.objects.filter(kind="refund").count() == 1
    assert statement_balance(statement) == 15_000


def test_it_ignores_a_failed_refund_of_no_statement_of_ours(stripe_on, deliver, statement):
    lost = {
        "id": "re_x",
        "object": "refund",
        "amount": 100,
        "status": "failed",
        "metadata": {"statement_id": "not-a-uuid"},
        "payment_intent": "",
    }
    assert deliver(event("refund.failed", lost)).status_code == 200
    assert not LedgerEntry.objects.filter(kind__in=["refund", "reversal"]).exists()


def test_it_shows_billing_the_reversal_and_lets_them_refund_that_money_again(
    deliver, statement, refunded, bill, alice, client
):
    deliver(event("refund.updated", failed(refunded)))
    sign_in_fully(client, bill)
    page = client.get(f"/staff/billing/patients/{alice.patient_id}/statements/{statement.pk}/")
    assert b"Failed refund reversed" in page.content
    assert b"expired_or_canceled_card" in page.content

    # The full 100.00 is refundable again, and a new refund is a new one at Stripe (a new
    # idempotency key), not the failed one handed back.
    payment = LedgerEntry.objects.get(kind="payment")
    again = refund_issue(
        actor=bill, patient_id=alice.patient_id, payment_id=payment.pk, amount=10_000, reason="y"
    )
    assert again.stripe_id != refunded["id"]
    assert statement_balance(statement) == 25_000


def test_it_shows_the_patient_the_reversal_without_the_reason(
    deliver, statement, refunded, alice, client
):
    deliver(event("refund.updated", failed(refunded)))
    sign_in_fully(client, alice)
    page = client.get(f"/patient/bills/{statement.pk}/")
    assert b"Failed refund reversed" in page.content
    assert b"expired_or_canceled_card" not in page.content
    assert b"150.00 USD" in page.content


def test_it_asks_stripe_for_a_new_refund_after_a_failed_one_not_the_same_again(
    recorder, deliver, statement, bill, alice
):
    """Stripe hands back the first answer for a repeated idempotency key: the same refund
    asked again after its failure must carry a new key (read on the wire)."""
    from django.db import transaction

    from billing.services import ledger_post

    with transaction.atomic():
        payment = ledger_post(statement=statement, kind="payment", amount=-10_000, stripe_id="pi_1")
    ask = {"actor": bill, "patient_id": alice.patient_id, "payment_id": payment.pk}
    first = refund_issue(**ask, amount=4_000, reason="x")
    refund = {
        "id": first.stripe_id,
        "object": "refund",
        "amount": 4_000,
        "payment_intent": "pi_1",
        "metadata": {"statement_id": str(statement.pk)},
    }
    deliver(event("refund.updated", failed(refund)))
    refund_issue(**ask, amount=4_000, reason="x")
    keys = [r["headers"]["Idempotency-Key"] for r in recorder.requests]
    assert len(keys) == 2
    assert keys[0] != keys[1]

"""Alice sees a statement, pays part of it, and after Stripe's signed webhook sees the new
balance and her receipt, in a real browser.

The first test: a local stand-in for api.stripe.com answers the Checkout Session exactly
as Stripe would and serves a page in its place; the test sends the webhook. The second is
`make run`'s demo: localstripe with its Checkout Sessions (scripts/localstripe_serve.py),
the development hosted page (billing/devcheckout) and its own signed webhook."""

import json
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from playwright.sync_api import expect

from billing.models import CheckoutAttempt, LedgerEntry, Statement, WebhookEvent
from tests.billing.conftest import WEBHOOK_SECRET, event, items, localstripe_running, signature

pytestmark = pytest.mark.usefixtures("committed")


@pytest.fixture
def stripe_stand_in():
    sessions: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
            form = dict(parse_qsl(body))
            number = len(sessions)
            base = f"http://127.0.0.1:{self.server.server_address[1]}"
            answer = {
                "id": f"cs_test_{number}",
                "object": "checkout.session",
                "url": f"{base}/pay/cs_test_{number}",
            }
            sessions.append(form)
            self._send(200, "application/json", json.dumps(answer).encode())

        def do_GET(self) -> None:
            page = b"<!doctype html><title>Test checkout</title><h1>Test checkout</h1>"
            self._send(200, "text/html", page)

        def _send(self, status: int, kind: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", sessions
    server.shutdown()
    server.server_close()


def test_alice_pays_part_of_a_statement_and_sees_the_new_balance_and_a_receipt(
    open_portal, alice, bill, stripe_stand_in, portal_cert
):
    from billing.services import statement_issue

    stand_in, sessions = stripe_stand_in
    statement = statement_issue(
        actor=bill,
        patient_id=alice.patient_id,
        number="DEMO-1",
        due_on=items()[0].service_date.replace(year=2027),
        items=items(),
    )
    portal = open_portal(
        env={
            "STRIPE_SECRET_KEY": "sk_test_e2e",
            "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "STRIPE_API_BASE": stand_in,
            "STRIPE_CHECKOUT_ORIGIN": stand_in,
        }
    )
    page = portal.page
    portal.sign_in_fully(alice)
    expect(page.locator("#home-balance")).to_contain_text("250.00 USD")
    page.get_by_role("link", name="Bills").click()
    portal.wait_for("/patient/bills/")
    page.get_by_role("link", name="DEMO-1").click()
    expect(page.get_by_text("MRI knee", exact=False)).to_be_visible()

    page.get_by_label("Another amount").check()
    page.get_by_label("Amount", exact=True).fill("900.00")
    page.get_by_role("button", name="Pay", exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text("more than the balance")
    expect(page.get_by_label("Amount", exact=True)).to_have_value("900.00")

    page.get_by_label("Amount", exact=True).fill("40.00")
    page.get_by_role("button", name="Pay", exact=True).click()
    expect(page.get_by_role("heading", name="Test checkout")).to_be_visible()
    (sent,) = sessions
    assert sent["line_items[0][price_data][unit_amount]"] == "4000"
    assert "MRI" not in json.dumps(sent)

    # Stripe tells the portal, signed, that the payment went through.
    paid = {
        "id": "cs_test_0",
        "object": "checkout.session",
        "mode": "payment",
        "payment_status": "paid",
        "amount_total": 4000,
        "currency": "usd",
        "payment_intent": "pi_e2e",
        "metadata": {"statement_id": str(statement.pk)},
    }
    payload = event("checkout.session.completed", paid)
    answer = httpx.post(
        portal.url + "/billing/stripe/webhook",
        content=payload,
        headers={"Stripe-Signature": signature(payload), "Content-Type": "application/json"},
        verify=ssl.create_default_context(cafile=str(portal_cert)),
    )
    assert answer.status_code == 200

    portal.goto(f"/patient/bills/{statement.pk}/?paid=1")
    expect(page.locator("#statement-balance")).to_have_text("210.00 USD")
    page.get_by_role("link", name="Receipt").first.click()
    expect(page.locator("#receipt-amount")).to_have_text("40.00 USD")
    assert LedgerEntry.objects.filter(kind="payment").count() == 1


@pytest.fixture(scope="module")
def local_stripe():
    with localstripe_running() as url:
        yield url


def test_alice_pays_her_demo_bill_on_the_development_payment_page_end_to_end(
    open_portal, alice, local_stripe
):
    """`make run`'s demo: localstripe with its Checkout Sessions, the development hosted
    page, the signed webhook to the real endpoint, and back to the new balance."""
    from billing.demo import demo_statements_load

    demo_statements_load()
    statement = Statement.objects.get(number="DEMO-ALICE-1")
    portal = open_portal(
        env={
            "STRIPE_SECRET_KEY": "sk_test_demo",
            "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "STRIPE_API_BASE": local_stripe,
            "BILLING_DEV_CHECKOUT": "1",
        }
    )
    page = portal.page
    portal.sign_in_fully(alice)
    expect(page.locator("#home-balance")).to_contain_text("75.00 USD")
    page.get_by_role("link", name="Bills").click()
    page.get_by_role("link", name="DEMO-ALICE-1").click()
    page.get_by_label("Another amount").check()
    page.get_by_label("Amount", exact=True).fill("40.00")
    page.get_by_role("button", name="Pay", exact=True).click()

    # The development hosted page, on the portal's own origin.
    expect(page.get_by_role("heading", name="Test payment page")).to_be_visible()
    hosted_page = urlsplit(page.url).path
    assert hosted_page.startswith("/dev/checkout/cs_test_")
    expect(page.locator("#checkout-amount")).to_have_text("40.00 USD")
    card = page.get_by_label("Card number")
    card.fill("5555 5555 5555 4444")  # a real-looking number: refused, nothing sent
    page.get_by_role("button", name="Pay 40.00 USD").click()
    expect(page.get_by_text("This demo page takes Stripe's test cards only")).to_be_visible()
    card.fill("4000 0000 0000 0002")
    page.get_by_role("button", name="Pay 40.00 USD").click()
    expect(page.get_by_text("Your card was declined")).to_be_visible()
    assert not LedgerEntry.objects.filter(kind="payment").exists()

    card.fill("4242 4242 4242 4242")
    page.get_by_role("button", name="Pay 40.00 USD").click()
    portal.wait_for(f"/patient/bills/{statement.pk}/", paid="1")
    expect(page.locator("#statement-balance")).to_have_text("35.00 USD")
    page.get_by_role("link", name="Receipt").first.click()
    expect(page.locator("#receipt-amount")).to_have_text("40.00 USD")

    # The signed webhook reached the real endpoint: one event, one payment of the
    # PaymentIntent localstripe made, the attempt paid.
    (payment,) = LedgerEntry.objects.filter(kind="payment")
    assert payment.stripe_id.startswith("pi_")
    assert payment.amount == -4000
    assert WebhookEvent.objects.filter(type="checkout.session.completed").count() == 1
    assert CheckoutAttempt.objects.get(statement=statement).status == "paid"
    intent = httpx.get(
        f"{local_stripe}/v1/payment_intents/{payment.stripe_id}",
        headers={"Authorization": "Bearer sk_test_demo"},
    ).json()
    assert (intent["status"], intent["amount"]) == ("succeeded", 4000)

    # Back on the used page: nothing can be paid twice.
    portal.goto(hosted_page)
    expect(page.get_by_text("This payment page has been used")).to_be_visible()


def test_mallory_saves_a_card_for_a_payment_plan_on_the_development_page(
    open_portal, mallory, local_stripe
):
    """Setup mode on the same page: the card is saved on localstripe, the signed webhook
    activates the plan, and its first installment is laid out."""
    from billing.demo import demo_statements_load
    from billing.models import PaymentPlan

    demo_statements_load()
    statement = Statement.objects.get(number="DEMO-MALLORY-1")
    portal = open_portal(
        env={
            "STRIPE_SECRET_KEY": "sk_test_demo",
            "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "STRIPE_API_BASE": local_stripe,
            "BILLING_DEV_CHECKOUT": "1",
        }
    )
    page = portal.page
    portal.sign_in_fully(mallory)
    portal.goto(f"/patient/bills/{statement.pk}/")
    page.get_by_label("Monthly payment").fill("25.00")
    page.get_by_role("button", name="Set up a payment plan").click()
    expect(page.get_by_role("heading", name="Test payment page")).to_be_visible()
    card = page.get_by_label("Card number")
    card.fill("4000000000000002")
    page.get_by_role("button", name="Save card").click()
    expect(page.get_by_text("Your card was declined")).to_be_visible()
    card.fill("4242424242424242")
    page.get_by_role("button", name="Save card").click()
    portal.wait_for(f"/patient/bills/{statement.pk}/", plan="1")
    expect(page.get_by_role("heading", name="Payment plan (active)")).to_be_visible()
    plan = PaymentPlan.objects.get(statement=statement)
    assert plan.status == "active"
    assert plan.payment_method_id.startswith("pm_")
    assert [i.amount for i in plan.installments.all()] == [2_500, 1_500]
    card_on_stripe = httpx.get(
        f"{local_stripe}/v1/payment_methods/{plan.payment_method_id}",
        headers={"Authorization": "Bearer sk_test_demo"},
    ).json()
    assert card_on_stripe["customer"] == plan.customer_id

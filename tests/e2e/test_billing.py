"""Alice sees a statement, pays part of it as far as Checkout, and after Stripe's signed
webhook sees the new balance and her receipt, in a real browser.

Checkout's hosted page is Stripe's: here a local stand-in for api.stripe.com answers the
Checkout Session and serves a page in its place (localstripe has no Checkout)."""

import json
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl

import httpx
import pytest
from playwright.sync_api import expect

from billing.models import LedgerEntry
from tests.billing.conftest import WEBHOOK_SECRET, event, items, signature

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

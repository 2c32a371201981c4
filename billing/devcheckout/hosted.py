"""What Stripe's hosted Checkout page does, played against the local Stripe server.

- Show the session (amount, currency, what it is for) read from the local server.
- Take a Stripe test card number, and only those: 4242 4242 4242 4242 succeeds,
  4000 0000 0000 0002 is declined. Any other number is refused before anything is
  sent anywhere, so a real card typed into the demo goes nowhere. The number is never
  logged or stored; only Stripe's test PaymentMethod id leaves this module.
- Confirm the session on the local server (a PaymentIntent, or a SetupIntent and the
  saved card in setup mode).
- Deliver ``checkout.session.completed``, signed with the endpoint secret exactly as
  Stripe signs (``t=<unix time>,v1=<HMAC-SHA256 of "t.body">``), to the portal's real
  webhook URL over its TLS front, and let the caller send the browser on.
"""

import hashlib
import hmac
import json
import logging
import secrets
import ssl
import time
from dataclasses import dataclass
from typing import Any

import httpx
from django.conf import settings
from django.http import Http404

logger = logging.getLogger(__name__)

# Stripe's test card numbers and the test PaymentMethods that stand for them.
TEST_CARDS = {
    "4242424242424242": "pm_card_visa",
    "4000000000000002": "pm_card_visa_chargeDeclined",
}


class CardDeclined(Exception):
    """The local server declined the card."""


class DevCheckoutFailed(Exception):
    """The local server or the portal's webhook did not answer as it should."""


@dataclass(frozen=True)
class Session:
    id: str
    mode: str
    open: bool
    amount: int
    currency: str
    description: str
    success_url: str
    cancel_url: str
    data: dict[str, Any]


def _api(method: str, path: str, form: dict[str, str] | None = None) -> httpx.Response:
    try:
        return httpx.request(
            method,
            settings.STRIPE_API_BASE.rstrip("/") + path,
            data=form,
            headers={"Authorization": f"Bearer {settings.STRIPE_SECRET_KEY}"},
            timeout=10,
        )
    except httpx.HTTPError as error:
        raise DevCheckoutFailed(type(error).__name__) from error


def _session(data: dict[str, Any]) -> Session:
    items = (data.get("line_items") or {}).get("data") or []
    return Session(
        id=str(data["id"]),
        mode=str(data.get("mode")),
        open=data.get("status") == "open",
        amount=int(data.get("amount_total") or 0),
        currency=str(data.get("currency") or ""),
        description=str(items[0].get("description") or "") if items else "",
        success_url=str(data.get("success_url") or ""),
        cancel_url=str(data.get("cancel_url") or ""),
        data=data,
    )


def session_get(session_id: str) -> Session:
    """The session, or 404 when the local server has no such session."""
    if not session_id.startswith("cs_") or not session_id.isascii():
        raise Http404("No such payment page.")
    answer = _api("GET", f"/v1/checkout/sessions/{session_id}")
    if answer.status_code == 404:
        raise Http404("No such payment page.")
    if answer.status_code != 200:
        raise DevCheckoutFailed(f"local Stripe answered {answer.status_code}")
    return _session(answer.json())


def session_pay(session: Session, card_number: str) -> Session:
    """Confirm the session with a test card; the completed session."""
    payment_method = TEST_CARDS[card_number]
    answer = _api(
        "POST", f"/v1/checkout/sessions/{session.id}/confirm", {"payment_method": payment_method}
    )
    if answer.status_code == 402:
        raise CardDeclined
    if answer.status_code != 200:
        raise DevCheckoutFailed(f"local Stripe answered {answer.status_code}")
    return _session(answer.json())


def signature_header(payload: bytes, secret: str, at: int) -> str:
    """The Stripe-Signature header Stripe would send for this body at this time."""
    mac = hmac.new(secret.encode(), f"{at}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={at},v1={mac}"


def completed_deliver(session: Session, *, webhook_url: str) -> None:
    """POST ``checkout.session.completed`` for the session, signed, to the portal."""
    event = {
        "id": "evt_" + secrets.token_hex(12),
        "object": "event",
        "type": "checkout.session.completed",
        "api_version": "2026-10-28",
        "created": int(time.time()),
        "livemode": False,
        "data": {"object": session.data},
    }
    payload = json.dumps(event).encode()
    context = ssl.create_default_context(cafile=settings.BILLING_DEV_CHECKOUT_CA)
    try:
        answer = httpx.post(
            webhook_url,
            content=payload,
            headers={
                "Content-Type": "application/json",
                "Stripe-Signature": signature_header(
                    payload, settings.STRIPE_WEBHOOK_SECRET, int(time.time())
                ),
            },
            verify=context,
            timeout=30,
        )
    except httpx.HTTPError as error:
        raise DevCheckoutFailed(type(error).__name__) from error
    if answer.status_code != 200:
        raise DevCheckoutFailed(f"the portal's webhook answered {answer.status_code}")
    logger.info("dev checkout: delivered %s for session %s", event["id"], session.id)

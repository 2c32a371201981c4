"""The one place that talks to Stripe (the official ``stripe`` library).

Plain functions, one exception type (``PaymentsUnavailable``). Production talks to
api.stripe.com; ``STRIPE_API_BASE`` (development only) points the same code at a
local Stripe-compatible server. What leaves here is the amount, the currency, the
statement's id and number, and the patient's e-mail for the receipt: no names of
services, codes or clinical words (tests/billing/test_gateway.py reads the wire).
"""

import json
from dataclasses import dataclass
from typing import Any

import stripe
from django.conf import settings


class PaymentsUnavailable(Exception):
    """Stripe is not configured, or did not answer as it should."""


@dataclass(frozen=True)
class HostedPage:
    session_id: str
    url: str


def enabled() -> bool:
    return bool(settings.STRIPE_SECRET_KEY)


def client() -> stripe.StripeClient:
    if not enabled():
        raise PaymentsUnavailable("online payment is not configured")
    base = settings.STRIPE_API_BASE or None
    return stripe.StripeClient(
        settings.STRIPE_SECRET_KEY,
        base_addresses={"api": base} if base else None,
        max_network_retries=2,
    )


def checkout_payment(
    *,
    statement_id: str,
    statement_number: str,
    amount: int,
    currency: str,
    email: str,
    success_url: str,
    cancel_url: str,
    idempotency_key: str,
) -> HostedPage:
    """A Checkout Session (mode payment) for one amount on one statement."""
    metadata = {"statement_id": statement_id}
    params: dict[str, Any] = {
        "mode": "payment",
        "line_items": [
            {
                "quantity": 1,
                "price_data": {
                    "currency": currency,
                    "unit_amount": amount,
                    # The product name shows on Stripe's page and receipt: the number only.
                    "product_data": {"name": f"Statement {statement_number}"},
                },
            }
        ],
        "client_reference_id": statement_id,
        "metadata": metadata,
        "payment_intent_data": {"metadata": metadata, "receipt_email": email},
        "customer_email": email,
        "success_url": success_url,
        "cancel_url": cancel_url,
    }
    try:
        session = client().v1.checkout.sessions.create(
            params,  # type: ignore[arg-type]
            {"idempotency_key": idempotency_key},
        )
    except stripe.StripeError as error:
        raise PaymentsUnavailable(type(error).__name__) from error
    return HostedPage(session_id=session.id, url=session.url or "")


def refund(*, payment_intent: str, amount: int, statement_id: str, idempotency_key: str) -> str:
    """Refund part or all of a payment; the refund's id."""
    try:
        created = client().v1.refunds.create(
            {
                "payment_intent": payment_intent,
                "amount": amount,
                "metadata": {"statement_id": statement_id},
            },
            {"idempotency_key": idempotency_key},
        )
    except stripe.StripeError as error:
        raise PaymentsUnavailable(type(error).__name__) from error
    return created.id


def payment_intent_metadata(payment_intent: str) -> dict[str, str]:
    """A PaymentIntent's metadata, for events that name it but not the statement."""
    try:
        found = client().v1.payment_intents.retrieve(payment_intent)
    except stripe.StripeError as error:
        raise PaymentsUnavailable(type(error).__name__) from error
    metadata = found.to_dict().get("metadata") or {}
    return {str(k): str(v) for k, v in metadata.items()}


def event_from_webhook(payload: bytes, signature: str) -> dict[str, Any]:
    """The verified event as plain JSON; raises ``ValueError`` or ``SignatureVerificationError``.

    The signature and its age are checked by the library's own ``verify_header`` (what
    ``Webhook.construct_event`` calls first); the body is then read as plain JSON,
    without building StripeObjects only to turn them back into dicts.
    """
    secret = settings.STRIPE_WEBHOOK_SECRET
    if not secret:
        raise stripe.SignatureVerificationError("no endpoint secret", signature)
    stripe.WebhookSignature.verify_header(
        payload.decode("utf-8"), signature, secret, settings.STRIPE_WEBHOOK_TOLERANCE
    )
    event = json.loads(payload)
    if not (
        isinstance(event, dict)
        and isinstance(event.get("id"), str)
        and isinstance(event.get("type"), str)
        and isinstance(event.get("data"), dict)
        and isinstance(event["data"].get("object"), dict)
    ):
        raise ValueError("not a Stripe event")
    return event


@dataclass(frozen=True)
class Movement:
    stripe_id: str
    payment_intent: str
    amount: int
    currency: str


def movements_since(since_ts: int) -> tuple[list[Movement], list[Movement]]:
    """Stripe's succeeded payments and refunds created at or after a Unix time.

    Filtered here rather than with ``created[gte]`` (which localstripe does not take),
    so a reconciliation pages through the account's whole list: fine for a clinic's
    volume, a cost to revisit for a large one.
    """
    try:
        api = client().v1
        intents = [
            Movement(p.id, p.id, int(p.to_dict().get("amount_received") or p.amount), p.currency)
            for p in api.payment_intents.list({"limit": 100}).auto_paging_iter()
            if p.status == "succeeded" and p.created >= since_ts
        ]
        refunds = [
            Movement(r.id, str(r.payment_intent or ""), int(r.amount), r.currency)
            for r in api.refunds.list({"limit": 100}).auto_paging_iter()
            if r.status in {"succeeded", "pending"} and r.created >= since_ts
        ]
    except stripe.StripeError as error:
        raise PaymentsUnavailable(type(error).__name__) from error
    return intents, refunds


# --- Payment plans: a saved card, charged off-session ------------------------------------


def customer_create(*, email: str, statement_id: str, idempotency_key: str) -> str:
    try:
        customer = client().v1.customers.create(
            {"email": email, "metadata": {"statement_id": statement_id}},
            {"idempotency_key": idempotency_key},
        )
    except stripe.StripeError as error:
        raise PaymentsUnavailable(type(error).__name__) from error
    return customer.id


def checkout_setup(
    *,
    customer: str,
    statement_id: str,
    success_url: str,
    cancel_url: str,
    idempotency_key: str,
) -> HostedPage:
    """A Checkout Session in setup mode: the patient saves a card for the plan on Stripe."""
    params: dict[str, Any] = {
        "mode": "setup",
        "customer": customer,
        "payment_method_types": ["card"],
        "client_reference_id": statement_id,
        "metadata": {"statement_id": statement_id},
        "setup_intent_data": {"metadata": {"statement_id": statement_id}},
        "success_url": success_url,
        "cancel_url": cancel_url,
    }
    try:
        session = client().v1.checkout.sessions.create(
            params,  # type: ignore[arg-type]
            {"idempotency_key": idempotency_key},
        )
    except stripe.StripeError as error:
        raise PaymentsUnavailable(type(error).__name__) from error
    return HostedPage(session_id=session.id, url=session.url or "")


def setup_payment_method(setup_intent: str) -> str:
    """The card a completed SetupIntent saved."""
    try:
        found = client().v1.setup_intents.retrieve(setup_intent)
    except stripe.StripeError as error:
        raise PaymentsUnavailable(type(error).__name__) from error
    method = found.payment_method
    return method if isinstance(method, str) else str(getattr(method, "id", "") or "")


def payment_method_detach(payment_method: str) -> None:
    """Take a saved card off its Customer, so it can never be charged again. A card that is
    detached already (or gone) is done, not an error."""
    try:
        client().v1.payment_methods.detach(payment_method)
    except stripe.InvalidRequestError:
        return
    except stripe.StripeError as error:
        raise PaymentsUnavailable(type(error).__name__) from error


@dataclass(frozen=True)
class Charge:
    succeeded: bool
    payment_intent: str
    # Stripe's decline code or error type when it failed (no card data).
    failure: str = ""


def charge_off_session(
    *,
    customer: str,
    payment_method: str,
    amount: int,
    currency: str,
    statement_id: str,
    idempotency_key: str,
) -> Charge:
    """Charge a saved card without the patient present; a decline is a result, not an error."""
    try:
        intent = client().v1.payment_intents.create(
            {
                "amount": amount,
                "currency": currency,
                "customer": customer,
                "payment_method": payment_method,
                "off_session": True,
                "confirm": True,
                "metadata": {"statement_id": statement_id},
            },
            {"idempotency_key": idempotency_key},
        )
    except stripe.CardError as error:
        intent_id = ""
        if error.error is not None and error.error.payment_intent is not None:
            intent_id = str(error.error.payment_intent.id)
        return Charge(False, intent_id, str(error.code or "card_error"))
    except stripe.StripeError as error:
        raise PaymentsUnavailable(type(error).__name__) from error
    if intent.status != "succeeded":
        return Charge(False, intent.id, intent.status)
    return Charge(True, intent.id)

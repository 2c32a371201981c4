"""Serve localstripe on 127.0.0.1 only, keeping nothing on disk between runs, with the
Checkout Sessions it lacks (development and the browser tests only).

Run with var/localstripe/venv/bin/python (scripts/localstripe.sh install makes it):
its own `localstripe` command binds every interface and pickles its store to /tmp.

    var/localstripe/venv/bin/python scripts/localstripe_serve.py PORT

Checkout Sessions, kept in memory as Stripe documents them:

- ``POST /v1/checkout/sessions`` (mode payment or setup) and
  ``GET /v1/checkout/sessions/{id}``: the same calls billing/gateway.py makes to
  Stripe. The session's ``url`` is the portal's development hosted page
  (``/dev/checkout/<id>/`` on the origin of the session's ``success_url``), which exists
  only when the portal runs with ``BILLING_DEV_CHECKOUT`` (never in production).
- ``POST /v1/checkout/sessions/{id}/confirm`` with ``payment_method`` (one of Stripe's
  test PaymentMethods): what Stripe's own hosted page does when the card is submitted,
  which has no public API. Mode payment creates and confirms a PaymentIntent with the
  session's amount, currency and ``payment_intent_data.metadata``; mode setup confirms a
  SetupIntent for the session's customer and attaches the card. A declined card is a
  402 ``card_declined`` and leaves the session open; a completed session is never
  paid twice (400).
"""

import secrets
import socket
import sys
from typing import Any

from aiohttp import web
from localstripe import server
from localstripe.errors import UserError
from localstripe.resources import PaymentIntent, PaymentMethod, SetupIntent

SESSIONS: dict[str, dict[str, Any]] = {}


def _origin(url: str) -> str:
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}"


async def session_create(request: web.Request) -> web.Response:
    data = await server.get_post_data(request) or {}
    mode = data.get("mode")
    success_url = str(data.get("success_url") or "")
    if mode not in {"payment", "setup"} or "://" not in success_url:
        raise UserError(400, "Bad request")
    session_id = "cs_test_" + secrets.token_urlsafe(24).replace("-", "a").replace("_", "b")
    lines = data.get("line_items") or []
    amount_total = 0
    currency = None
    items = []
    for line in lines:
        price = line.get("price_data") or {}
        quantity = int(line.get("quantity") or 1)
        amount_total += int(price.get("unit_amount") or 0) * quantity
        currency = price.get("currency") or currency
        items.append(
            {
                "object": "item",
                "description": (price.get("product_data") or {}).get("name", ""),
                "amount_total": int(price.get("unit_amount") or 0) * quantity,
                "currency": price.get("currency"),
                "quantity": quantity,
            }
        )
    SESSIONS[session_id] = {
        "id": session_id,
        "object": "checkout.session",
        "mode": mode,
        "status": "open",
        "payment_status": "unpaid" if mode == "payment" else "no_payment_required",
        "amount_total": amount_total if mode == "payment" else None,
        "currency": currency,
        "client_reference_id": data.get("client_reference_id"),
        "customer": data.get("customer"),
        "customer_email": data.get("customer_email"),
        "metadata": data.get("metadata") or {},
        "payment_intent": None,
        "setup_intent": None,
        "success_url": success_url,
        "cancel_url": data.get("cancel_url"),
        "url": f"{_origin(success_url)}/dev/checkout/{session_id}/",
        "line_items": {"object": "list", "data": items},
        "_intent_metadata": (data.get("payment_intent_data") or {}).get("metadata")
        or (data.get("setup_intent_data") or {}).get("metadata")
        or {},
    }
    return _answer(SESSIONS[session_id])


def _found(request: web.Request) -> dict[str, Any]:
    session = SESSIONS.get(request.match_info["id"])
    if session is None:
        raise UserError(404, "Not Found")
    return session


async def session_retrieve(request: web.Request) -> web.Response:
    return _answer(_found(request))


async def session_confirm(request: web.Request) -> web.Response:
    session = _found(request)
    data = await server.get_post_data(request) or {}
    payment_method = str(data.get("payment_method") or "")
    if session["status"] != "open" or not payment_method.startswith("pm_"):
        raise UserError(400, "Bad request")
    card = PaymentMethod._api_retrieve(payment_method)
    if session["mode"] == "payment":
        # localstripe declines 4000 0000 0000 0002 only when it is attached; Stripe
        # declines it on any use, so the hosted page does too.
        if card._attaching_is_declined():
            raise UserError(402, "Your card was declined.", {"code": "card_declined"})
        intent = PaymentIntent._api_create(
            amount=session["amount_total"],
            currency=session["currency"],
            payment_method=payment_method,
            metadata=dict(session["_intent_metadata"]),
            confirm=True,
        )
        session.update(status="complete", payment_status="paid", payment_intent=intent.id)
    else:
        setup = SetupIntent._api_create(
            customer=session["customer"], usage="off_session", metadata=session["_intent_metadata"]
        )
        SetupIntent._api_confirm(setup.id, payment_method=payment_method)
        # Stripe attaches the card a setup-mode session saved to the session's Customer.
        PaymentMethod._api_attach(setup.payment_method, customer=session["customer"])
        session.update(status="complete", setup_intent=setup.id)
    return _answer(session)


def _answer(session: dict[str, Any]) -> web.Response:
    return server.json_response({k: v for k, v in session.items() if not k.startswith("_")})


def main() -> None:
    port = int(sys.argv[1])
    server.store.dump_to_disk = lambda: None  # no /tmp pickle shared between runs
    server.app.router.add_route("POST", "/v1/checkout/sessions", session_create)
    server.app.router.add_route("GET", "/v1/checkout/sessions/{id}", session_retrieve)
    server.app.router.add_route("POST", "/v1/checkout/sessions/{id}/confirm", session_confirm)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    web.run_app(server.app, sock=sock, access_log=None, print=None)


if __name__ == "__main__":
    main()

"""Development only: the portal's stand-in for Stripe Checkout's hosted page.

Included in the URLconf only when ``BILLING_DEV_CHECKOUT`` is on, which the settings
allow only outside production and with ``STRIPE_API_BASE`` set (``make run`` sets both,
next to the localstripe it starts). Kept out of the production image (.dockerignore).
The portal's own code path is the production one: billing/gateway.py creates a
Checkout Session exactly as with Stripe, and the local server
(scripts/localstripe_serve.py) answers it with this page's address.
"""

"""The HTTP details shared by the client and the token request."""

import json
import ssl
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx

from portal.fhir.errors import FhirError


def make_http_client(
    *, ca_bundle: str | None, connect_timeout: float, read_timeout: float
) -> httpx.Client:
    # Verification is always on; a CA bundle only adds trust (the demo
    # server's own certificate), it never turns checking off.
    context = (
        ssl.create_default_context(cafile=ca_bundle) if ca_bundle else ssl.create_default_context()
    )
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return httpx.Client(
        verify=context,
        timeout=httpx.Timeout(
            connect=connect_timeout, read=read_timeout, write=read_timeout, pool=connect_timeout
        ),
        follow_redirects=False,
        # Proxy and CA settings come from our config, not from ambient
        # environment variables that could reroute PHI.
        trust_env=False,
        # A compressed body can expand without bound before we can count it.
        headers={"Accept-Encoding": "identity"},
    )


def read_body(
    response: httpx.Response, *, limit: int, deadline: float, clock: Callable[[], float]
) -> bytes:
    """Read a streamed body, giving up beyond `limit` bytes or past `deadline`.

    The read timeout bounds each wait for bytes; the deadline bounds a server
    that trickles a few bytes just often enough to dodge it.
    """
    declared = response.headers.get("Content-Length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise FhirError("too_large")
    body = bytearray()
    for chunk in response.iter_raw():
        body += chunk
        if len(body) > limit:
            raise FhirError("too_large")
        if clock() > deadline:
            raise FhirError("timeout")
    return bytes(body)


def parse_json(body: bytes) -> dict[str, Any]:
    """The JSON object in ``body``; decimals as ``Decimal``, so "7.10" stays 7.10."""
    try:
        data = json.loads(body, parse_float=Decimal)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise FhirError("bad_json") from None
    if not isinstance(data, dict):
        raise FhirError("bad_json")
    return data

"""The client's network address, trusting proxies only as configured."""

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str | None:
    """REMOTE_ADDR, or the address our own trusted proxies saw.

    With PORTAL_TRUSTED_PROXY_COUNT = N, the N right-most X-Forwarded-For
    entries were appended by our proxies; the entry just left of them is the
    client. Anything further left was written by the client and is ignored, so
    a forged header cannot dodge lockout or pollute the audit trail.
    """
    remote = request.META.get("REMOTE_ADDR") or None
    trusted = settings.PORTAL_TRUSTED_PROXY_COUNT
    if trusted <= 0:
        return remote
    hops = [h.strip() for h in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if h.strip()]
    if len(hops) < trusted:
        return remote
    candidate = hops[-trusted]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return remote

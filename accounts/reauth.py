"""Sudo mode: a sensitive account change needs the password and a code again.

A signed-in session alone (left unattended, or stolen) must not be enough to
take an account over. A view that changes how the account is signed in to or
reached (authenticator, backup codes, password, e-mail address, other
sessions, proxies) is decorated with `@recent_auth_required`: unless the user
confirmed their password and a second factor on `accounts:reauth` within
`PORTAL_REAUTH_SECONDS`, it changes nothing and redirects there, and the
confirm page brings the user back to the page they were on.

    @roles(*ALL_ROLES)
    @recent_auth_required
    @require_POST
    def proxy_add(request): ...
"""

import time
from collections.abc import Callable
from functools import wraps
from typing import TypeVar
from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode

from accounts.session_store import REAUTH_AT

V = TypeVar("V", bound=Callable[..., HttpResponse])


def is_recent(request: HttpRequest) -> bool:
    """Whether this session confirmed the password and a code within the window."""
    confirmed_at = request.session.get(REAUTH_AT)
    if confirmed_at is None:
        return False
    return 0 <= time.time() - confirmed_at <= settings.PORTAL_REAUTH_SECONDS


def _return_to(request: HttpRequest) -> str:
    """The page to come back to: this one for a GET, the form's page for a POST."""
    if request.method == "GET":
        return request.get_full_path()
    referer = request.META.get("HTTP_REFERER", "")
    if referer and url_has_allowed_host_and_scheme(
        referer, allowed_hosts={request.get_host()}, require_https=True
    ):
        parts = urlsplit(referer)
        if parts.path != reverse("accounts:reauth"):
            return parts.path + (f"?{parts.query}" if parts.query else "")
    return reverse("accounts:security")


def confirm_redirect(request: HttpRequest) -> HttpResponse:
    return redirect(f"{reverse('accounts:reauth')}?{urlencode({'next': _return_to(request)})}")


def recent_auth_required(view: V) -> V:
    """Run the view only after a recent re-authentication; otherwise change nothing."""

    @wraps(view)
    def guarded(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not is_recent(request):
            return confirm_redirect(request)
        return view(request, *args, **kwargs)

    guarded.recent_auth_required = True  # type: ignore[attr-defined]
    return guarded  # type: ignore[return-value]

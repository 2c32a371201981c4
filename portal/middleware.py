"""The safeguards every request passes through, in settings.MIDDLEWARE order.

RequestIdMiddleware      a request id for logs and audit rows
TimeZoneMiddleware       dates and times shown in the clinic's zone (PORTAL_TIME_ZONE)
SecurityHeadersMiddleware Permissions-Policy; no-store on every dynamic page
SessionTimeoutMiddleware inactivity logoff and absolute session age
(LoginRequiredMiddleware, Django's: anonymous users go to sign-in)
SecondFactorMiddleware   signed in with a password only: enrol or verify first
AccessPolicyMiddleware   the view's declared policy, deny by default
"""

import logging
import time
import uuid
import zoneinfo

from django.conf import settings
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden, JsonResponse
from django.shortcuts import redirect
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_cache_control
from django.utils.http import urlencode

from accounts.selectors import has_second_factor
from accounts.session_store import LAST_ACTIVITY, SIGNED_IN_AT
from audit.actions import Action, Outcome
from audit.services import record
from portal.access import Policy, view_policy

log = logging.getLogger(__name__)

# Requests that must not count as activity (the session timer's own polling)
# send this header.
BACKGROUND_HEADER = "HTTP_X_PORTAL_BACKGROUND"


class RequestIdMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.request_id = str(uuid.uuid4())
        response = self.get_response(request)
        response["X-Request-ID"] = request.request_id
        return response


class TimeZoneMiddleware:
    """Show times in the clinic's zone; storage and arithmetic stay in UTC (TIME_ZONE)."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.zone = zoneinfo.ZoneInfo(settings.PORTAL_TIME_ZONE)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        timezone.activate(self.zone)
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()


class SecurityHeadersMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.setdefault("Permissions-Policy", settings.PERMISSIONS_POLICY)
        # Static files are answered by WhiteNoise before this point; everything
        # here is a dynamic page that may hold PHI or a CSRF token.
        patch_cache_control(response, no_store=True, no_cache=True, private=True)
        return response


def is_background(request: HttpRequest) -> bool:
    return request.META.get(BACKGROUND_HEADER) == "1"


class SessionTimeoutMiddleware:
    """Sign out after PORTAL_IDLE_TIMEOUT without activity, or PORTAL_SESSION_MAX_AGE in all.

    Background requests (the page's own session-timer polling) neither count
    as activity nor extend the session.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated:
            now = time.time()
            signed_in_at = request.session.get(SIGNED_IN_AT, now)
            last = request.session.get(LAST_ACTIVITY, now)
            if now - signed_in_at > settings.PORTAL_SESSION_MAX_AGE:
                return self._sign_out(request, Action.SESSION_EXPIRED, "expired")
            if now - last > settings.PORTAL_IDLE_TIMEOUT:
                return self._sign_out(request, Action.SESSION_IDLE_TIMEOUT, "idle")
            if not is_background(request) and now - last >= settings.PORTAL_ACTIVITY_RESOLUTION:
                # Written at most once per PORTAL_ACTIVITY_RESOLUTION seconds, not on
                # every request (each write is an UPDATE of the session row). The
                # recorded time is then at most that much older than the real last
                # activity, so the idle logoff can come that much early, never late.
                request.session[LAST_ACTIVITY] = now
        return self.get_response(request)

    def _sign_out(self, request: HttpRequest, action: Action, reason: str) -> HttpResponse:
        record(action=action, request=request)
        logout(request)
        login_url = f"{reverse(settings.LOGIN_URL)}?{urlencode({'signed_out': reason})}"
        if is_background(request):
            return JsonResponse({"signed_in": False, "login_url": login_url}, status=401)
        return redirect(login_url)


class SecondFactorMiddleware:
    """A password alone reaches only the sign-in steps: enrolment, verification, sign-out."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs):
        user = request.user
        if not user.is_authenticated or user.is_verified():
            return None
        policy, _ = view_policy(view_func, request.resolver_match.namespace)
        if policy in (Policy.PUBLIC, Policy.SIGN_IN_STEP):
            return None
        step = "accounts:verify" if has_second_factor(user=user) else "accounts:enrol"
        return redirect(f"{reverse(step)}?{urlencode({'next': request.get_full_path()})}")


class AccessPolicyMiddleware:
    """Deny by default: a view without a declared policy is refused to everyone."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs):
        match = request.resolver_match
        policy, allowed = view_policy(view_func, match.namespace)
        if policy is None:
            log.error("view %s declares no access policy; refused", match.view_name)
            return self._deny(request, match.view_name)
        if policy is Policy.ROLES and not request.user.is_authenticated:
            # Views that Django marks login_not_required (the admin's) still
            # need a signed-in user with a role.
            return redirect_to_login(request.get_full_path())
        if policy is Policy.ROLES and request.user.role not in allowed:
            return self._deny(request, match.view_name)
        return None

    def _deny(self, request: HttpRequest, view_name: str) -> HttpResponse:
        if request.user.is_authenticated:
            record(
                action=Action.ACCESS_DENIED,
                outcome=Outcome.DENIED,
                request=request,
                object_type="route",
                object_id=view_name,
            )
        return HttpResponseForbidden(render_to_string("403.html", request=request))

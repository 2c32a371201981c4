import base64
import math
import time
import uuid

import segno
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import PasswordChangeForm, PasswordResetForm, SetPasswordForm
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import emergency, selectors, services
from accounts.forms import (
    BreakGlassForm,
    CodeForm,
    EmailChangeForm,
    EnrolForm,
    ReauthForm,
    SignInForm,
)
from accounts.reauth import confirm_redirect, is_recent, recent_auth_required
from accounts.session_store import LAST_ACTIVITY, SESSION_ID
from audit.context import audit_context
from patients.models import BreakGlassGrant
from portal.access import (
    ALL_ROLES,
    CLINICAL_ROLES,
    EMAIL_OTP_ROLES,
    Role,
    public,
    roles,
    sign_in_step,
)

SIGNED_OUT_MESSAGES = {
    "idle": "You were signed out after {idle} without activity. Sign in again.",
    "expired": "Your session reached its maximum length. Sign in again.",
    "user": "You have signed out.",
}


def _next_url(request: HttpRequest, default: str = "home") -> str:
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=True
    ):
        return candidate
    return reverse(default)


def _duration(seconds: int) -> str:
    if seconds < 60:
        return f"{seconds} seconds"
    minutes = math.ceil(seconds / 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def _step(name: str, request: HttpRequest, **params: str) -> str:
    """The URL of a sign-in step, carrying the page the user was heading for."""
    return f"{reverse(name)}?{urlencode({**params, 'next': _next_url(request)})}"


def _render_sign_in(request: HttpRequest, form: SignInForm, status: int = 200, **extra):
    notice = SIGNED_OUT_MESSAGES.get(request.GET.get("signed_out", ""), "")
    context = {
        "form": form,
        "next": request.POST.get("next") or request.GET.get("next", ""),
        "notice": notice.format(idle=_duration(settings.PORTAL_IDLE_TIMEOUT)),
        **extra,
    }
    return render(request, "accounts/sign_in.html", context, status=status)


@public
@require_http_methods(["GET", "POST"])
def sign_in(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated and request.user.is_verified():
        return redirect(_next_url(request))
    form = SignInForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = services.sign_in(
            request=request,
            username=form.cleaned_data["username"],
            password=form.cleaned_data["password"],
        )
        if user is not None:
            step = "accounts:verify" if selectors.has_second_factor(user=user) else "accounts:enrol"
            return redirect(_step(step, request))
        # The same words for an unknown user and a wrong password.
        form.add_error(None, "That username and password don't match. Check them and try again.")
    return _render_sign_in(request, form)


def lockout_response(request: HttpRequest, response, credentials) -> HttpResponse:
    """django-axes calls this for a locked username/address pair, known user or not."""
    form = SignInForm(initial={"username": (credentials or {}).get("username", "")})
    return _render_sign_in(request, form, status=429, locked=True)


@sign_in_step
@require_http_methods(["GET", "POST"])
def verify(request: HttpRequest) -> HttpResponse:
    user = request.user
    if user.is_verified():
        return redirect(_next_url(request))
    if not selectors.has_second_factor(user=user):
        return redirect(_step("accounts:enrol", request))
    email_allowed = user.role in EMAIL_OTP_ROLES and selectors.email_device(user=user) is not None
    method = request.POST.get("method") or request.GET.get("method") or "totp"
    if method == "email" and not email_allowed:
        method = "totp"
    form = CodeForm(request.POST or None, initial={"method": method})
    if request.method == "POST" and form.is_valid():
        try:
            services.second_factor_verify(
                request=request,
                user=user,
                method=form.cleaned_data["method"],
                token=form.cleaned_data["token"],
            )
        except services.SecondFactorError as error:
            form.add_error("token", str(error))
        else:
            return redirect(_next_url(request))
    context = {
        "form": form,
        "method": method,
        "email_allowed": email_allowed,
        "next": _next_url(request),
    }
    return render(request, "accounts/verify.html", context)


@sign_in_step
@require_POST
def email_code(request: HttpRequest) -> HttpResponse:
    if services.email_code_send(request=request, user=request.user):
        messages.info(request, "We e-mailed you a code. It works for 10 minutes.")
    else:
        messages.warning(request, "Please wait a minute before asking for another code.")
    return redirect(_step("accounts:verify", request, method="email"))


def _qr_svg(uri: str) -> str:
    return segno.make(uri, error="m").svg_inline(scale=5, title="QR code for your authenticator")


@sign_in_step
@require_http_methods(["GET", "POST"])
def enrol(request: HttpRequest) -> HttpResponse:
    """Set up an authenticator app. Reached before the second factor only by users who have none.

    Replacing the authenticator of a signed-in account is a sensitive change:
    it needs a recent re-authentication (sudo mode), like the other ones.
    """
    user = request.user
    if not user.is_verified() and selectors.has_second_factor(user=user):
        # Adding a device must never stand in for proving the existing one.
        return redirect(_step("accounts:verify", request))
    if user.is_verified() and not is_recent(request):
        return confirm_redirect(request)
    device = services.totp_enrol_start(request=request, user=user)
    form = EnrolForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            codes = services.totp_enrol_confirm(
                request=request, user=user, token=form.cleaned_data["token"]
            )
        except services.SecondFactorError as error:
            form.add_error("token", str(error))
        else:
            return render(
                request,
                "accounts/backup_codes.html",
                {"codes": codes, "next": _next_url(request), "enrolled": True},
            )
    secret = base64.b32encode(device.bin_key).decode()
    context = {
        "form": form,
        "qr_svg": _qr_svg(device.config_url),
        "secret": secret,
        "secret_groups": [secret[i : i + 4] for i in range(0, len(secret), 4)],
        "next": _next_url(request),
    }
    return render(request, "accounts/enrol.html", context)


@sign_in_step
@require_http_methods(["GET", "POST"])
def sign_out(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        services.sign_out(request=request)
        return redirect(f"{reverse('accounts:login')}?signed_out=user")
    return render(request, "accounts/sign_out.html")


@roles(*ALL_ROLES)
@require_GET
def security(request: HttpRequest) -> HttpResponse:
    context = {
        "sessions": selectors.session_list(user=request.user),
        "current_id": request.session.get(SESSION_ID),
        "backup_codes_left": selectors.backup_codes_left(user=request.user),
        "email_fallback": selectors.email_device(user=request.user) is not None,
        "reauth_recent": is_recent(request),
    }
    return render(request, "accounts/security.html", context)


@roles(*ALL_ROLES)
@require_http_methods(["GET", "POST"])
def reauth(request: HttpRequest) -> HttpResponse:
    """Sudo mode: the password and a current code again, then back to `next`."""
    user = request.user
    email_allowed = user.role in EMAIL_OTP_ROLES and selectors.email_device(user=user) is not None
    method = request.POST.get("method") or request.GET.get("method") or "totp"
    if method == "email" and not email_allowed:
        method = "totp"
    back = _next_url(request, "accounts:security")
    if request.method == "POST" and "send_code" in request.POST:
        if services.email_code_send(request=request, user=user):
            messages.info(request, "We e-mailed you a code. It works for 10 minutes.")
        else:
            messages.warning(request, "Please wait a minute before asking for another code.")
        query = urlencode({"method": "email", "next": back})
        return redirect(f"{reverse('accounts:reauth')}?{query}")
    form = ReauthForm(request.POST or None, initial={"method": method})
    if request.method == "POST" and form.is_valid():
        try:
            services.reauth_confirm(request=request, user=user, **form.cleaned_data)
        except services.ReauthLockedOut:
            return redirect("accounts:login")  # django-axes answers with its lockout page
        except services.SecondFactorError as error:
            form.add_error(None, str(error))
        else:
            return redirect(back)
    context = {
        "form": form,
        "method": method,
        "email_allowed": email_allowed,
        "next": back,
        "minutes": math.ceil(settings.PORTAL_REAUTH_SECONDS / 60),
    }
    return render(request, "accounts/reauth.html", context)


@roles(*ALL_ROLES)
@recent_auth_required
@require_http_methods(["GET", "POST"])
def email_change(request: HttpRequest) -> HttpResponse:
    form = EmailChangeForm(request.POST or None, current=request.user.email)
    if request.method == "POST" and form.is_valid():
        try:
            services.user_email_change(
                request=request, user=request.user, email=form.cleaned_data["email"]
            )
        except services.EmailTakenError:
            form.add_error("email", EmailChangeForm.TAKEN)
        else:
            messages.success(request, "E-mail address changed. We told your old address.")
            return redirect("accounts:security")
    return render(request, "accounts/email_change.html", {"form": form})


@roles(*ALL_ROLES)
@recent_auth_required
@require_POST
def sessions_end_others(request: HttpRequest) -> HttpResponse:
    ended = services.sessions_end_others(request=request, user=request.user)
    messages.success(request, f"Signed out {ended} other session{'s' if ended != 1 else ''}.")
    return redirect("accounts:security")


@roles(*ALL_ROLES)
@recent_auth_required
@require_POST
def session_end(request: HttpRequest, session_id: uuid.UUID) -> HttpResponse:
    if services.session_end(request=request, user=request.user, session_id=session_id):
        messages.success(request, "That session is signed out.")
    else:
        messages.warning(request, "That session had already ended.")
    return redirect("accounts:security")


@roles(*ALL_ROLES)
@recent_auth_required
@require_POST
def backup_codes(request: HttpRequest) -> HttpResponse:
    codes = services.backup_codes_regenerate(request=request, user=request.user)
    return render(
        request,
        "accounts/backup_codes.html",
        {"codes": codes, "next": reverse("accounts:security"), "enrolled": False},
    )


@roles(*ALL_ROLES)
@recent_auth_required
@require_http_methods(["GET", "POST"])
def password_change(request: HttpRequest) -> HttpResponse:
    form = PasswordChangeForm(request.user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        services.password_change(
            request=request, user=request.user, new_password=form.cleaned_data["new_password1"]
        )
        messages.success(request, "Password changed. Your other sessions were signed out.")
        return redirect("accounts:security")
    return render(request, "accounts/password_change.html", {"form": form})


@public
@require_http_methods(["GET", "POST"])
def password_reset(request: HttpRequest) -> HttpResponse:
    form = PasswordResetForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        services.password_reset_request(request=request, form=form)
        return redirect("accounts:password_reset_sent")
    return render(request, "accounts/password_reset.html", {"form": form})


@public
@require_GET
def password_reset_sent(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/password_reset_sent.html")


class PasswordResetConfirm(auth_views.PasswordResetConfirmView):
    """Django's token handling; we add the audit event and end every session."""

    form_class = SetPasswordForm
    template_name = "accounts/password_reset_confirm.html"
    success_url = reverse_lazy("accounts:password_reset_done")
    post_reset_login = False

    def form_valid(self, form):
        response = super().form_valid(form)
        services.password_reset_complete(request=self.request, user=form.user)
        return response


password_reset_confirm = public(PasswordResetConfirm.as_view())


@public
@require_GET
def password_reset_done(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/password_reset_done.html")


@roles(*ALL_ROLES)
@require_GET
def session_status(request: HttpRequest) -> JsonResponse:
    """Polled by the page's session timer; a background request, so it extends nothing."""
    idle = time.time() - request.session.get(LAST_ACTIVITY, time.time())
    return JsonResponse(
        {
            "signed_in": True,
            "remaining": max(0, math.ceil(settings.PORTAL_IDLE_TIMEOUT - idle)),
            "timeout": settings.PORTAL_IDLE_TIMEOUT,
        }
    )


@roles(*ALL_ROLES)
@require_POST
def session_extend(request: HttpRequest) -> JsonResponse:
    """ "Stay signed in": renews the timer now (the middleware writes it only every
    PORTAL_ACTIVITY_RESOLUTION seconds; this is an explicit choice)."""
    request.session[LAST_ACTIVITY] = time.time()
    return JsonResponse({"signed_in": True, "remaining": settings.PORTAL_IDLE_TIMEOUT})


@roles(*CLINICAL_ROLES)
@require_http_methods(["GET", "POST"])
def emergency_access(request: HttpRequest) -> HttpResponse:
    form = BreakGlassForm(request.POST or None, initial={"patient_id": request.GET.get("patient")})
    if request.method == "POST" and form.is_valid():
        try:
            grant = emergency.break_glass_open(
                request=request, actor=request.user, **form.cleaned_data
            )
        except services.SecondFactorError as error:
            form.add_error("token", str(error))
        else:
            minutes = settings.PORTAL_BREAK_GLASS_MINUTES
            messages.warning(request, f"Emergency access granted for {minutes} minutes.")
            return redirect("records:chart", patient_id=grant.patient_id)
    return render(request, "accounts/emergency_access.html", {"form": form})


@roles(Role.ADMIN)
@require_http_methods(["GET", "POST"])
def emergency_access_review(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        grant_id = request.POST.get("grant", "")
        try:
            emergency.break_glass_review(
                actor=request.user, grant_id=uuid.UUID(grant_id), context=audit_context(request)
            )
        except (ValueError, BreakGlassGrant.DoesNotExist):
            messages.warning(request, "That emergency access was already reviewed.")
        else:
            messages.success(request, "Marked as reviewed.")
        return redirect("accounts:emergency_access_review")
    grants = selectors.break_glass_unreviewed()
    return render(request, "accounts/emergency_access_review.html", {"grants": grants})

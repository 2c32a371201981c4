"""Writes about accounts: sign-in, second factors, sessions, passwords.

Emergency access (break-glass) is in accounts/emergency.py.

Each function changes state and records its audit event in one transaction.
"""

import secrets
import time
import uuid

from django.conf import settings
from django.contrib.auth import authenticate, login, logout, update_session_auth_hash
from django.contrib.auth.forms import PasswordResetForm
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django_otp import login as otp_login
from django_otp.models import Device
from django_otp.plugins.otp_email.models import EmailDevice

from accounts.models import AuthenticatorDevice, BackupCodeDevice, User, UserSession
from accounts.session_store import (
    CLIENT_IP,
    LAST_ACTIVITY,
    REAUTH_AT,
    SESSION_ID,
    SIGNED_IN_AT,
    USER_AGENT,
)
from accounts.signals import second_factor_verified
from accounts.tasks import account_email_later
from audit.actions import Action, Outcome
from audit.context import AuditContext
from audit.services import record
from patients.models import Patient
from portal import throttle
from portal.access import EMAIL_OTP_ROLES, Role
from portal.net import client_ip

ENROL_DEVICE = "_portal_enrol_device"


class SecondFactorError(Exception):
    """A code was refused; the message is safe to show to the user."""


# --- Sign-in ------------------------------------------------------------------


def sign_in(*, request: HttpRequest, username: str, password: str) -> User | None:
    """Check the password; on success start a fresh, second-factor-pending session."""
    user = authenticate(request, username=username, password=password)
    if user is None:
        known = User.objects.filter(username__iexact=username).values_list("pk", flat=True).first()
        locked = bool(getattr(request, "axes_locked_out", False))
        record(
            action=Action.LOGIN_LOCKED_OUT if locked else Action.LOGIN,
            outcome=Outcome.DENIED if locked else Outcome.FAILURE,
            request=request,
            actor_id=known,
        )
        return None
    with transaction.atomic():
        session_start(request, user)
        record(action=Action.LOGIN, request=request, actor=user)
    return user


def session_start(request: HttpRequest, user: User) -> None:
    """A fresh session for a user who proved their password (or just set it): 2FA next."""
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    now = time.time()
    request.session[SESSION_ID] = str(uuid.uuid4())
    request.session[SIGNED_IN_AT] = now
    request.session[LAST_ACTIVITY] = now
    request.session[CLIENT_IP] = client_ip(request)
    request.session[USER_AGENT] = request.META.get("HTTP_USER_AGENT", "")[:200]


def _finish_second_factor(request: HttpRequest, user: User, device) -> None:
    otp_login(request, device)
    request.session.cycle_key()
    # records queues a patient's sync here (records/apps.py), so their records
    # are fresh by the time they open them.
    second_factor_verified.send(sender=User, user=user)


def _code_accepted(*, user: User, method: str, token: str) -> tuple[Device | None, bool]:
    """Check a code against the user's device: (the device if accepted, throttled).

    The device row is locked while the code is checked, so two requests racing
    with the same code cannot both pass (django-otp's replay check alone is not
    atomic). Failures are counted on the device, in the database.
    """
    model: type[Device] | None = {
        "totp": AuthenticatorDevice,
        "backup": BackupCodeDevice,
        "email": EmailDevice,
    }.get(method)
    if model is None or (method == "email" and user.role not in EMAIL_OTP_ROLES):
        return None, False
    device = model.objects.select_for_update().filter(user=user, confirmed=True).first()
    if device is None:
        return None, False
    allowed, _ = device.verify_is_allowed()
    accepted = allowed and device.verify_token("".join(token.split()))
    return (device if accepted else None), not allowed


def refusal(throttled: bool) -> SecondFactorError:
    if throttled:
        return SecondFactorError("Too many wrong codes. Wait a minute, then try again.")
    return SecondFactorError("That code didn't work. Check it and try again.")


def second_factor_verify(*, request: HttpRequest, user: User, method: str, token: str) -> None:
    """Verify a TOTP, backup or e-mailed code; raises SecondFactorError if refused."""
    with transaction.atomic():
        device, throttled = _code_accepted(user=user, method=method, token=token)
        if device is not None:
            _finish_second_factor(request, user, device)
        record(
            action=Action.OTP_VERIFY,
            outcome=Outcome.SUCCESS if device else Outcome.FAILURE,
            request=request,
            object_type=method,
        )
    if device is None:
        raise refusal(throttled)


def email_code_send(*, request: HttpRequest, user: User) -> bool:
    """E-mail a sign-in code (patients only). The message holds the code and nothing else."""
    if user.role not in EMAIL_OTP_ROLES:
        return False
    device = EmailDevice.objects.filter(user=user, confirmed=True).first()
    if device is None:
        return False
    allowed, _ = device.generate_is_allowed()
    if allowed:
        device.generate_challenge()
        record(action=Action.OTP_EMAIL_SENT, request=request, object_type="email")
    return allowed


# --- Enrolment ----------------------------------------------------------------


def totp_enrol_start(*, request: HttpRequest, user: User) -> AuthenticatorDevice:
    """The unconfirmed authenticator this session is enrolling (made once per session)."""
    device = AuthenticatorDevice.objects.filter(
        user=user, confirmed=False, pk=request.session.get(ENROL_DEVICE)
    ).first()
    if device is None:
        AuthenticatorDevice.objects.filter(user=user, confirmed=False).delete()
        device = AuthenticatorDevice.objects.create(
            user=user, name="Authenticator app", confirmed=False
        )
        request.session[ENROL_DEVICE] = device.pk
    return device


def totp_enrol_confirm(*, request: HttpRequest, user: User, token: str) -> list[str]:
    """Confirm the new authenticator with a code from it; returns fresh backup codes."""
    replacing = request.user.is_verified()
    with transaction.atomic():
        device = (
            AuthenticatorDevice.objects.select_for_update()
            .filter(user=user, confirmed=False, pk=request.session.get(ENROL_DEVICE))
            .first()
        )
        confirmed = device is not None and device.verify_token("".join(token.split()))
        if confirmed:
            AuthenticatorDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
            device.confirmed = True
            device.save(update_fields=["confirmed"])
            if user.role in EMAIL_OTP_ROLES:
                EmailDevice.objects.get_or_create(
                    user=user, defaults={"name": "E-mail", "confirmed": True}
                )
            codes = _new_backup_codes(user)
            del request.session[ENROL_DEVICE]
            account_email_later(user=user, kind="second_factor_changed")
            _finish_second_factor(request, user, device)
            if replacing:
                _end_other_sessions(request, user)
        record(
            action=Action.OTP_ENROL,
            outcome=Outcome.SUCCESS if confirmed else Outcome.FAILURE,
            request=request,
            object_type="totp",
        )
    if device is None:
        raise SecondFactorError("The set-up expired. Scan the new code and try again.")
    if not confirmed:
        raise SecondFactorError("That code didn't work. Check the time on your phone and retry.")
    return codes


def _new_backup_codes(user: User) -> list[str]:
    """Fresh codes, shown once: only their keyed digests are stored (accounts/models.py)."""
    BackupCodeDevice.objects.filter(user=user).delete()
    device = BackupCodeDevice.objects.create(user=user, name="Backup codes", confirmed=True)
    codes = [_backup_code() for _ in range(settings.BACKUP_CODE_COUNT)]
    device.add_codes(codes)
    return codes


def _backup_code() -> str:
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i to misread
    return "".join(secrets.choice(alphabet) for _ in range(10))


def backup_codes_regenerate(*, request: HttpRequest, user: User) -> list[str]:
    with transaction.atomic():
        codes = _new_backup_codes(user)
        record(action=Action.BACKUP_CODES_CREATED, request=request, object_type="backup")
        _end_other_sessions(request, user)
        account_email_later(user=user, kind="backup_codes_changed")
    return codes


# --- Sessions -----------------------------------------------------------------


def sign_out(*, request: HttpRequest) -> None:
    if request.user.is_authenticated:
        record(action=Action.LOGOUT, request=request)
    logout(request)  # deletes the server-side session row


def _end_other_sessions(request: HttpRequest, user: User) -> int:
    deleted, _ = (
        UserSession.objects.filter(user=user).exclude(session_key=request.session.session_key)
    ).delete()
    return deleted


def sessions_end_others(*, request: HttpRequest, user: User) -> int:
    with transaction.atomic():
        ended = _end_other_sessions(request, user)
        record(action=Action.SESSION_ENDED, request=request, object_type="session", object_id=ended)
    return ended


def session_end(*, request: HttpRequest, user: User, session_id: uuid.UUID) -> bool:
    """End one of the user's own sessions, named by its public id; others' are invisible."""
    with transaction.atomic():
        deleted, _ = (
            UserSession.objects.filter(user=user, public_id=session_id)
            .exclude(session_key=request.session.session_key)
            .delete()
        )
        if deleted:
            record(action=Action.SESSION_ENDED, request=request, object_type="session", object_id=1)
    return bool(deleted)


# --- Re-authentication ("sudo mode", accounts/reauth.py) ----------------------------

REAUTH_REFUSED = "That password or code didn't work. Check both and try again."


class ReauthLockedOut(SecondFactorError):
    """Too many wrong passwords: django-axes locked the account here; this session ended."""


def reauth_confirm(
    *, request: HttpRequest, user: User, password: str, method: str, token: str
) -> None:
    """Confirm the password and a current second factor again; opens the sudo window.

    The password goes through `authenticate`, so django-axes counts a wrong one
    toward the sign-in lockout, and a lockout ends this session. The code is
    checked only after the right password, and counts toward the device's
    throttle. One message for every refusal: it never says which part was wrong.
    """
    checked = authenticate(request, username=user.username, password=password)
    password_ok = checked is not None and checked.pk == user.pk
    locked = bool(getattr(request, "axes_locked_out", False))
    with transaction.atomic():
        device = None
        if password_ok:
            device, _ = _code_accepted(user=user, method=method, token=token)
        if device is not None:
            request.session[REAUTH_AT] = time.time()
        record(
            action=Action.REAUTH,
            outcome=Outcome.SUCCESS if device else Outcome.DENIED if locked else Outcome.FAILURE,
            request=request,
            object_type=method if password_ok else "password",
        )
    if locked:
        logout(request)
        raise ReauthLockedOut(REAUTH_REFUSED)
    if device is None:
        raise SecondFactorError(REAUTH_REFUSED)


# --- Passwords and account state ----------------------------------------------------


class EmailTakenError(ValueError):
    """Another account has this e-mail address (ignoring case)."""


def user_email_change(*, request: HttpRequest, user: User, email: str) -> None:
    """Change the account's address; the old address is told, the new one gets nothing."""
    old = user.email
    try:
        with transaction.atomic():
            if User.objects.filter(email__iexact=email).exclude(pk=user.pk).exists():
                raise EmailTakenError(email)
            user.email = User.objects.normalize_email(email)
            user.save(update_fields=["email"])
            record(
                action=Action.EMAIL_CHANGE,
                request=request,
                object_type="accounts.user",
                object_id=user.pk,
            )
            account_email_later(user=user, kind="email_changed", to=old)
    except (EmailTakenError, IntegrityError) as error:
        user.email = old
        raise EmailTakenError(email) from error


def password_change(*, request: HttpRequest, user: User, new_password: str) -> None:
    with transaction.atomic():
        user.set_password(new_password)
        user.save(update_fields=["password"])
        update_session_auth_hash(request, user)  # keeps this session, rotates its key
        _end_other_sessions(request, user)
        record(action=Action.PASSWORD_CHANGE, request=request)
        account_email_later(user=user, kind="password_changed")


def _reset_throttled(request: HttpRequest, email: str) -> str:
    """The limit this reset request is over ("" if none); a request within both takes a slot."""
    window = settings.PORTAL_RESET_LIMIT_WINDOW
    limits = [
        ("reset_client", client_ip(request), settings.PORTAL_RESET_LIMIT_PER_CLIENT),
        ("reset_address", email, settings.PORTAL_RESET_LIMIT_PER_ADDRESS),
    ]
    for scope, key, limit in limits:
        if not throttle.attempt(scope=scope, key=key, limit=limit, window=window).allowed:
            return scope
    return ""


def password_reset_request(*, request: HttpRequest, form: PasswordResetForm) -> None:
    """Queue a reset link if the address belongs to an active user; say nothing either way.

    The mail goes out from the job queue (accounts/tasks.py), so a known address
    answers as fast as an unknown one. Requests are rationed per e-mail address
    and per client address; beyond that nothing is queued, and the caller
    answers exactly as if it had been.
    """
    email = form.cleaned_data["email"]
    with transaction.atomic():
        users = list(form.get_users(email))
        over = _reset_throttled(request, email)
        if over:
            for user in users or [None]:
                record(
                    action=Action.PASSWORD_RESET_REQUEST,
                    outcome=Outcome.DENIED,
                    request=request,
                    actor=user,
                    object_type="throttle",
                    object_id=over,
                )
            return
        for user in users:
            account_email_later(user=user, kind="password_reset")
            record(action=Action.PASSWORD_RESET_REQUEST, request=request, actor=user)
        if not users:
            record(action=Action.PASSWORD_RESET_REQUEST, outcome=Outcome.FAILURE, request=request)


def password_reset_complete(*, request: HttpRequest, user: User) -> None:
    """After a reset every session ends; the next sign-in still needs the second factor."""
    with transaction.atomic():
        UserSession.objects.filter(user=user).delete()
        record(action=Action.PASSWORD_RESET, request=request, actor=user)
        account_email_later(user=user, kind="password_changed")


def patient_record_attach(*, user: User) -> None:
    """A new patient account gets its own patient record (others get none)."""
    if user.role == Role.PATIENT and user.patient_id is None:
        user.patient = Patient.objects.create()


def user_deactivate(*, actor: User, user: User, context: AuditContext | None = None) -> None:
    with transaction.atomic():
        user.is_active = False
        user.save(update_fields=["is_active"])
        UserSession.objects.filter(user=user).delete()
        record(
            action=Action.ACCOUNT_DEACTIVATED,
            actor=actor,
            context=context,
            object_type="accounts.user",
            object_id=user.pk,
        )

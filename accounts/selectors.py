"""Reads about accounts, always for one user."""

from django.utils import timezone
from django_otp.plugins.otp_email.models import EmailDevice

from accounts.models import AuthenticatorDevice, BackupCodeDevice, User, UserSession
from patients.models import BreakGlassGrant
from portal.access import EMAIL_OTP_ROLES


def has_second_factor(*, user: User) -> bool:
    return AuthenticatorDevice.objects.filter(user=user, confirmed=True).exists()


def totp_device(*, user: User) -> AuthenticatorDevice | None:
    return AuthenticatorDevice.objects.filter(user=user, confirmed=True).first()


def backup_device(*, user: User) -> BackupCodeDevice | None:
    return BackupCodeDevice.objects.filter(user=user, confirmed=True).first()


def backup_codes_left(*, user: User) -> int:
    device = backup_device(user=user)
    return device.codes.count() if device else 0


def email_device(*, user: User) -> EmailDevice | None:
    if user.role not in EMAIL_OTP_ROLES:
        return None
    return EmailDevice.objects.filter(user=user, confirmed=True).first()


def session_list(*, user: User) -> list[UserSession]:
    return list(
        UserSession.objects.filter(user=user, expire_date__gt=timezone.now()).order_by(
            "-last_activity"
        )
    )


def break_glass_unreviewed() -> list[BreakGlassGrant]:
    """Grants awaiting review, oldest first; for administrators (ids and reasons, no charts)."""
    return list(
        BreakGlassGrant.objects.filter(reviewed_at=None)
        .select_related("clinician")
        .order_by("granted_at")
    )

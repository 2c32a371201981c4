import secrets
import time
import uuid
from base64 import b32encode
from urllib.parse import quote, urlencode

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.contrib.sessions.base_session import AbstractBaseSession
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django_otp.models import Device, ThrottlingMixin, TimestampMixin
from django_otp.oath import TOTP

from portal.access import Role
from portal.crypto.errors import DecryptionError
from portal.crypto.site_secrets import SiteSecretField, secret_digest

# The apps whose models administrators manage in the Django admin. Clinical
# apps are absent on purpose: administrators see no clinical content.
ADMIN_MANAGED_APPS = frozenset({"accounts", "invitations", "otp_email", "axes"})
# Models of the patients app that administrators manage, as they did while
# these lived in accounts: care teams (break-glass grants have no admin page).
# Never the patient or their demographics: that is PHI.
ADMIN_MANAGED_MODELS = frozenset(
    {
        "patients.careteam",
        "patients.breakglassgrant",
        "patients.proxygrant",
        # The clinic's scheduling set-up; never appointments (the visit reason is PHI).
        "appointments.location",
        "appointments.visittype",
        "appointments.weeklytemplate",
        "appointments.scheduleexception",
        # The refill set-up; never requests (the comment and medicines are PHI).
        "refills.pharmacy",
        "refills.medicinerule",
        "refills.prescriber",
    }
)
# Models of other apps that administrators may only look at: the EHR sync's
# refusals and progress (ids and reason codes, no clinical content).
ADMIN_VIEW_ONLY_PERMS = frozenset({"records.view_quarantine", "records.view_syncstate"})


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def get_by_natural_key(self, username: str) -> "User":
        return self.get(username__iexact=username)

    def create_user(
        self, username: str, email: str, password: str | None = None, **fields
    ) -> "User":
        user = self.model(username=username, email=self.normalize_email(email), **fields)
        user.set_password(password)
        user.full_clean(exclude=["password"])
        user.save(using=self._db)
        return user

    def create_superuser(self, username: str, email: str, password: str | None = None, **fields):
        """`createsuperuser` makes an administrator: a role, not a bypass of policy."""
        fields["role"] = Role.ADMIN
        return self.create_user(username, email, password, **fields)


class User(AbstractBaseUser):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    username = models.CharField(
        max_length=150,
        unique=True,
        validators=[UnicodeUsernameValidator()],
        help_text="Letters, digits and @/./+/-/_ only. Unique, ignoring case.",
    )
    email = models.EmailField(help_text="Unique, ignoring case. Receives sign-in codes and resets.")
    # For staff, shown in the portal. Patients' names are PHI and belong with
    # the (encrypted) patient record, not here.
    display_name = models.CharField(max_length=150, blank=True)
    role = models.CharField(max_length=20, choices=Role.choices)
    patient = models.OneToOneField(
        "patients.Patient",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="user",
    )
    is_active = models.BooleanField(default=True)
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "username"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["email"]

    class Meta:
        constraints = [
            models.UniqueConstraint(Lower("username"), name="accounts_user_username_ci_unique"),
            models.UniqueConstraint(Lower("email"), name="accounts_user_email_ci_unique"),
            # Only a patient account links to a patient record. It may have none: an
            # administrator unlinked it (invitations/services.py), or it waits for one.
            models.CheckConstraint(
                condition=models.Q(role=Role.PATIENT) | models.Q(patient__isnull=True),
                name="accounts_user_patient_only_for_patient_role",
            ),
        ]

    def __str__(self) -> str:
        return self.username

    def clean(self) -> None:
        super().clean()
        self.email = self.__class__.objects.normalize_email(self.email).lower()

    @property
    def is_staff(self) -> bool:
        """Only administrators reach the Django admin."""
        return self.role == Role.ADMIN

    @property
    def is_superuser(self) -> bool:
        return False

    def has_perm(self, perm: str, obj: object = None) -> bool:
        if not (self.is_active and self.is_staff):
            return False
        app_label, _, codename = perm.partition(".")
        model = f"{app_label}.{codename.partition('_')[2]}"
        return (
            perm in ADMIN_VIEW_ONLY_PERMS
            or app_label in ADMIN_MANAGED_APPS
            or model in ADMIN_MANAGED_MODELS
        )

    def has_perms(self, perm_list, obj: object = None) -> bool:
        return all(self.has_perm(p, obj) for p in perm_list)

    def has_module_perms(self, app_label: str) -> bool:
        apps = ADMIN_MANAGED_APPS | {
            label.split(".", 1)[0] for label in ADMIN_MANAGED_MODELS | ADMIN_VIEW_ONLY_PERMS
        }
        return self.is_active and self.is_staff and app_label in apps

    def get_full_name(self) -> str:
        return self.display_name or self.username

    def get_short_name(self) -> str:
        return self.display_name or self.username


class UserSession(AbstractBaseSession):
    """A database session that knows its user, so users can list and end them."""

    user = models.ForeignKey(User, null=True, on_delete=models.CASCADE, related_name="sessions")
    # Names the session in pages and URLs; the session key itself is a secret.
    public_id = models.UUIDField(null=True, db_index=True)
    created_at = models.DateTimeField(null=True)
    last_activity = models.DateTimeField(null=True)
    client_ip = models.GenericIPAddressField(null=True)
    user_agent = models.CharField(max_length=200, blank=True)

    class Meta(AbstractBaseSession.Meta):
        db_table = "accounts_session"

    @classmethod
    def get_session_store_class(cls):
        # Django's pairing: the store names this model at its top, so the model
        # finds its store late (as django.contrib.sessions does).
        from accounts.session_store import SessionStore

        return SessionStore


# --- Second factors ---------------------------------------------------------------
#
# Our own django-otp devices, so that a database dump yields no second factor:
# the TOTP seed is sealed under the KEK (portal/crypto/site_secrets.py) and
# backup codes are kept only as keyed digests. They behave as django-otp's
# TOTPDevice and StaticDevice do (same fields, replay protection, throttling);
# OTPMiddleware finds them by their persistent ids ("accounts.<model>/<id>").

TOTP_SEED_PURPOSE = "totp_seed"
BACKUP_CODE_PURPOSE = "backup_code"
SEED_BYTES = 20


def new_seed() -> bytes:
    return secrets.token_bytes(SEED_BYTES)


class AuthenticatorDevice(TimestampMixin, ThrottlingMixin, Device):
    """An authenticator app (TOTP, RFC 6238), as django-otp's TOTPDevice with a sealed seed."""

    seed = SiteSecretField(purpose=TOTP_SEED_PURPOSE, default=new_seed)
    step = models.PositiveSmallIntegerField(default=30)
    t0 = models.BigIntegerField(default=0)
    digits = models.PositiveSmallIntegerField(choices=[(6, 6), (8, 8)], default=6)
    tolerance = models.PositiveSmallIntegerField(default=1)
    drift = models.SmallIntegerField(default=0)
    # The time step of the last accepted code: only later steps are accepted (no replay).
    last_t = models.BigIntegerField(default=-1)

    class Meta(Device.Meta):
        verbose_name = "authenticator app"

    @property
    def bin_key(self) -> bytes:
        """The seed (opened from its sealed form on first use)."""
        return bytes(self.seed)

    def totp(self) -> TOTP:
        totp = TOTP(self.bin_key, self.step, self.t0, self.digits, self.drift)
        totp.time = time.time()
        return totp

    def code_matches(self, token: str) -> TOTP | None:
        """The TOTP state if ``token`` is a fresh code (not a replay), else None; saves nothing."""
        if not token.isdigit():
            return None
        try:
            totp = self.totp()
        except DecryptionError:
            return None  # audited by the field; a seed that does not open accepts nothing
        return totp if totp.verify(int(token), self.tolerance, self.last_t + 1) else None

    def verify_token(self, token: object) -> bool:
        """As TOTPDevice.verify_token: throttled, replay-protected, drift kept (OTP_TOTP_SYNC)."""
        allowed, _ = self.verify_is_allowed()
        if not allowed:
            return False
        totp = self.code_matches(str(token))
        if totp is None:
            self.throttle_increment(commit=True)
            return False
        self.last_t = totp.t()
        if getattr(settings, "OTP_TOTP_SYNC", True):
            self.drift = totp.drift
        self.throttle_reset(commit=False)
        self.set_last_used_timestamp(commit=False)
        self.save()
        return True

    def get_throttle_factor(self) -> int:
        return int(getattr(settings, "OTP_TOTP_THROTTLE_FACTOR", 1))

    @property
    def config_url(self) -> str:
        """The otpauth:// URL for the enrolment QR code (Key Uri Format, as django-otp's)."""
        label = str(self.user.get_username())
        params = urlencode(
            {
                "secret": b32encode(self.bin_key),
                "algorithm": "SHA1",
                "digits": self.digits,
                "period": self.step,
            }
        )
        issuer = (getattr(settings, "OTP_TOTP_ISSUER", "") or "").replace(":", "")
        if issuer:
            label = f"{issuer}:{label}"
            params += f"&issuer={quote(issuer)}"
        return f"otpauth://totp/{quote(label)}?{params}"


class BackupCodeDevice(TimestampMixin, ThrottlingMixin, Device):
    """A user's set of single-use backup codes, as django-otp's StaticDevice, kept as digests."""

    class Meta(Device.Meta):
        verbose_name = "backup codes"

    def code_digest(self, code: str) -> bytes:
        return secret_digest(code, purpose=BACKUP_CODE_PURPOSE, owner=self.user_id)

    def add_codes(self, codes: list[str]) -> None:
        BackupCode.objects.bulk_create(
            BackupCode(device=self, digest=self.code_digest(c)) for c in codes
        )

    def use_code(self, token: str) -> bool:
        """Delete the code if it is one of this device's; says whether it was. No throttling."""
        deleted, _ = BackupCode.objects.filter(device=self, digest=self.code_digest(token)).delete()
        return bool(deleted)

    def verify_token(self, token: object) -> bool:
        allowed, _ = self.verify_is_allowed()
        if not allowed:
            return False
        if self.use_code(str(token)):
            self.throttle_reset(commit=False)
            self.set_last_used_timestamp(commit=False)
            self.save()
            return True
        self.throttle_increment()
        return False

    def get_throttle_factor(self) -> int:
        return int(getattr(settings, "OTP_STATIC_THROTTLE_FACTOR", 1))


class BackupCode(models.Model):
    """One unused backup code: HMAC of the code and its owner (site_secrets.secret_digest)."""

    device = models.ForeignKey(BackupCodeDevice, on_delete=models.CASCADE, related_name="codes")
    digest = models.BinaryField(max_length=32)

    class Meta:
        indexes = [models.Index(fields=["device", "digest"], name="accounts_backupcode_lookup")]

    def __str__(self) -> str:
        return f"backup code {self.pk}"  # never the code, which is not stored

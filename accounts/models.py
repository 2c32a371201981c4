import uuid

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.contrib.sessions.base_session import AbstractBaseSession
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from portal.access import Role

# The apps whose models administrators manage in the Django admin. Clinical
# apps are absent on purpose: administrators see no clinical content.
ADMIN_MANAGED_APPS = frozenset(
    {"accounts", "invitations", "otp_totp", "otp_static", "otp_email", "axes"}
)
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

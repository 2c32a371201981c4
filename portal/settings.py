"""Carebridge settings: one module, driven by the environment, failing closed.

PORTAL_ENV selects the mode:
- ``production`` (the default): every secret and host comes from the
  environment or a ``*_FILE`` path; the system checks in portal/checks.py
  refuse to start without them.
- ``development``: what ``make run``/``make test`` use; secrets still come from
  files, but ``make`` writes them under var/ and the defaults point there.

DEBUG is never on unless DJANGO_DEBUG says so outside production.
"""

import os
import zoneinfo
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def envbool(name: str, default: bool = False) -> bool:
    """A yes/no setting; unset or empty means the default.

    Anything but 1/0, true/false, yes/no or on/off (any case, spaces around
    ignored) stops start-up: a typo such as ``ture`` must not read as "off".
    """
    value = os.environ.get(name, "").strip().lower()
    if not value:
        return default
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"{name} must be 1/0, true/false, yes/no or on/off, not {os.environ[name]!r}")


def envint(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


def envsecret(name: str, default_file: Path | None = None) -> str:
    """A secret from NAME, else from the file named by NAME_FILE (or the default file)."""
    if value := os.environ.get(name):
        return value.strip()
    path = os.environ.get(f"{name}_FILE") or (str(default_file) if default_file else "")
    if path and Path(path).is_file():
        return Path(path).read_text().strip()
    return ""


PORTAL_ENV = env("PORTAL_ENV", "production")
if PORTAL_ENV not in {"production", "development"}:
    raise ValueError(f"PORTAL_ENV must be 'production' or 'development', not {PORTAL_ENV!r}")
PRODUCTION = PORTAL_ENV == "production"
VAR_DIR = Path(env("PORTAL_VAR_DIR", str(BASE_DIR / "var")))
DEV_FILE = (lambda name: None) if PRODUCTION else (lambda name: VAR_DIR / name)

SECRET_KEY = envsecret("DJANGO_SECRET_KEY", DEV_FILE("secret_key"))
DEBUG = envbool("DJANGO_DEBUG") and not PRODUCTION
ALLOWED_HOSTS = [h for h in env("ALLOWED_HOSTS").split(",") if h] or (
    [] if PRODUCTION else ["localhost", "127.0.0.1", "[::1]"]
)

DATABASE_URL = envsecret("DATABASE_URL", DEV_FILE("database_url"))
DATABASES = {
    "default": {
        **(dj_database_url.parse(DATABASE_URL) if DATABASE_URL else {}),
        "ENGINE": "django.db.backends.postgresql",
        "CONN_MAX_AGE": envint("DATABASE_CONN_MAX_AGE", 60),
        "CONN_HEALTH_CHECKS": True,
        "OPTIONS": {"connect_timeout": 5},
        "TEST": {"NAME": env("DATABASE_TEST_NAME") or None},
    }
}

INSTALLED_APPS = [
    "portal.apps.PortalAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_otp",
    "django_otp.plugins.otp_email",
    "axes",
    "csp",
    "auditlog",
    # The job queue (sync jobs); before our apps so their tasks.py can register.
    "procrastinate.contrib.django",
    "portal",
    # The patient, care teams, demographics, break-glass grants: below the feature apps.
    "patients",
    "accounts",
    "audit",
    "records",
    "invitations",
    "messaging",
    "appointments",
    "billing",
    "refills",
    "assistant",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "portal.middleware.RequestIdMiddleware",
    "portal.middleware.TimeZoneMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "portal.crypto.scope.KeyScopeMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "portal.middleware.SecurityHeadersMiddleware",
    "portal.middleware.SessionTimeoutMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "portal.middleware.SecondFactorMiddleware",
    "portal.middleware.AccessPolicyMiddleware",
    # Names the actor on django-auditlog rows, with our client address.
    "audit.middleware.ChangeLogActorMiddleware",
    # Last, so that it sees the flag set by the authentication backend.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "portal.context_processors.session_timeout",
                "portal.context_processors.time_zone",
            ],
        },
    },
]

# --- Accounts and authentication -------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    # Axes first: a locked-out username/address pair never reaches the password check.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "home"
PASSWORD_RESET_TIMEOUT = 60 * 60

# Lockout: 5 failures for one username from one client address lock that pair
# for 15 minutes. Counters live in the database, never in the session.
AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = timedelta(minutes=15)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_CLIENT_IP_CALLABLE = "portal.net.client_ip"
AXES_LOCKOUT_CALLABLE = "accounts.views.lockout_response"
AXES_USERNAME_CALLABLE = "accounts.auth.axes_username"
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
AXES_VERBOSE = False
AXES_ENABLE_ADMIN = False
AXES_SENSITIVE_PARAMETERS = ["password", "token", "otp_token"]

# Password-reset mail (portal/throttle.py, counted in the database): at most this
# many requests per e-mail address, and per client address, in the window
# (seconds). Beyond it the answer is the same "check your e-mail" page, with no
# mail: the address's owner is not flooded and nothing tells a prober more.
PORTAL_RESET_LIMIT_PER_ADDRESS = envint("PORTAL_RESET_LIMIT_PER_ADDRESS", 3)
PORTAL_RESET_LIMIT_PER_CLIENT = envint("PORTAL_RESET_LIMIT_PER_CLIENT", 10)
PORTAL_RESET_LIMIT_WINDOW = envint("PORTAL_RESET_LIMIT_WINDOW", 60 * 60)

# --- Invitations and activation (invitations/) ----------------------------------------
# An activation code lives this many days; it dies after this many wrong tries of the
# name and birth date; one client address gets this many wrong tries per window.
PORTAL_ACTIVATION_CODE_DAYS = envint("PORTAL_ACTIVATION_CODE_DAYS", 30)
PORTAL_ACTIVATION_CODE_TRIES = envint("PORTAL_ACTIVATION_CODE_TRIES", 5)
PORTAL_ACTIVATION_LIMIT_PER_CLIENT = envint("PORTAL_ACTIVATION_LIMIT_PER_CLIENT", 10)
PORTAL_ACTIVATION_WINDOW = envint("PORTAL_ACTIVATION_WINDOW", 60 * 60)
# The identifier system of the clinic's MRNs (a URI), offered first when the front desk
# searches the EHR by MRN; blank: any system.
PORTAL_MRN_SYSTEM = env("PORTAL_MRN_SYSTEM")
# The clinic's name, in letters and e-mails.
PORTAL_CLINIC_NAME = env("PORTAL_CLINIC_NAME", "Carebridge Clinic")
# Proxy access: a parent or guardian has full access to a child under FULL_UNDER years,
# limited access from then, none from ADULT_AGE; a caregiver's grant lasts at most
# CAREGIVER_MONTHS. Ages count in the clinic's time zone (TIME_ZONE).
PORTAL_PROXY_FULL_UNDER = envint("PORTAL_PROXY_FULL_UNDER", 12)
PORTAL_PROXY_ADULT_AGE = envint("PORTAL_PROXY_ADULT_AGE", 18)
PORTAL_CAREGIVER_MONTHS = envint("PORTAL_CAREGIVER_MONTHS", 18)

# Number of reverse proxies in front of the portal whose X-Forwarded-For we
# trust. 0 (the default) means the header is ignored entirely; scripts/serve.sh
# sets 1, for its own nginx.
PORTAL_TRUSTED_PROXY_COUNT = envint("PORTAL_TRUSTED_PROXY_COUNT", 0)

# --- Emergency access -------------------------------------------------------------
PORTAL_BREAK_GLASS_MINUTES = envint("PORTAL_BREAK_GLASS_MINUTES", 60)
# Wrong codes on the emergency-access form: this many per clinician in the window
# (seconds) pause break-glass for that clinician. A counter of its own, so junk
# codes here never lock the clinician out of signing in (nor the reverse).
PORTAL_BREAK_GLASS_FAILURE_LIMIT = envint("PORTAL_BREAK_GLASS_FAILURE_LIMIT", 5)
PORTAL_BREAK_GLASS_FAILURE_WINDOW = envint("PORTAL_BREAK_GLASS_FAILURE_WINDOW", 15 * 60)
# Told (ids only) whenever emergency access is granted; unset means no mail.
PORTAL_PRIVACY_OFFICER_EMAIL = env("PORTAL_PRIVACY_OFFICER_EMAIL")

# --- The EHR (FHIR R4, SMART Backend Services) ------------------------------------
# Unset FHIR_BASE_URL means no EHR: records never sync (make run starts a demo EHR
# and sets these from var/ehr/portal.env). portal/checks.py refuses a half-set or
# non-HTTPS configuration.
FHIR_BASE_URL = env("FHIR_BASE_URL")
FHIR_CLIENT_ID = env("FHIR_CLIENT_ID")
FHIR_PRIVATE_KEY_FILE = env("FHIR_PRIVATE_KEY_FILE")
FHIR_KEY_ID = env("FHIR_KEY_ID")
FHIR_SIGNING_ALG = env("FHIR_SIGNING_ALG", "ES384")
# A CA bundle to trust for the EHR instead of the system's (a private CA, or the
# demo EHR's self-signed certificate).
FHIR_CA_BUNDLE = env("FHIR_CA_BUNDLE")
# Unset: the narrowest scopes the pages need, read and search of Patient and each
# type the sync fetches (records.sync.default_scope()).
FHIR_SCOPE = env("FHIR_SCOPE")
# Sign-in queues a sync when the patient's data is older than this (seconds).
FHIR_SYNC_STALE_AFTER = envint("FHIR_SYNC_STALE_AFTER", 15 * 60)
# A type's sync is complete (not incremental) at least this often (seconds): only a
# complete listing shows what the EHR has deleted since.
FHIR_COMPLETE_SYNC_INTERVAL = envint("FHIR_COMPLETE_SYNC_INTERVAL", 24 * 60 * 60)
# A patient's "Refresh" queues at most one sync per this many seconds.
FHIR_REFRESH_INTERVAL = envint("FHIR_REFRESH_INTERVAL", 5 * 60)

# --- Record downloads ---------------------------------------------------------------
# DejaVu Sans (Debian: fonts-dejavu-core) draws names and notes in most scripts in the
# PDF; without it the PDF falls back to a core font in Windows-1252 (records/pdf.py).
PORTAL_PDF_FONT_DIR = env("PORTAL_PDF_FONT_DIR", "/usr/share/fonts/truetype/dejavu")

# --- Secure messaging (messaging/) -----------------------------------------------
# A thread with no message for this many days offers "start a new message", not reply.
MESSAGING_IDLE_DAYS = envint("MESSAGING_IDLE_DAYS", 45)
MESSAGING_SUBJECT_MAX = 100
MESSAGING_BODY_MAX = 10_000
MESSAGING_MAX_FILES = envint("MESSAGING_MAX_FILES", 4)
MESSAGING_MAX_FILE_BYTES = envint("MESSAGING_MAX_FILE_BYTES", 6 * 1024 * 1024)
MESSAGING_MAX_TOTAL_BYTES = envint("MESSAGING_MAX_TOTAL_BYTES", 10 * 1024 * 1024)
# Images with more pixels are refused before they are decoded (decompression bombs).
MESSAGING_IMAGE_MAX_PIXELS = envint("MESSAGING_IMAGE_MAX_PIXELS", 40_000_000)
# clamd's unix socket: set, every attachment is scanned before it is stored (fail closed).
CLAMD_SOCKET = env("CLAMD_SOCKET")
CLAMD_TIMEOUT = envint("CLAMD_TIMEOUT", 30)
# "console": the SMS hook logs that a text would be sent (user id only); "" sends none.
MESSAGING_SMS_BACKEND = env(
    "MESSAGING_SMS_BACKEND", "console" if PORTAL_ENV != "production" else ""
)

# Response-time escalation: a thread whose patient has waited this many working hours
# for a staff reply is flagged in its pool, and the pool's lead is told (no PHI).
MESSAGING_RESPONSE_HOURS = envint("MESSAGING_RESPONSE_HOURS", 16)
MESSAGING_CLINIC_TIME_ZONE = env("MESSAGING_CLINIC_TIME_ZONE", env("PORTAL_TIME_ZONE", "UTC"))
# Working hours ("08:00-17:00"), working days (ISO weekdays, Monday 1) and holidays
# (comma-separated dates) in the clinic's time zone.
MESSAGING_WORKING_HOURS = env("MESSAGING_WORKING_HOURS", "08:00-17:00")
MESSAGING_WORKING_DAYS = env("MESSAGING_WORKING_DAYS", "1,2,3,4,5")
MESSAGING_HOLIDAYS = env("MESSAGING_HOLIDAYS")
# Who is told of overdue threads, per pool: "clinical=lead@clinic.example,billing=...".
MESSAGING_POOL_LEADS = env("MESSAGING_POOL_LEADS")

# Uploads stream to temporary files (never held in memory), and a request whose
# files pass the messaging total is cut off while it streams (messaging/uploads.py).
FILE_UPLOAD_HANDLERS = ["messaging.uploads.CappedUploadHandler"]
FILE_UPLOAD_MAX_MEMORY_SIZE = 0
# Where those temporary files go (unset: the system's, e.g. /tmp); the files live for one
# request. When it is full the form says so (messaging/uploads.py).
FILE_UPLOAD_TEMP_DIR = env("PORTAL_UPLOAD_TEMP_DIR") or None

# --- Background jobs (procrastinate, in PostgreSQL) -----------------------------
PROCRASTINATE_IMPORT_PATHS = [
    "portal.tasks",
    "audit.tasks",
    "records.tasks",
    "accounts.tasks",
    "invitations.tasks",
    "messaging.tasks",
    "appointments.tasks",
    "refills.tasks",
    "billing.tasks",
    "assistant.checkin_tasks",
]
# A worker killed mid-job (kill -9, out of memory, a lost host) leaves its jobs "doing":
# every worker writes a heartbeat this often (s), and the periodic portal.retry_stalled_jobs
# queues again the jobs of a worker silent for longer than PORTAL_JOB_STALLED_AFTER (s).
# A starting worker also removes workers silent that long (their jobs then count as
# stalled at once). Every job is written to be run twice safely (docs: "Faults").
PORTAL_JOB_HEARTBEAT = envint("PORTAL_JOB_HEARTBEAT", 10)
PORTAL_JOB_STALLED_AFTER = envint("PORTAL_JOB_STALLED_AFTER", 60)
PROCRASTINATE_WORKER_DEFAULTS = {
    "update_heartbeat_interval": PORTAL_JOB_HEARTBEAT,
    "stalled_worker_timeout": PORTAL_JOB_STALLED_AFTER,
}

# --- Appointments ----------------------------------------------------------------
# Where a video visit's join link points; {room} is an unguessable room name.
PORTAL_VIDEO_ROOM_URL = env("PORTAL_VIDEO_ROOM_URL", "https://video.clinic.invalid/room/{room}")
# Reminders, in hours before the appointment (comma-separated).
PORTAL_REMINDER_HOURS = [
    int(h) for h in env("PORTAL_REMINDER_HOURS", "72,24").split(",") if h.strip()
]

# --- Prescription refills ----------------------------------------------------------
# RxNorm codes never refilled online (controlled substances; the administrator adds
# more in the admin, refills.MedicineRule). The default: common Schedule II-IV
# ingredients, oxycodone (7804) among them.
REFILLS_CONTROLLED_RXNORM = frozenset(
    c.strip()
    for c in env(
        "REFILLS_CONTROLLED_RXNORM",
        "7804,5489,7052,4337,3423,6813,10689,2670,596,6470,2598,39993,725,6901",
    ).split(",")
    if c.strip()
)
# RxNorm codes that need a visit before each refill, and those whose approval asks
# for a fresh second factor (warfarin, 11289, by default).
REFILLS_NEEDS_VISIT_RXNORM = frozenset(
    c.strip() for c in env("REFILLS_NEEDS_VISIT_RXNORM").split(",") if c.strip()
)
REFILLS_HIGH_RISK_RXNORM = frozenset(
    c.strip() for c in env("REFILLS_HIGH_RISK_RXNORM", "11289").split(",") if c.strip()
)
# Days between two requests for the same prescription.
REFILLS_MIN_INTERVAL_DAYS = envint("REFILLS_MIN_INTERVAL_DAYS", 20)
# Business days (the clinic's working days) before an open request is flagged overdue.
REFILLS_OVERDUE_BUSINESS_DAYS = envint("REFILLS_OVERDUE_BUSINESS_DAYS", 2)
# The scope the decision write-back asks for (default: refills.fhir.WRITE_SCOPE).
REFILLS_FHIR_SCOPE = env("REFILLS_FHIR_SCOPE")

# --- Assistant: post-discharge check-ins --------------------------------------------
# Days after a discharge (an inpatient or emergency Encounter) on which a check-in is
# due, from the start of that day in the clinic's zone (comma-separated).
ASSISTANT_CHECKIN_DAYS = tuple(
    sorted(int(d) for d in env("ASSISTANT_CHECKIN_DAYS", "2,7,14").split(",") if d.strip())
)
# A check-in still unanswered this many hours after it became due raises a routine
# care-team alert (once); it closes (missed) this many hours after it became due.
ASSISTANT_CHECKIN_UNANSWERED_HOURS = envint("ASSISTANT_CHECKIN_UNANSWERED_HOURS", 48)
ASSISTANT_CHECKIN_OPEN_HOURS = envint("ASSISTANT_CHECKIN_OPEN_HOURS", 96)
if not ASSISTANT_CHECKIN_DAYS or ASSISTANT_CHECKIN_OPEN_HOURS <= ASSISTANT_CHECKIN_UNANSWERED_HOURS:
    raise ImproperlyConfigured(
        "ASSISTANT_CHECKIN_DAYS must name a day, and ASSISTANT_CHECKIN_OPEN_HOURS must pass "
        "ASSISTANT_CHECKIN_UNANSWERED_HOURS (the care team is told before a check-in closes)"
    )

# --- Bill pay (Stripe Checkout; card data never reaches the portal) -------------
# Unset secret key: online payment is off (statements still show). STRIPE_API_BASE
# points the client at a local Stripe-compatible server, in development only.
STRIPE_SECRET_KEY = envsecret("STRIPE_SECRET_KEY")
STRIPE_WEBHOOK_SECRET = envsecret("STRIPE_WEBHOOK_SECRET")
STRIPE_API_BASE = "" if PRODUCTION else env("STRIPE_API_BASE")
# Development only (`make run`'s demo): Stripe's hosted Checkout page is played by the
# portal's own page under /dev/checkout/ (billing/devcheckout), on top of the localstripe
# that STRIPE_API_BASE names. Never in production, and never without a local server.
BILLING_DEV_CHECKOUT = not PRODUCTION and bool(STRIPE_API_BASE) and envbool("BILLING_DEV_CHECKOUT")
# The certificate the portal's front presents (scripts/serve.sh's default), which the
# development hosted page verifies when it delivers its signed webhook to the portal.
BILLING_DEV_CHECKOUT_CA = env("PORTAL_TLS_CERT") or str(VAR_DIR / "tls" / "cert.pem")
# Signed webhooks older than this (seconds) are refused (replays).
STRIPE_WEBHOOK_TOLERANCE = envint("STRIPE_WEBHOOK_TOLERANCE", 300)
# Where Checkout's hosted page lives: the Pay form's POST redirects there, so the CSP of
# that one page (billing.views.statement) adds it to form-action (browsers apply
# form-action to a form's redirects too). Every other page keeps form-action 'self'.
STRIPE_CHECKOUT_ORIGIN = (
    "https://checkout.stripe.com"
    if PRODUCTION
    else env("STRIPE_CHECKOUT_ORIGIN", "https://checkout.stripe.com")
)
BILLING_CURRENCY = env("BILLING_CURRENCY", "usd")
# The smallest online payment a patient may make, in minor units (cents).
BILLING_MIN_PAYMENT = envint("BILLING_MIN_PAYMENT", 500)
# A Pay click within this many seconds of an open Checkout Session for the same amount
# reuses it (a double click makes one session).
BILLING_CHECKOUT_REUSE_SECONDS = envint("BILLING_CHECKOUT_REUSE_SECONDS", 1800)
# A refund above this (minor units) needs a re-authentication (password and a fresh
# second-factor code, accounts/reauth.py) within PORTAL_REAUTH_SECONDS.
BILLING_REFUND_REAUTH_ABOVE = envint("BILLING_REFUND_REAUTH_ABOVE", 10_000)
# Payment plans: the smallest monthly installment (minor units), the most months, and
# the days after an installment's due date on which a failed charge is tried again
# (three tries over a week by default; after the last the plan is in default).
BILLING_PLAN_MIN_MONTHLY = envint("BILLING_PLAN_MIN_MONTHLY", 2500)
BILLING_PLAN_MAX_MONTHS = envint("BILLING_PLAN_MAX_MONTHS", 12)
BILLING_PLAN_RETRY_DAYS = [
    int(d) for d in env("BILLING_PLAN_RETRY_DAYS", "2,7").split(",") if d.strip()
]

# --- Second factor ---------------------------------------------------------
OTP_TOTP_ISSUER = "Carebridge"
OTP_TOTP_THROTTLE_FACTOR = 1
OTP_STATIC_THROTTLE_FACTOR = 1
OTP_EMAIL_THROTTLE_FACTOR = 1
OTP_EMAIL_SUBJECT = "Your Carebridge sign-in code"
OTP_EMAIL_BODY_TEMPLATE_PATH = "accounts/email/otp_code.txt"
OTP_EMAIL_TOKEN_VALIDITY = 600
OTP_EMAIL_COOLDOWN_DURATION = 60
OTP_ADMIN_HIDE_SENSITIVE_DATA = True
BACKUP_CODE_COUNT = 10

# --- PHI encryption (portal/crypto) ---
# Key-encryption keys, "version:base64 key" comma-separated: the highest version
# wraps new and rotated patient keys, older ones only unwrap (manage.py rotate_keys).
PORTAL_KEKS = envsecret("PORTAL_KEKS", DEV_FILE("keks"))
# Keyed HMAC for exact lookups (MRN, e-mail) without storing the value.
PORTAL_BLIND_INDEX_KEY = envsecret("PORTAL_BLIND_INDEX_KEY", DEV_FILE("blind_index_key"))
# Per-patient key shares, outside the database and its dumps: destroying one is what
# makes crypto-shredding hold against old dumps (see portal/crypto/__init__.py).
PORTAL_KEY_STORE_DIR = env("PORTAL_KEY_STORE_DIR") or str(DEV_FILE("keystore") or "")
# Encrypts database backups (manage.py backup); separate from the KEKs, so a stolen
# backup plus its key still needs the KEKs and the key store (docs/operations.md).
PORTAL_BACKUP_KEY = envsecret("PORTAL_BACKUP_KEY", DEV_FILE("backup_key"))
# The public half of the clinic's offline recovery key: key backups are encrypted to it.
PORTAL_RECOVERY_PUBLIC_KEY = envsecret("PORTAL_RECOVERY_PUBLIC_KEY")

# --- Sessions ----------------------------------------------------------------
SESSION_ENGINE = "accounts.session_store"
SESSION_COOKIE_NAME = "__Host-session"
SESSION_COOKIE_SECURE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
PORTAL_IDLE_TIMEOUT = envint("PORTAL_IDLE_TIMEOUT", 15 * 60)
PORTAL_IDLE_WARNING = envint("PORTAL_IDLE_WARNING", 2 * 60)
# The last activity is written to the session at most this often (s): the idle logoff
# may come up to this much early, never late, and most requests write nothing.
PORTAL_ACTIVITY_RESOLUTION = envint("PORTAL_ACTIVITY_RESOLUTION", 30)
PORTAL_SESSION_MAX_AGE = envint("PORTAL_SESSION_MAX_AGE", 12 * 60 * 60)
SESSION_COOKIE_AGE = PORTAL_SESSION_MAX_AGE
# "Sudo mode": a sensitive account change (authenticator, backup codes, password,
# e-mail address, ending sessions) needs the password and a code again within this
# many seconds, so an unattended or stolen session cannot take the account over.
PORTAL_REAUTH_SECONDS = envint("PORTAL_REAUTH_SECONDS", 5 * 60)

CSRF_COOKIE_NAME = "__Host-csrftoken"
CSRF_COOKIE_SECURE = True
CSRF_COOKIE_HTTPONLY = True
CSRF_COOKIE_SAMESITE = "Lax"
CSRF_FAILURE_VIEW = "portal.views.csrf_failure"

# --- Transport and browser security -------------------------------------------
SECURE_SSL_REDIRECT = True
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = 365 * 24 * 60 * 60
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = envbool("PORTAL_HSTS_PRELOAD")
# Joining the browsers' HSTS preload list binds the whole domain for years;
# that is each clinic's decision (PORTAL_HSTS_PRELOAD), not a default.
SILENCED_SYSTEM_CHECKS = ["security.W021"]
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if PORTAL_TRUSTED_PROXY_COUNT:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'none'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
        "base-uri": ["'none'"],
        "object-src": ["'none'"],
    },
}
PERMISSIONS_POLICY = (
    "accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), "
    "microphone=(), payment=(), usb=(), interest-cohort=()"
)

# --- Static files ------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# --- E-mail ----------------------------------------------------------------------
# Mail carries no PHI: codes, links and "you have a new message" only.
# Links in mail are built from this address, never from a request's Host header
# (which a client chooses). Production must set it (portal.E006).
PORTAL_BASE_URL = env("PORTAL_BASE_URL").rstrip("/") or (
    "" if PRODUCTION else f"https://localhost:{env('PORT', '8443')}"
)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", "Carebridge <no-reply@localhost>")
OTP_EMAIL_SENDER = DEFAULT_FROM_EMAIL
if env("EMAIL_HOST"):
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = env("EMAIL_HOST")
    EMAIL_PORT = envint("EMAIL_PORT", 587)
    EMAIL_HOST_USER = env("EMAIL_HOST_USER")
    EMAIL_HOST_PASSWORD = envsecret("EMAIL_HOST_PASSWORD")
    EMAIL_USE_TLS = True
    EMAIL_TIMEOUT = 10
else:
    # Development keeps mail on disk under var/mail; production without
    # EMAIL_HOST is refused by a system check.
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = VAR_DIR / "mail"

# --- Internationalisation ----------------------------------------------------------
LANGUAGE_CODE = "en-us"
# Stored and computed in UTC; shown in the clinic's zone (PORTAL_TIME_ZONE, an IANA name,
# activated per request by portal.middleware.TimeZoneMiddleware and named on every page).
# Appointment pages show each location's own zone instead.
TIME_ZONE = "UTC"
PORTAL_TIME_ZONE = env("PORTAL_TIME_ZONE", "UTC")
try:
    zoneinfo.ZoneInfo(PORTAL_TIME_ZONE)
except (zoneinfo.ZoneInfoNotFoundError, ValueError) as error:
    raise ImproperlyConfigured(
        f"PORTAL_TIME_ZONE={PORTAL_TIME_ZONE!r} is not an IANA time zone name"
    ) from error
USE_I18N = True
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Logging: ids only, never PHI --------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("PORTAL_LOG_LEVEL", "INFO")},
    "loggers": {
        # Django's request logger prints the full path (and so any query
        # string); our own middleware logs request ids instead.
        "django.request": {"handlers": ["console"], "level": "ERROR", "propagate": False},
        "django.security": {"handlers": ["console"], "level": "WARNING", "propagate": False},
        "axes": {"level": "WARNING"},
        "procrastinate.blueprints": {"level": "WARNING"},
        # Says at every start-up, in every command, which periodic tasks it registered.
        "procrastinate.periodic": {"level": "WARNING"},
        # httpx logs every request URL at INFO; FHIR queries name the patient.
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
        # fontTools logs the glyphs of each PDF it subsets: which letters a name has.
        "fontTools": {"level": "WARNING"},
    },
}

# --- Audit workspace ---------------------------------------------------------------
# Ed25519 key that signs audit checkpoints and export manifests. It is kept out of the
# database so that the role writing the trail cannot forge a signed chain head; old
# public keys (base64, comma-separated) keep earlier signatures verifiable after rotation.
AUDIT_SIGNING_KEY = envsecret("PORTAL_AUDIT_SIGNING_KEY", DEV_FILE("audit_signing_key"))
AUDIT_OLD_PUBLIC_KEYS = [k.strip() for k in env("PORTAL_AUDIT_OLD_PUBLIC_KEYS").split(",") if k]
# verify_audit fails when the newest checkpoint is older than this while newer events
# exist (0: off). Set it above the checkpoint interval: deleting the tail together with
# its checkpoints then shows as a missing checkpoint.
AUDIT_CHECKPOINT_MAX_AGE = envint("PORTAL_AUDIT_CHECKPOINT_MAX_AGE", 0)
# After a commit that recorded events, each process tries to extend the hash chain at
# most once per this many milliseconds (0: after every such commit). The worker's
# audit.seal job seals whatever is left every minute.
AUDIT_SEAL_INTERVAL_MS = envint("PORTAL_AUDIT_SEAL_INTERVAL_MS", 1000)
AUDIT_PAGE_SIZE = 50
AUDIT_EXPORT_CHUNK = 2000
# django-auditlog: field-level changes of configuration models (registered in
# audit/changelog.py, PHI fields masked). Its own middleware would trust
# X-Forwarded-For; ours names the actor and takes the address from portal.net.

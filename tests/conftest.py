"""The cast and the helpers every test shares.

alice and mallory are patients; carol is a physician and dave another one;
nina is a nurse, bill works in billing, fran at the front desk, ada is the
administrator and otto the auditor. Everyone signs in with a password and an
authenticator app, as in real life.
"""

import base64
import secrets

import factory
import pytest
from django.contrib.auth.hashers import make_password
from django.db import connection
from django.test import Client
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import User
from patients.models import Patient
from portal.access import Role

pytest_plugins = ["tests.ehr_fixtures", "tests.fake_ehr"]

PASSWORD = "correct horse battery staple"
# Hashing once keeps the suite fast while every login still runs Argon2.
PASSWORD_HASH = make_password(PASSWORD)


class SecureClient(Client):
    """A test client that speaks HTTPS, as every real client must."""

    def generic(self, *args, secure=True, **kwargs):
        return super().generic(*args, secure=True, **kwargs)


class PatientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Patient


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.org")
    role = Role.PATIENT
    password = PASSWORD_HASH
    patient = factory.Maybe(
        factory.LazyAttribute(lambda u: u.role == Role.PATIENT),
        yes_declaration=factory.SubFactory(PatientFactory),
        no_declaration=None,
    )

    @factory.post_generation
    def authenticator(self, create, extracted, **kwargs):
        """Every cast member has a confirmed authenticator unless told otherwise."""
        if create and extracted is not False:
            TOTPDevice.objects.create(
                user=self,
                name="Authenticator app",
                key=secrets.token_hex(20),
                confirmed=True,
            )


def totp_now(device: TOTPDevice, offset: int = 0) -> str:
    """The code the user's phone shows now (offset in 30 s steps)."""
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = totp.time + offset * device.step
    return f"{totp.token():0{device.digits}d}"


def totp_from_secret(secret_b32: str) -> str:
    return totp_now(TOTPDevice(key=base64.b32decode(secret_b32).hex()))


def device_of(user: User) -> TOTPDevice:
    return TOTPDevice.objects.get(user=user, confirmed=True)


def sign_in_password(client: Client, user: User, password: str = PASSWORD, **extra):
    return client.post(
        "/accounts/sign-in/", {"username": user.username, "password": password}, **extra
    )


def sign_in_fully(client: Client, user: User) -> Client:
    """Password and authenticator code, as the user would.

    A code works once, so a real user signing in on a second device waits for
    the next one; forgetting the last used step here stands in for that wait.
    """
    response = sign_in_password(client, user)
    assert response.status_code == 302, response
    TOTPDevice.objects.filter(user=user).update(last_t=-1)
    response = client.post(
        "/accounts/sign-in/verify/", {"method": "totp", "token": totp_now(device_of(user))}
    )
    assert response.status_code == 302, response
    return client


@pytest.fixture(autouse=True)
def _private_key_store(settings, tmp_path):
    """Key shares written by a test go to its own directory, never to var/keystore."""
    settings.PORTAL_KEY_STORE_DIR = str(tmp_path / "keystore")


@pytest.fixture
def client() -> SecureClient:
    return SecureClient()


@pytest.fixture
def make_client():
    return SecureClient


def _cast(username: str, role: Role, **extra) -> User:
    return UserFactory(username=username, role=role, **extra)


@pytest.fixture
def alice(db) -> User:
    return _cast("alice", Role.PATIENT)


@pytest.fixture
def mallory(db) -> User:
    return _cast("mallory", Role.PATIENT)


@pytest.fixture
def carol(db) -> User:
    return _cast("carol", Role.PHYSICIAN, display_name="Dr Carol Chen")


@pytest.fixture
def dave(db) -> User:
    return _cast("dave", Role.PHYSICIAN, display_name="Dr Dave Okafor")


@pytest.fixture
def nina(db) -> User:
    return _cast("nina", Role.NURSE)


@pytest.fixture
def bill(db) -> User:
    return _cast("bill", Role.BILLING)


@pytest.fixture
def fran(db) -> User:
    return _cast("fran", Role.FRONT_DESK)


@pytest.fixture
def ada(db) -> User:
    return _cast("ada", Role.ADMIN)


@pytest.fixture
def otto(db) -> User:
    return _cast("otto", Role.AUDITOR)


@pytest.fixture
def greta(db) -> User:
    """A proxy account (a parent or caregiver) with no record of her own and no grant yet."""
    return _cast("greta", Role.PROXY)


@pytest.fixture
def newcomer(db) -> User:
    """A patient whose account exists but who has not set up two-step sign-in yet."""
    return _cast("newcomer", Role.PATIENT, authenticator=False)


# Tables whose own triggers refuse UPDATE, DELETE and TRUNCATE (audit, ledger).
APPEND_ONLY_TABLES = """
    SELECT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
     WHERE NOT t.tgisinternal AND t.tgname LIKE '%\\_no\\_truncate' ORDER BY 1
"""
_TRIGGERS_OFF: list[str] = []


@pytest.fixture
def committed(transactional_db):
    """For tests whose data must really commit (the audit sealer only seals
    finished transactions, and a separate server process must see the data).

    After the test Django empties the tables with TRUNCATE, which the
    append-only tables refuse, and leaves the job queue alone (emptied here).
    The suite runs as a role that is not a superuser (as on a managed
    database) but owns the test database's tables, and an owner may switch a
    table's own triggers off: they are, for Django's clean-up only, and
    ``pytest_runtest_teardown`` below switches them on again right after it.
    """
    yield
    with connection.cursor() as cursor:
        # procrastinate's tables are not Django's to flush: empty the queue here, so that
        # the next test sees only the jobs it queued itself.
        cursor.execute("TRUNCATE procrastinate_jobs CASCADE")
        cursor.execute(APPEND_ONLY_TABLES)
        tables = [name for (name,) in cursor.fetchall()]
        for table in tables:
            cursor.execute(f'ALTER TABLE "{table}" DISABLE TRIGGER USER')
    _TRIGGERS_OFF.extend(tables)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item, nextitem):
    """After a ``committed`` test's clean-up (Django's flush is its last fixture
    teardown), switch the append-only triggers on again, on a connection of
    its own: no test's transaction or lock is involved at this point."""
    yield
    if not _TRIGGERS_OFF:
        return
    import psycopg

    params = connection.settings_dict
    with psycopg.connect(
        dbname=params["NAME"],
        user=params["USER"],
        password=params["PASSWORD"],
        host=params["HOST"],
        port=params["PORT"],
        autocommit=True,
    ) as own:
        for table in _TRIGGERS_OFF:
            own.execute(f'ALTER TABLE "{table}" ENABLE TRIGGER USER')
    _TRIGGERS_OFF.clear()

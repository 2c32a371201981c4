"""Second factors that a database dump does not give away (issue 16, safeguard debt 1).

The TOTP seed is sealed under the KEK and bound to its owner; backup codes are
kept as keyed digests bound to their owner. A dump holds neither.
"""

import base64
import datetime as dt
import importlib

import pytest
import time_machine
from django.db import connection

from accounts.models import AuthenticatorDevice, BackupCode, BackupCodeDevice
from accounts.services import _new_backup_codes
from audit.actions import Action
from portal.crypto.errors import DecryptionError
from tests.audit_helpers import last_event
from tests.conftest import sign_in_fully, sign_in_password, totp_from_secret, totp_now
from tests.portal.crypto.conftest import pg_dump

ENROL = "/accounts/sign-in/enrol/"
VERIFY = "/accounts/sign-in/verify/"
NOON = dt.datetime(2026, 3, 2, 12, 0, 0, tzinfo=dt.UTC)


def raw_seed(device: AuthenticatorDevice) -> bytes:
    with connection.cursor() as cursor:
        cursor.execute("SELECT seed FROM accounts_authenticatordevice WHERE id = %s", [device.pk])
        return bytes(cursor.fetchone()[0])


def every_row_as_text() -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = 'public' AND table_type = 'BASE TABLE'"
        )
        tables = [name for (name,) in cursor.fetchall()]
        rows = []
        for table in tables:
            cursor.execute(f'SELECT t::text FROM "{table}" t')  # noqa: S608
            rows += [text for (text,) in cursor.fetchall()]
    return "\n".join(rows)


def enrol_through_the_pages(client, user) -> tuple[bytes, list[str]]:
    """The seed shown on the enrolment page and the backup codes handed out after it."""
    sign_in_password(client, user)
    secret = client.get(ENROL).context["secret"]
    response = client.post(ENROL, {"token": totp_from_secret(secret)})
    assert response.status_code == 200
    return base64.b32decode(secret), response.context["codes"]


# --- The canary: a dump holds no second factor -------------------------------------


def test_it_leaves_no_seed_and_no_backup_code_in_a_database_dump(committed, client, newcomer):
    seed, codes = enrol_through_the_pages(client, newcomer)
    assert len(codes) == 10
    device = AuthenticatorDevice.objects.get(user=newcomer, confirmed=True)
    b32 = base64.b32encode(seed).decode()
    needles = [seed.hex(), seed.hex().upper(), b32, b32.rstrip("="), b32.lower(), *codes]
    needles += [c.upper() for c in codes] + [c.encode().hex() for c in codes]

    dump = pg_dump()
    assert raw_seed(device).hex() in dump  # the sealed seed is there, and was dumped
    assert BackupCode.objects.filter(device__user=newcomer).count() == 10
    for needle in needles:
        assert needle not in dump
    assert seed not in dump.encode()
    everything = every_row_as_text()
    for needle in needles:
        assert needle not in everything


def test_it_stores_the_seed_sealed_under_a_named_kek_version(db, alice, settings):
    device = AuthenticatorDevice.objects.get(user=alice)
    stored = raw_seed(device)
    newest = max(int(entry.split(":")[0]) for entry in settings.PORTAL_KEKS.split(","))
    assert int.from_bytes(stored[:4], "big") == newest
    assert device.bin_key not in stored
    assert len(stored) == 4 + 1 + 12 + len(device.bin_key) + 16


# --- The seed ----------------------------------------------------------------------------


def test_it_refuses_a_sealed_seed_moved_to_another_users_device(db, alice, mallory):
    alices = AuthenticatorDevice.objects.get(user=alice)
    mallorys = AuthenticatorDevice.objects.get(user=mallory)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE accounts_authenticatordevice SET seed = %s WHERE id = %s",
            [raw_seed(alices), mallorys.pk],
        )
    moved = AuthenticatorDevice.objects.get(pk=mallorys.pk)
    with pytest.raises(DecryptionError) as raised:
        _ = moved.bin_key
    assert str(mallorys.pk) in str(raised.value)
    assert alices.bin_key.hex() not in str(raised.value)
    assert last_event(Action.DECRYPT_FAILED).object_type == "accounts.authenticatordevice.seed"
    # Alice's code does not open Mallory's account, and the refusal counts.
    moved = AuthenticatorDevice.objects.get(pk=mallorys.pk)
    assert not moved.verify_token(totp_now(alices))
    assert AuthenticatorDevice.objects.get(pk=mallorys.pk).throttling_failure_count == 1


def test_it_refuses_a_wrong_code_and_counts_it(db, alice):
    device = AuthenticatorDevice.objects.get(user=alice)
    with time_machine.travel(NOON, tick=False):
        right = totp_now(device)
        valid = {totp_now(device, offset) for offset in (-1, 0, 1)}
        wrong = next(code for code in ("000000", "000001", "000002", "000003") if code not in valid)
        assert not device.verify_token(wrong)
        assert not device.verify_token("abcdef")
        assert AuthenticatorDevice.objects.get(pk=device.pk).throttling_failure_count == 1
    with time_machine.travel(NOON + dt.timedelta(seconds=2), tick=False):
        assert device.verify_token(right)  # after the throttle's one-second wait


def test_it_accepts_a_code_once(db, alice):
    device = AuthenticatorDevice.objects.get(user=alice)
    with time_machine.travel(NOON, tick=False):
        code = totp_now(device)
        assert device.verify_token(code)
        assert not AuthenticatorDevice.objects.get(pk=device.pk).verify_token(code)


@pytest.mark.parametrize(("offset", "accepted"), [(-2, False), (-1, True), (1, True), (2, False)])
def test_it_allows_one_step_of_clock_skew_and_no_more(db, alice, offset, accepted):
    device = AuthenticatorDevice.objects.get(user=alice)
    with time_machine.travel(NOON, tick=False):
        phone_code = totp_now(device, offset=offset)
        assert device.verify_token(phone_code) is accepted


def test_it_keeps_the_enrolment_qr_code_in_the_standard_format(db, alice):
    device = AuthenticatorDevice.objects.get(user=alice)
    secret = base64.b32encode(device.bin_key).decode()
    assert device.config_url == (
        f"otpauth://totp/Carebridge%3Aalice?secret={secret}"
        "&algorithm=SHA1&digits=6&period=30&issuer=Carebridge"
    )


def test_the_verified_session_names_the_new_device_and_survives(client, alice):
    sign_in_fully(client, alice)
    device = AuthenticatorDevice.objects.get(user=alice)
    assert client.session["otp_device_id"] == f"accounts.authenticatordevice/{device.pk}"
    assert client.get("/patient/").status_code == 200
    assert client.get("/patient/").status_code == 200


def test_a_session_verified_by_a_backup_code_survives(client, alice):
    codes = _new_backup_codes(alice)
    sign_in_password(client, alice)
    assert client.post(VERIFY, {"method": "backup", "token": codes[0]}).status_code == 302
    assert client.session["otp_device_id"].startswith("accounts.backupcodedevice/")
    assert client.get("/patient/").status_code == 200


# --- Backup codes --------------------------------------------------------------------


def test_it_takes_a_backup_code_once(db, alice):
    codes = _new_backup_codes(alice)
    device = BackupCodeDevice.objects.get(user=alice)
    assert device.verify_token(codes[3])
    assert not BackupCodeDevice.objects.get(pk=device.pk).verify_token(codes[3])
    assert BackupCode.objects.filter(device=device).count() == 9


def test_it_does_not_take_a_code_of_another_user_nor_its_copied_digest(db, alice, mallory):
    alices = _new_backup_codes(alice)
    _new_backup_codes(mallory)
    alice_device = BackupCodeDevice.objects.get(user=alice)
    mallory_device = BackupCodeDevice.objects.get(user=mallory)
    # The same code digests differently for each owner...
    assert alice_device.code_digest(alices[0]) != mallory_device.code_digest(alices[0])
    # ...so a digest copied into Mallory's set does not let Alice's code in.
    stolen = BackupCode.objects.filter(device=alice_device).first()
    BackupCode.objects.create(device=mallory_device, digest=stolen.digest)
    assert not any(mallory_device.use_code(code) for code in alices)
    assert BackupCode.objects.filter(device=mallory_device).count() == 11
    assert alice_device.verify_token(alices[0])


# --- Moving the clear rows of an older installation -----------------------------------

LEGACY_TABLES = """
CREATE TABLE otp_totp_totpdevice (
    id bigserial PRIMARY KEY, name varchar(64) NOT NULL, confirmed boolean NOT NULL,
    user_id uuid NOT NULL, key varchar(80) NOT NULL, step smallint NOT NULL,
    t0 bigint NOT NULL, digits smallint NOT NULL, tolerance smallint NOT NULL,
    drift smallint NOT NULL, last_t bigint NOT NULL,
    throttling_failure_timestamp timestamptz NULL, throttling_failure_count integer NOT NULL,
    created_at timestamptz NULL, last_used_at timestamptz NULL);
CREATE TABLE otp_static_staticdevice (
    id bigserial PRIMARY KEY, name varchar(64) NOT NULL, confirmed boolean NOT NULL,
    user_id uuid NOT NULL,
    throttling_failure_timestamp timestamptz NULL, throttling_failure_count integer NOT NULL,
    created_at timestamptz NULL, last_used_at timestamptz NULL);
CREATE TABLE otp_static_statictoken (
    id bigserial PRIMARY KEY,
    device_id bigint NOT NULL REFERENCES otp_static_staticdevice (id),
    token varchar(16) NOT NULL);
"""


def test_the_migration_seals_clear_seeds_digests_clear_codes_and_drops_their_tables(db, newcomer):
    from django.apps import apps

    migration = importlib.import_module("accounts.migrations.0007_move_clear_second_factors")
    seed = bytes(range(20))
    created = dt.datetime(2025, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    with connection.cursor() as cursor:
        cursor.execute(LEGACY_TABLES)
        cursor.execute(
            "INSERT INTO otp_totp_totpdevice (name, confirmed, user_id, key, step, t0, digits, "
            "tolerance, drift, last_t, throttling_failure_count, created_at) "
            "VALUES ('Authenticator app', true, %s, %s, 30, 0, 6, 1, 0, 7, 2, %s)",
            [newcomer.pk, seed.hex(), created],
        )
        cursor.execute(
            "INSERT INTO otp_static_staticdevice (name, confirmed, user_id, "
            "throttling_failure_count) VALUES ('Backup codes', true, %s, 0) RETURNING id",
            [newcomer.pk],
        )
        (static_id,) = cursor.fetchone()
        cursor.execute(
            "INSERT INTO otp_static_statictoken (device_id, token) "
            "VALUES (%s, 'kq4p7mzt2x'), (%s, 'h8vb3nw6yr')",
            [static_id, static_id],
        )
        cursor.execute(
            "INSERT INTO django_migrations (app, name, applied) "
            "VALUES ('otp_totp', '0001_initial', now())"
        )

    with connection.schema_editor() as editor:
        migration.move_clear_second_factors(apps, editor)

    device = AuthenticatorDevice.objects.get(user=newcomer)
    assert device.bin_key == seed
    assert (device.last_t, device.throttling_failure_count, device.created_at) == (7, 2, created)
    assert seed.hex() not in every_row_as_text()
    backup = BackupCodeDevice.objects.get(user=newcomer)
    assert backup.verify_token("h8vb3nw6yr")
    assert not backup.verify_token("h8vb3nw6yr")
    assert "kq4p7mzt2x" not in every_row_as_text()
    tables = set(connection.introspection.table_names())
    assert not tables & {"otp_totp_totpdevice", "otp_static_staticdevice", "otp_static_statictoken"}
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM django_migrations WHERE app = 'otp_totp'")
        assert cursor.fetchone() == (0,)


def test_the_migration_does_nothing_on_a_fresh_database(db, alice):
    from django.apps import apps

    migration = importlib.import_module("accounts.migrations.0007_move_clear_second_factors")
    before = list(AuthenticatorDevice.objects.values_list("pk", flat=True))
    with connection.schema_editor() as editor:
        migration.move_clear_second_factors(apps, editor)
    assert list(AuthenticatorDevice.objects.values_list("pk", flat=True)) == before


# --- The admin ---------------------------------------------------------------------------


def test_the_admin_shows_a_device_but_never_its_seed_and_cannot_add_one(client, ada, alice):
    sign_in_fully(client, ada)
    device = AuthenticatorDevice.objects.get(user=alice)
    page = client.get(f"/admin/accounts/authenticatordevice/{device.pk}/change/")
    assert page.status_code == 200
    text = page.content.decode()
    seed_b32 = base64.b32encode(device.bin_key).decode()
    assert device.bin_key.hex() not in text
    assert seed_b32 not in text
    assert seed_b32.rstrip("=") not in text
    assert client.get("/admin/accounts/authenticatordevice/add/").status_code == 403
    listing = client.get("/admin/accounts/backupcodedevice/")
    assert listing.status_code == 200

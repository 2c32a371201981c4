"""Move django-otp's clear TOTP seeds and backup codes into our devices, then drop them.

django-otp's otp_totp and otp_static apps kept the seed (hex) and the backup
codes in clear. They are no longer installed, so their rows are read with SQL
where their tables exist (an installation made before this migration) and
nothing happens where they do not (a fresh database): each seed is sealed
under the newest KEK and each code kept as a keyed digest, then the clear
tables are dropped and their migration records forgotten, so a dump taken
from now on holds neither. Sessions that were verified with an old device
name it by its old persistent id, which no longer resolves: those users are
asked for their second factor again, once.

Going back does not put seeds back in clear (that is not something to
automate): it does nothing here, and undoing 0006 then drops the devices, so
everyone enrols again.
"""

from django.db import migrations

from portal.crypto.site_secrets import secret_digest

OLD_TABLES = ("otp_static_statictoken", "otp_static_staticdevice", "otp_totp_totpdevice")
TOTP_COLUMNS = (
    "id, user_id, name, confirmed, key, step, t0, digits, tolerance, drift, last_t, "
    "throttling_failure_timestamp, throttling_failure_count, created_at, last_used_at"
)
STATIC_COLUMNS = (
    "id, user_id, name, confirmed, throttling_failure_timestamp, throttling_failure_count, "
    "created_at, last_used_at"
)


def _rows(cursor, sql: str) -> list[dict]:
    cursor.execute(sql)
    names = [c.name for c in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def move_clear_second_factors(apps, schema_editor) -> None:
    connection = schema_editor.connection
    tables = set(connection.introspection.table_names())
    authenticator = apps.get_model("accounts", "AuthenticatorDevice")
    backup_device = apps.get_model("accounts", "BackupCodeDevice")
    backup_code = apps.get_model("accounts", "BackupCode")
    with connection.cursor() as cursor:
        if "otp_totp_totpdevice" in tables:
            for old in _rows(cursor, f"SELECT {TOTP_COLUMNS} FROM otp_totp_totpdevice"):  # noqa: S608
                device = authenticator(
                    user_id=old["user_id"],
                    name=old["name"],
                    confirmed=old["confirmed"],
                    seed=bytes.fromhex(old["key"]),
                    step=old["step"],
                    t0=old["t0"],
                    digits=old["digits"],
                    tolerance=old["tolerance"],
                    drift=old["drift"],
                    last_t=old["last_t"],
                    throttling_failure_timestamp=old["throttling_failure_timestamp"],
                    throttling_failure_count=old["throttling_failure_count"],
                    last_used_at=old["last_used_at"],
                )
                device.save()
                authenticator.objects.filter(pk=device.pk).update(created_at=old["created_at"])
        if {"otp_static_staticdevice", "otp_static_statictoken"} <= tables:
            for old in _rows(cursor, f"SELECT {STATIC_COLUMNS} FROM otp_static_staticdevice"):  # noqa: S608
                device = backup_device.objects.create(
                    user_id=old["user_id"],
                    name=old["name"],
                    confirmed=old["confirmed"],
                    throttling_failure_timestamp=old["throttling_failure_timestamp"],
                    throttling_failure_count=old["throttling_failure_count"],
                    last_used_at=old["last_used_at"],
                )
                backup_device.objects.filter(pk=device.pk).update(created_at=old["created_at"])
                cursor.execute(
                    "SELECT token FROM otp_static_statictoken WHERE device_id = %s", [old["id"]]
                )
                backup_code.objects.bulk_create(
                    backup_code(
                        device=device,
                        digest=secret_digest(token, purpose="backup_code", owner=old["user_id"]),
                    )
                    for (token,) in cursor.fetchall()
                )
        for table in OLD_TABLES:
            if table in tables:
                cursor.execute(f'DROP TABLE "{table}" CASCADE')
        cursor.execute("DELETE FROM django_migrations WHERE app IN ('otp_totp', 'otp_static')")


class Migration(migrations.Migration):
    dependencies = [("accounts", "0006_second_factor_devices")]

    operations = [
        migrations.RunPython(
            move_clear_second_factors, reverse_code=migrations.RunPython.noop, elidable=False
        )
    ]

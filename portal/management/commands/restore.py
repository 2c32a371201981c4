"""Restore an encrypted database backup into an empty database, then re-apply disposals
and verify the audit chain (portal/backup/database.py)."""

from io import StringIO
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from portal.backup import database
from portal.backup.progress import Progress
from portal.crypto import services
from portal.crypto.errors import CryptoError


class Command(BaseCommand):
    help = (
        "Restore a backup made by `manage.py backup` into the configured database, which "
        "must be empty. The whole file is authenticated before anything is written. Then "
        "every disposal in the key store's disposal log is re-applied and verify_audit runs."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("src", type=Path, help="The backup file.")

    def handle(self, *args: Any, src: Path, **options: Any) -> None:
        if not src.is_file():
            raise CommandError(f"No backup file {src}")
        size = src.stat().st_size
        try:
            checked = database.restore_into_empty(
                src,
                check_progress=Progress("checking", total=size),
                restore_progress=Progress("restoring"),
            )
        except (database.BackupError, CryptoError, OSError) as exc:
            raise CommandError(f"Restore refused: {exc}. Nothing was written.") from None
        local = checked.created_at.astimezone(ZoneInfo(settings.PORTAL_TIME_ZONE))
        self.stdout.write(
            f"Restored backup {checked.backup_id} taken at "
            f"{checked.created_at:%Y-%m-%d %H:%M:%S} UTC ({local:%Y-%m-%d %H:%M} "
            f"{local.tzname()}), {checked.plaintext_bytes} bytes."
        )
        try:
            report = services.disposals_reapply(
                backup_id=checked.backup_id, since=checked.created_at
            )
        except CryptoError as exc:
            raise CommandError(
                f"The database was restored, but the disposal log cannot be read: {exc}. "
                "Do not open the portal until every disposal is re-applied."
            ) from None
        self.stdout.write(
            f"Disposals: {report.recorded} in the log ({report.since} after this backup was "
            f"taken), {len(report.reapplied)} re-applied (not in this backup's database: "
            f"{report.not_in_database})."
        )
        if database.audit_xid_behind():
            self.stderr.write(
                "Warning: this server's transaction ids are behind the restored audit events';"
                " new audit events stay unsealed until it catches up (docs/operations.md,"
                " 'Restoring the database from a backup')."
            )
        out = StringIO()
        try:
            call_command("verify_audit", stdout=out)
        except CommandError as exc:
            raise CommandError(f"verify_audit: {exc}") from None
        self.stdout.write(f"verify_audit: {out.getvalue().strip()}")

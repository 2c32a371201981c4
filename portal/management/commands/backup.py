"""Write an encrypted backup of the portal's database (portal/backup/database.py)."""

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from portal.backup import database
from portal.backup.progress import Progress
from portal.crypto.errors import CryptoError


class Command(BaseCommand):
    help = (
        "Back up the database: pg_dump (custom format) encrypted in chunks under "
        "PORTAL_BACKUP_KEY, with DEST.manifest.json beside it. DEST may be a directory."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("dest", type=Path, help="The backup file to write, or a directory.")

    def handle(self, *args: Any, dest: Path, **options: Any) -> None:
        if dest.is_dir():
            dest = database.new_backup_name(dest)
        try:
            manifest = database.backup_create(dest, progress=Progress("backup"))
        except (database.BackupError, CryptoError, OSError) as exc:
            raise CommandError(f"Backup failed: {exc}") from None
        self.stdout.write(
            f"Backup {manifest['backup_id']} written to {dest} "
            f"({manifest['ciphertext_bytes']} bytes, {manifest['chunks']} chunks, "
            f"key {manifest['key_id']}); manifest {database.manifest_path(dest).name}"
        )

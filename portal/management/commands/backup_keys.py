"""Back up the key material, encrypted to the recovery public key (portal/backup/keys.py)."""

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from portal.backup import keys
from portal.crypto.errors import CryptoError


class Command(BaseCommand):
    help = (
        "Write the KEKs, the blind-index, audit-signing and backup keys, the key store and "
        "its disposal log to DEST, encrypted to the clinic's recovery public key."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("dest", type=Path, help="The key backup file to write.")
        parser.add_argument(
            "--recovery-public-key",
            help="The recovery public key (base64); default PORTAL_RECOVERY_PUBLIC_KEY(_FILE).",
        )

    def handle(
        self, *args: Any, dest: Path, recovery_public_key: str | None, **options: Any
    ) -> None:
        try:
            meta = keys.backup_keys_create(
                dest, recipient=keys.recipient_public_key(recovery_public_key)
            )
        except (keys.KeyBackupError, CryptoError) as exc:
            raise CommandError(f"Key backup failed: {exc}") from None
        self.stdout.write(
            f"Key backup written to {dest}: {len(keys.SECRETS)} keys and {meta['shares']} "
            f"key shares, encrypted to recovery key {meta['recipient']}. Store it apart from "
            "the database backups (docs/operations.md)."
        )

"""Restore a key backup with the offline recovery private key (portal/backup/keys.py)."""

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from portal.backup import keys
from portal.crypto.errors import CryptoError


class Command(BaseCommand):
    help = (
        "Decrypt a key backup with the recovery private key: the secrets go to files in "
        "--secrets-dir (for the *_FILE settings), missing key shares to PORTAL_KEY_STORE_DIR, "
        "and every disposal in the merged disposal log is applied to the key store again."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("src", type=Path, help="The key backup file.")
        parser.add_argument(
            "--recovery-key", type=Path, required=True, help="The recovery private key (PEM)."
        )
        parser.add_argument(
            "--secrets-dir",
            type=Path,
            required=True,
            help="Directory for keks, blind_index_key, audit_signing_key, backup_key (0600).",
        )

    def handle(
        self, *args: Any, src: Path, recovery_key: Path, secrets_dir: Path, **options: Any
    ) -> None:
        src, recovery_key, secrets_dir = Path(src), Path(recovery_key), Path(secrets_dir)
        if not src.is_file():
            raise CommandError(f"No key backup file {src}")
        try:
            report = keys.restore_keys(
                src, private_pem=recovery_key.read_bytes(), secrets_dir=secrets_dir
            )
        except (keys.KeyBackupError, CryptoError, OSError) as exc:
            raise CommandError(f"Key restore refused: {exc}") from None
        self.stdout.write(
            f"Restored {', '.join(report.secrets_written)} to {secrets_dir}; key shares: "
            f"{report.shares_added} added, {report.shares_kept} already there; disposals: "
            f"{report.disposals} in the log, {report.shares_destroyed} shares destroyed again."
        )

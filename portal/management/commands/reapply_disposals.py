"""Re-apply every disposal in the key store's disposal log to the database (after a PITR)."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from portal.crypto import services
from portal.crypto.errors import CryptoError


class Command(BaseCommand):
    help = (
        "Shred again every patient the disposal log beside the key store names whom the "
        "database still holds as live (after a point-in-time recovery). Idempotent."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--label", default="point-in-time recovery", help="Named in each audit event's reason."
        )

    def handle(self, *args: Any, label: str, **options: Any) -> None:
        try:
            report = services.disposals_reapply(backup_id=label)
        except CryptoError as exc:
            raise CommandError(f"The disposal log cannot be read: {exc}") from None
        self.stdout.write(
            f"Disposals: {report.recorded} in the log, {len(report.reapplied)} re-applied "
            f"(not in this database: {report.not_in_database})."
        )

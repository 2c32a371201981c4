from django.core.management.base import BaseCommand, CommandError

from audit import services
from portal.crypto.signing import SigningKeyError


class Command(BaseCommand):
    help = (
        "Seal finished audit events and store the chain head signed with the audit signing key. "
        "Run it periodically (e.g. every 10 minutes), also when nothing happened."
    )

    def handle(self, *args: object, **options: object) -> None:
        try:
            checkpoint = services.checkpoint_create()
        except SigningKeyError as exc:
            raise CommandError(str(exc)) from exc
        if checkpoint is None:
            self.stdout.write("The audit chain is empty: nothing to checkpoint.")
            return
        self.stdout.write(
            f"Audit checkpoint {checkpoint.pk}: position {checkpoint.seq} "
            f"{bytes(checkpoint.hash).hex()} signed by key {checkpoint.key_id}"
        )

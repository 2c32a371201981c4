from django.core.management.base import BaseCommand

from audit import chain


class Command(BaseCommand):
    help = "Append every finished audit event to the hash chain (safe to run at any time)."

    def handle(self, *args: object, **options: object) -> None:
        self.stdout.write(f"Sealed {chain.seal_pending()} audit events.")

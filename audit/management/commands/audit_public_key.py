from django.core.management.base import BaseCommand

from portal.crypto import signing


class Command(BaseCommand):
    help = "Print the audit signing key's public half, for python -m audit.verify_export."

    def handle(self, *args: object, **options: object) -> None:
        key = signing.current_public_key()
        self.stdout.write(f"{signing.public_text(key)}  (key id {signing.key_id(key)})")

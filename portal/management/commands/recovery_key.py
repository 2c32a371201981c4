"""Make the clinic's recovery key pair (portal/crypto/recovery.py)."""

import os
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from portal.crypto import recovery


class Command(BaseCommand):
    help = (
        "Write a new recovery private key to PRIVATE_FILE (0600; keep it offline, never on "
        "the server) and print its public half for PORTAL_RECOVERY_PUBLIC_KEY."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("private_file", type=Path)

    def handle(self, *args: Any, private_file: Path, **options: Any) -> None:
        pem, public = recovery.generate()
        try:
            fd = os.open(private_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            raise CommandError(f"{private_file} exists; it is never overwritten") from None
        with os.fdopen(fd, "wb") as out:
            out.write(pem)
        self.stdout.write(public)

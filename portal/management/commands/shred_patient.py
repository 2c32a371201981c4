"""Crypto-shred one patient: destroy their data key, for good, after two confirmations.

Interactive: type the patient id, then the word SHRED. Scripted: pass
``--confirm <patient id> --confirm-again SHRED``. Nothing changes unless both match.
"""

import uuid
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from patients.models import Patient
from portal.crypto import services

WORD = "SHRED"


def _same_id(typed: str | None, patient_id: uuid.UUID) -> bool:
    try:
        return typed is not None and uuid.UUID(typed.strip()) == patient_id
    except ValueError:
        return False


class Command(BaseCommand):
    help = (
        "Destroy a patient's data key (crypto-shredding): their encrypted data becomes "
        "unreadable, also in database dumps taken before. Cannot be undone."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("patient_id", type=uuid.UUID, help="The patient's id (a UUID).")
        parser.add_argument("--confirm", help="Scripted use: the patient id again.")
        parser.add_argument("--confirm-again", help=f"Scripted use: the word {WORD}.")
        parser.add_argument(
            "--reason", default="", help="Why, for the audit trail (e.g. the request's ticket)."
        )

    def handle(
        self,
        *args: Any,
        patient_id: uuid.UUID,
        confirm: str | None,
        confirm_again: str | None,
        reason: str,
        **options: Any,
    ) -> None:
        if confirm is None and confirm_again is None:
            confirm = self._ask(
                f"This destroys the data key of patient {patient_id}; their encrypted data "
                "can never be read again.\nType the patient id to continue: "
            )
            if _same_id(confirm, patient_id):
                confirm_again = self._ask(f"Type {WORD} to destroy the key: ")
        if not _same_id(confirm, patient_id) or (confirm_again or "").strip() != WORD:
            raise CommandError(f"Not confirmed (the patient id, then {WORD}); nothing was changed.")
        try:
            report = services.patient_shred(patient_id=patient_id, reason=reason)
        except Patient.DoesNotExist:
            raise CommandError(f"No patient {patient_id}; nothing was changed.") from None
        if report.already_shredded:
            self.stdout.write(
                f"Patient {patient_id} was already shredded at {report.shredded_at:%Y-%m-%d %H:%M}"
                " UTC." + (" A leftover key share was destroyed." if report.share_destroyed else "")
            )
            return
        self.stdout.write(
            f"Shredded patient {patient_id}: data key destroyed, disposal audited; "
            f"{report.indexes_cleared} blind-indexed rows cleared."
        )

    def _ask(self, prompt: str) -> str | None:
        try:
            return input(prompt)
        except EOFError:
            return None

from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit import chain


class Command(BaseCommand):
    help = (
        "Seal finished audit events, then check every signed checkpoint and walk the hash "
        "chain, naming the first broken event or the checkpoint the chain no longer reaches."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--no-seal", action="store_true", help="Only verify; do not seal pending events first."
        )

    def handle(self, *args: object, no_seal: bool, **options: object) -> None:
        if not no_seal:
            chain.seal_pending()
        verdict = chain.verify()
        if not verdict.ok:
            where = (
                f"event {verdict.broken_event_id}"
                if verdict.broken_event_id
                else "a signed checkpoint"
            )
            position = f" (chain position {verdict.broken_seq})" if verdict.broken_seq else ""
            raise CommandError(
                f"Audit chain broken at {where}{position}: {verdict.problem}. "
                f"{verdict.verified} events before it verified."
            )
        self.stdout.write(
            f"Audit chain intact: {verdict.verified} events verified; "
            f"head {verdict.head_seq} {verdict.head_hash.hex()}; "
            f"{verdict.checkpoints} signed checkpoints reached"
        )

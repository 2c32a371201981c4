from datetime import date

from django.core.management.base import BaseCommand, CommandError, CommandParser

from billing import gateway, reconcile


class Command(BaseCommand):
    help = (
        "Compare the ledger's payments and refunds since a date with Stripe's, and print "
        "every difference (exit status 1 when there is any)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--since", type=date.fromisoformat, required=True)

    def handle(self, *args: object, since: date, **options: object) -> None:
        try:
            found = reconcile.differences(since)
        except gateway.PaymentsUnavailable as error:
            raise CommandError(f"Stripe unavailable: {error}") from None
        for line in found:
            self.stdout.write(line)
        if found:
            raise CommandError(f"{len(found)} differences since {since.isoformat()}")
        self.stdout.write(f"Ledger and Stripe agree since {since.isoformat()}")

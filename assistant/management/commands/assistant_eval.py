"""manage.py assistant_eval FILE.jsonl: the assistant's language figures on a labelled file.

Needs no database and no server (no system checks, nothing touches a connection); the
last line printed is the JSON object of the evaluation contract (assistant/nlu/evaluate.py).
"""

import json

from django.core.management.base import BaseCommand, CommandParser

from assistant.nlu.evaluate import evaluate, read_jsonl


class Command(BaseCommand):
    help = "Evaluate the assistant's understanding on a JSONL file of labelled messages."
    requires_system_checks: list[str] = []
    requires_migrations_checks = False

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="one JSON object a line: text, now, intent, slots ...")
        parser.add_argument(
            "--misses",
            action="store_true",
            help="also list each wrong intent or slot (line number, field, expected, got); "
            "this prints the expected values, so use it on test files only",
        )

    def handle(self, *args: object, file: str, misses: bool, **options: object) -> None:
        report = evaluate(read_jsonl(file))
        if misses:
            for miss in report.misses:
                self.stdout.write(
                    f"line {miss.line}: {miss.field} expected {miss.expected!r} got {miss.got!r}"
                )
        self.stdout.write(json.dumps(report.figures))

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from billing import imports, services


class Command(BaseCommand):
    help = (
        "Import statements from a practice-management CSV export. Every row is checked "
        "first; a malformed row is reported by line and nothing of the file is written."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)

    def handle(self, *args: object, file: Path, **options: object) -> None:
        try:
            with file.open(newline="", encoding="utf-8-sig") as stream:
                result = imports.parse(stream)
        except (OSError, UnicodeDecodeError) as problem:
            raise CommandError(f"cannot read {file}: {type(problem).__name__}") from None
        if result.errors:
            for error in result.errors:
                self.stderr.write(error)
            raise CommandError(f"{len(result.errors)} malformed rows: nothing imported")
        count = services.statements_import(
            statements=[
                (s.patient, s.number, s.due_on, s.currency, s.items) for s in result.statements
            ]
        )
        self.stdout.write(f"Imported {count} statements")

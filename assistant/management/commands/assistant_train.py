"""manage.py assistant_train: retrain the intent classifier and say how long it took.

The classifier is trained from assistant/nlu/data/train.jsonl at first use in each
process, so there is nothing to write: this command checks the data (every label an
intent, no held-out text in it), times a training run and prints the held-out figures.
Regenerate the data with scripts/assistant_training.py first if you changed its phrasings.
"""

import json
import time

from django.core.management.base import BaseCommand, CommandError

from assistant.nlu import INTENTS, classifier
from assistant.nlu.data import HELD_OUT_FILES
from assistant.nlu.evaluate import evaluate, read_jsonl


class Command(BaseCommand):
    help = "Train the assistant's intent classifier from the committed data and report."
    requires_system_checks: list[str] = []
    requires_migrations_checks = False

    def handle(self, *args: object, **options: object) -> None:
        rows = classifier.training_rows()
        wrong = sorted({row["intent"] for row in rows} - set(INTENTS))
        if wrong:
            raise CommandError(f"Unknown intents in the training data: {wrong}")
        trained = {classifier.clean(row["text"]) for row in rows}
        for path in HELD_OUT_FILES:
            leaked = sum(classifier.clean(row["text"]) in trained for row in read_jsonl(path))
            if leaked:
                raise CommandError(
                    f"{leaked} held-out texts of {path.name} are in the training data"
                )
        start = time.perf_counter()
        classifier.build(rows[::40])  # imports scikit-learn, which is not the training's cost
        loaded = time.perf_counter()
        classifier.build(rows)
        took = time.perf_counter() - loaded
        self.stdout.write(
            f"{len(rows)} utterances, trained in {took:.2f} s "
            f"(scikit-learn's import and a first fit took {loaded - start:.2f} s)"
        )
        for path in HELD_OUT_FILES:
            self.stdout.write(f"{path.name}: {json.dumps(evaluate(read_jsonl(path)).figures)}")

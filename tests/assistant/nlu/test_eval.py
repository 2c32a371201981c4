"""manage.py assistant_eval: the contract's output, with no database, and our targets."""

import json
import os
import subprocess
import sys
from pathlib import Path

from django.core.management import call_command

from assistant.nlu.data import HELD_OUT_FILE, HELD_OUT_FILES
from assistant.nlu.evaluate import evaluate, read_jsonl

ROOT = Path(__file__).resolve().parents[3]
KEYS = [
    "n",
    "intent_accuracy",
    "slot_accuracy",
    "emergency_recall",
    "emergency_false_alarm_rate",
    "p95_ms",
    "peak_rss_mb",
]


def write(tmp_path, rows):
    path = tmp_path / "eval.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def row(text, intent, slots=None, medications=()):
    return {
        "text": text,
        "now": "2026-11-29T10:00:00",
        "medications": list(medications),
        "intent": intent,
        "slots": slots or {},
    }


def test_it_prints_the_contract_object_as_its_last_line(tmp_path, capsys):
    path = write(
        tmp_path,
        [
            row(
                "next Tuesday after 3", "book_appointment", {"date": "2026-12-01", "time": "15:00"}
            ),
            row(
                "refill my metfromin",
                "request_refill",
                {"medication": "metformin 500 mg tablet"},
                ["metformin 500 mg tablet", "lisinopril 10 mg tablet"],
            ),
            row("I have chest pain", "emergency"),
            row("hello", "other"),
        ],
    )
    call_command("assistant_eval", str(path))
    figures = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert list(figures) == KEYS
    assert figures["n"] == 4
    assert figures["intent_accuracy"] == 1.0
    assert figures["slot_accuracy"] == 1.0
    assert figures["emergency_recall"] == 1.0
    assert figures["emergency_false_alarm_rate"] == 0.0
    assert figures["p95_ms"] > 0
    assert figures["peak_rss_mb"] > 0


def test_slot_accuracy_counts_misses_and_spurious_slots():
    report = evaluate(
        [
            # right date, missed time: 1 of 2
            row("next tuesday", "book_appointment", {"date": "2026-12-01", "time": "15:00"}),
            # a date the line does not expect: 0 of 1
            row("cancel tomorrow", "cancel_appointment", {}),
            # a false alarm (a wrong intent)
            row("I can't breathe", "other"),
            # a missed emergency (a wrong intent)
            row("hello", "emergency"),
        ]
    )
    figures = report.figures
    assert figures["slot_accuracy"] == round(1 / 3, 4)
    assert figures["intent_accuracy"] == 0.5
    assert figures["emergency_recall"] == 0.0
    assert figures["emergency_false_alarm_rate"] == round(1 / 3, 4)
    assert {(miss.line, miss.field) for miss in report.misses} >= {(1, "time"), (2, "date")}


def test_it_runs_without_a_database(tmp_path):
    path = write(tmp_path, [row("when is my next appointment", "list_appointments")])
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DATABASE_URL", "PG"))
    }
    # a port nothing listens on: any attempt to connect would fail the command
    env["DATABASE_URL"] = "postgres://nobody:nothing@127.0.0.1:9/nowhere"
    out = subprocess.run(
        [sys.executable, "manage.py", "assistant_eval", str(path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    assert json.loads(out.strip().splitlines()[-1])["intent_accuracy"] == 1.0


def test_the_held_out_file_meets_the_targets():
    rows = read_jsonl(str(HELD_OUT_FILE))
    assert len(rows) >= 300
    figures = evaluate(rows).figures
    assert figures["intent_accuracy"] >= 0.90
    assert figures["slot_accuracy"] >= 0.85
    assert figures["emergency_recall"] == 1.0
    assert figures["emergency_false_alarm_rate"] <= 0.05


def test_every_held_out_file_keeps_every_emergency():
    for path in HELD_OUT_FILES:
        assert evaluate(read_jsonl(str(path))).figures["emergency_recall"] == 1.0, path.name

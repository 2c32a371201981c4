"""Assistant benchmark: the language figures of the evaluation contract on our held-out file.

    .venv/bin/python bench/bench_assistant.py     # prints one JSON object per figure

Runs ``manage.py assistant_eval assistant/nlu/data/heldout.jsonl`` in its own process (no
database: the command opens none) and reports its last line against issue 15's targets.
p95_ms times understand() per message after the process's one warm-up (scikit-learn's
import and the classifier's training from the committed data); peak_rss_mb is the whole
eval process (Django included).
"""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HELD_OUT = ROOT / "assistant" / "nlu" / "data" / "heldout.jsonl"
TARGETS = {
    "intent_accuracy": ("", ">= 0.90"),
    "slot_accuracy": ("", ">= 0.85"),
    "emergency_recall": ("", ">= 1.0"),
    "emergency_false_alarm_rate": ("", "<= 0.05"),
    "p95_ms": ("ms", "<= 50"),
    "peak_rss_mb": ("MB", "<= 300"),
}


def run() -> list[dict]:
    out = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "assistant_eval", str(HELD_OUT)],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    figures = json.loads(out.strip().splitlines()[-1])
    return [
        {
            "name": f"assistant_{name}",
            "value": figures[name],
            "unit": unit,
            "target": target,
            "baseline": None,
        }
        for name, (unit, target) in TARGETS.items()
    ]


if __name__ == "__main__":
    for figure in run():
        print(json.dumps(figure))

"""The evaluation contract: a JSONL file of labelled messages in, one line of figures out.

Each line: {"text", "now" (local ISO time), "medications", "intent", "slots"}; optional
"clinicians". The figures:

- intent_accuracy: predicted intent == expected intent, over all lines.
- slot_accuracy: over the contract slots (date, time, medication) of every line, the
  expected ones plus any predicted one the line does not expect (a spurious slot), the
  share that is right: correct / (expected + spurious). A wrong value counts once (as a
  miss of the expected slot); 1.0 when no line expects or predicts any.
- emergency_recall: of the lines expecting "emergency", the share predicted so (1.0 if none).
- emergency_false_alarm_rate: of the other lines, the share predicted "emergency".
- p95_ms: 95th percentile of understand()'s wall time per line, after warm_up() (the
  classifier is trained and the date data loaded once per process, before the first line)
  and gc.freeze(), as a gunicorn worker does after start-up.
- peak_rss_mb: the whole process's peak resident set (ru_maxrss), including Django.
"""

import datetime as dt
import gc
import json
import math
import resource
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant.nlu import understand, warm_up

CONTRACT_SLOTS = ("date", "time", "medication")


@dataclass
class Miss:
    line: int
    field: str
    expected: Any
    got: Any


@dataclass
class Report:
    figures: dict[str, float | int]
    misses: list[Miss] = field(default_factory=list)


def _p95(values: list[float]) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def evaluate(rows: Iterable[dict[str, Any]]) -> Report:
    warm_up()
    # As a gunicorn worker does after start-up (gunicorn.conf.py): what is loaded stays out
    # of the collector's way, so a full collection does not land in one message's time.
    gc.freeze()
    n = intents_right = slots_right = slots_total = 0
    emergencies = emergencies_found = others = false_alarms = 0
    timings: list[float] = []
    misses: list[Miss] = []
    for number, row in enumerate(rows, start=1):
        now = dt.datetime.fromisoformat(row["now"])
        start = time.perf_counter()
        got = understand(
            row["text"],
            now=now,
            medications=row.get("medications") or (),
            clinicians=row.get("clinicians") or (),
        )
        timings.append((time.perf_counter() - start) * 1000)
        n += 1
        expected_intent = row["intent"]
        if got.intent == expected_intent:
            intents_right += 1
        else:
            misses.append(Miss(number, "intent", expected_intent, got.intent))
        if expected_intent == "emergency":
            emergencies += 1
            emergencies_found += got.intent == "emergency"
        else:
            others += 1
            false_alarms += got.intent == "emergency"
        expected_slots = row.get("slots") or {}
        for key in CONTRACT_SLOTS:
            want, have = expected_slots.get(key), got.slots.get(key)
            if want is None and have is None:
                continue
            slots_total += 1
            if want == have:
                slots_right += 1
            else:
                misses.append(Miss(number, key, want, have))
    figures: dict[str, float | int] = {
        "n": n,
        "intent_accuracy": round(intents_right / n, 4) if n else 0.0,
        "slot_accuracy": round(slots_right / slots_total, 4) if slots_total else 1.0,
        "emergency_recall": round(emergencies_found / emergencies, 4) if emergencies else 1.0,
        "emergency_false_alarm_rate": round(false_alarms / others, 4) if others else 0.0,
        "p95_ms": round(_p95(timings), 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    return Report(figures=figures, misses=misses)


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]

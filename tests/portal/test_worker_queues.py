"""The worker that `make run` starts, and the one the docs tell a clinic to run,
listen on every queue a task is sent to: a task on a queue nobody listens to
would wait for ever (an unsealed audit tail, a receipt never sent)."""

import re
from pathlib import Path

from procrastinate.contrib.django import app

ROOT = Path(__file__).resolve().parents[2]


def _queues(path: str) -> set[str]:
    found = re.findall(r"--queues\s+([\w,]+)", (ROOT / path).read_text())
    assert found, f"{path} names no worker queues"
    return {q for group in found for q in group.split(",")}


def test_every_task_queue_has_a_worker_in_make_run_and_the_docs():
    used = {task.queue for task in app.tasks.values()} - {"builtin"}  # procrastinate's own
    assert {"audit", "mail", "sync"} <= used
    for path in ("scripts/run.sh", "Dockerfile", "README.md", "docs/architecture.md"):
        assert used <= _queues(path), path

"""A one-line progress indication for long commands, shown only on a terminal."""

import sys
import time
from typing import TextIO

MIB = 1024 * 1024


class Progress:
    """``label: 12.0 MiB (34%) at 40.1 MiB/s``, redrawn at most 5 times a second.

    Silent when ``stream`` is not a terminal (cron, CI, pipes), so logs stay clean.
    """

    def __init__(self, label: str, *, total: int | None = None, stream: TextIO | None = None):
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = self.stream.isatty()
        self.label = label
        self.total = total
        self.done = 0
        self.started = time.monotonic()
        self._drawn = 0.0

    def advance(self, n: int) -> None:
        self.done += n
        now = time.monotonic()
        if self.enabled and now - self._drawn >= 0.2:
            self._drawn = now
            self._draw(now)

    def _draw(self, now: float) -> None:
        rate = self.done / MIB / max(now - self.started, 1e-6)
        share = f" ({100 * self.done / self.total:.0f}%)" if self.total else ""
        self.stream.write(f"\r{self.label}: {self.done / MIB:.1f} MiB{share} at {rate:.1f} MiB/s")
        self.stream.flush()

    def finish(self) -> None:
        if self.enabled:
            self._draw(time.monotonic())
            self.stream.write("\n")
            self.stream.flush()

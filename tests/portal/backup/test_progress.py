"""The progress line: shown on a terminal, silent in logs and pipes."""

import io

from portal.backup.progress import Progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_it_shows_bytes_share_and_rate_on_a_terminal():
    screen = Terminal()
    progress = Progress("restoring", total=4 * 1024 * 1024, stream=screen)
    progress.advance(2 * 1024 * 1024)
    progress.finish()
    shown = screen.getvalue()
    assert shown.startswith("\rrestoring: 2.0 MiB (50%) at ")
    assert shown.endswith(" MiB/s\n")


def test_it_writes_nothing_when_not_on_a_terminal():
    log = io.StringIO()
    progress = Progress("backup", stream=log)
    progress.advance(10)
    progress.finish()
    assert log.getvalue() == ""

"""Progress of many runs: on a terminal, one bar redrawn in place (runs
done of all, failures so far, elapsed time, ETA); otherwise plain lines:
each failure as it happens and a line every tenth of the way."""
from __future__ import annotations

import sys
import time
from typing import TextIO

from .run import Outcome
from .untrusted import printable


def _clock(seconds: float) -> str:
    whole = int(seconds)
    if whole >= 3600:
        return f"{whole // 3600}h{whole % 3600 // 60:02d}m"
    return f"{whole // 60}m{whole % 60:02d}s"


class Progress:
    def __init__(self, total: int, stream: TextIO | None = None, label: str = "runs") -> None:
        self.total, self.done, self.failed = total, 0, 0
        self.stream = stream or sys.stderr
        self.label = label
        self.start = time.monotonic()
        self.tty = self.stream.isatty()
        self.next_plain = max(1, total // 10)

    def advance(self, outcome: Outcome, label: str = "") -> None:
        self.done += 1
        if not outcome.passed:
            self.failed += 1
            self._line(f"  {label + ': ' if label else ''}{outcome.fail_line()}")
        if self.tty:
            self._draw()
        elif self.done >= self.next_plain or self.done == self.total:
            self.next_plain += max(1, self.total // 10)
            self._line(self._status())

    def rerun(self, outcome: Outcome, label: str = "") -> None:
        """A run judged STARVED, to be run again: one more to do."""
        self.total += 1
        self._line(f"  {label + ': ' if label else ''}{outcome.fail_line()}: {outcome.starved}; running it again")

    def tick(self) -> None:
        if self.tty:
            self._draw()

    def finish(self, interrupted: bool) -> None:
        if self.tty:
            self.stream.write("\r\033[K")
        if interrupted:
            self._line(f"interrupted: {self.done} of {self.total} {self.label} finished")
        self.stream.flush()

    def _status(self) -> str:
        elapsed = time.monotonic() - self.start
        eta = "?"
        if self.done:
            eta = _clock(elapsed / self.done * (self.total - self.done))
        return (f"{self.done}/{self.total} {self.label}, {self.failed} failed, "
                f"{_clock(elapsed)} elapsed, ETA {eta}")

    def _draw(self) -> None:
        width = 30
        filled = width * self.done // max(1, self.total)
        bar = "#" * filled + "." * (width - filled)
        self.stream.write(f"\r\033[K[{bar}] {self._status()}")
        self.stream.flush()

    def _line(self, text: str) -> None:
        if self.tty:
            self.stream.write("\r\033[K")
        self.stream.write(printable(text) + "\n")   # a failure's reason is the submission's text
        if self.tty:
            self._draw()
        self.stream.flush()

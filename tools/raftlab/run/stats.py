"""Per-test aggregates of many runs, and the pass-rate table."""
from __future__ import annotations

import math
import statistics
from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable, Sequence

from .policy import OutcomeClass
from .run import Outcome


@dataclass
class TestStats:
    test: str
    title: str = ""
    runs: int = 0
    passes: int = 0
    classes: Counter[OutcomeClass] = field(default_factory=Counter)
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    failures: list[Outcome] = field(default_factory=list)   # in completion order
    starved: int = 0          # runs judged STARVED and run again (not counted)
    starved_counted: int = 0  # runs still STARVED when the re-runs ran out: counted as they ended

    def add(self, outcome: Outcome) -> None:
        self.runs += 1
        self.title = self.title or outcome.title
        self.wall.append(outcome.wall_seconds)
        self.cpu.append(outcome.cpu_seconds)
        if outcome.passed:
            self.passes += 1
        else:
            self.classes[outcome.cls] += 1
            self.failures.append(outcome)

    @property
    def pass_rate(self) -> float:
        return self.passes / self.runs if self.runs else 0.0

    def classes_text(self) -> str:
        return ", ".join(f"{cls}×{n}" for cls, n in self.classes.most_common())

    def interval(self) -> tuple[float, float]:
        """The pass rate's 95 % confidence interval (Wilson)."""
        return wilson(self.passes, self.runs)

    def rate_text(self) -> str:
        """'90% [60–98]': the pass rate and its 95 % interval, in percent."""
        if not self.runs:
            return "-"
        low, high = self.interval()
        return f"{100 * self.pass_rate:.0f}% [{100 * low:.0f}–{100 * high:.0f}]"

    def split_text(self, classes: Sequence[str], inside: bool) -> str:
        """The failure counts of the classes in (inside) or not in classes."""
        return ", ".join(f"{cls}×{n}" for cls, n in self.classes.most_common() if (cls in classes) == inside)

    def time_text(self) -> str:
        return mean_sd(self.wall)


Z95 = 1.959963984540054   # the normal distribution's 97.5th percentile


def wilson(passes: int, runs: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of passes/runs (95 % by default): unlike
    p ± z·sd, it stays within [0, 1] and is not [1, 1] for 10 passes of 10."""
    if runs <= 0:
        return 0.0, 1.0
    p = passes / runs
    d = 1 + z * z / runs
    centre = (p + z * z / (2 * runs)) / d
    half = z * math.sqrt(p * (1 - p) / runs + z * z / (4 * runs * runs)) / d
    low, high = max(0.0, centre - half), min(1.0, centre + half)
    return (0.0 if passes == 0 else low), (1.0 if passes == runs else high)


def mean_sd(values: Sequence[float]) -> str:
    if not values:
        return "-"
    if len(values) == 1:
        return f"{values[0]:.1f}"
    return f"{statistics.mean(values):.1f} ± {statistics.stdev(values):.1f}"


def collect(tests: Sequence[str], outcomes: Iterable[Outcome]) -> list[TestStats]:
    """TestStats for each test, in the lab's order, from the runs' outcomes."""
    by_test = {t: TestStats(t) for t in tests}
    for outcome in outcomes:
        by_test[outcome.test].add(outcome)
    return [by_test[t] for t in tests]


def table(rows: Sequence[Sequence[object]], headers: list[str], aligns: str) -> str:
    """A plain-text table; aligns is a string of 'l'/'r', one per column."""
    cells = [headers] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]

    def fmt(row: Sequence[str]) -> str:
        return "  ".join(c.ljust(w) if a == "l" else c.rjust(w)
                         for c, w, a in zip(row, widths, aligns)).rstrip()
    return "\n".join([fmt(headers), fmt(["-" * w for w in widths])] + [fmt(r) for r in cells[1:]])


def pass_rate_table(stats_list: Sequence[TestStats]) -> str:
    """The students' table: test, passed/runs, rate, failure classes, time."""
    rows = []
    for s in stats_list:
        rate = f"{100 * s.pass_rate:.0f}%" if s.runs else "-"
        rows.append([s.test, f"{s.passes}/{s.runs}", rate, s.classes_text(), s.time_text()])
    return table(rows, ["test", "passed", "rate", "failures", "seconds (mean ± sd)"], "lrrlr")

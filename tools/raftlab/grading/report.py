"""A graded submission (Grade), its text report and its CSV row."""
from __future__ import annotations

import csv
from dataclasses import dataclass, field
from typing import Literal, Sequence, TextIO

from ..run import catalog, stats
from ..run.paths import shown_path
from ..run.policy import LAB_BUDGET_SECONDS, PARTS

# A submission's status: OK (graded), or why it was not, or not wholly.
Status = Literal["OK", "BUILD-ERROR", "REFUSED", "NO-SOURCE", "GRADER-ERROR", "INCOMPLETE"]
# The statuses of a submission whose tests never ran: it scores 0.
NOT_RUN: tuple[Status, ...] = ("BUILD-ERROR", "NO-SOURCE", "REFUSED", "GRADER-ERROR")
# The classes a late timer can cause, shown apart from SAFETY and the rest.
TIMING = ("LIVENESS", "PERF", "HANG")


@dataclass
class TestRow:
    test: str
    max_points: float
    score: float
    stats: stats.TestStats

    @property
    def part(self) -> str:
        return catalog.part_of(self.test)

    @property
    def name(self) -> str:
        title = f" ({self.stats.title})" if self.stats.title else ""
        return f"{self.part} {self.test.split('/', 1)[1]}{title}"

    @property
    def output(self) -> str:
        s = self.stats
        text = f"{s.passes}/{s.runs} runs passed (pass rate {s.rate_text()}, 95% interval); {s.time_text()} s per run"
        if s.starved or s.starved_counted:
            text += f"; {starved_text(s)}"
        if s.failures:
            text += f"; failures: {s.classes_text()}\n" + "\n".join(o.fail_line() for o in s.failures[:3])
            if len(s.failures) > 3:
                text += f"\n... and {len(s.failures) - 3} more"
        return text


@dataclass
class Grade:
    name: str
    path: str
    status: Status = "OK"
    detail: str = ""              # the compiler's errors, what was refused, or what was missing
    rows: list[TestRow] = field(default_factory=list)
    wall_seconds: float = 0.0     # from this submission's first run to its last
    all_tests: bool = True        # every test of the lab was run (the budget applies)
    taken_from: str = ""          # the file of the submission that was graded

    @property
    def score(self) -> float:
        return round(sum(r.score for r in self.rows), 2)

    @property
    def max_score(self) -> float:
        return round(sum(r.max_points for r in self.rows), 2)

    def part_scores(self) -> dict[str, tuple[float, float]]:
        parts: dict[str, tuple[float, float]] = {}
        for r in self.rows:
            got, most = parts.get(r.part, (0, 0))
            parts[r.part] = (round(got + r.score, 2), round(most + r.max_points, 2))
        return parts

    def lab_seconds(self) -> float:
        """One run of the whole lab: the sum of the tests' mean times."""
        return sum(sum(r.stats.wall) / len(r.stats.wall) for r in self.rows if r.stats.wall)

    def over_budget(self) -> bool:
        return self.all_tests and self.status == "OK" and self.lab_seconds() > LAB_BUDGET_SECONDS

    def starved(self) -> tuple[int, int]:
        """(runs re-run as STARVED, runs still STARVED when the re-runs ran out)."""
        return sum(r.stats.starved for r in self.rows), sum(r.stats.starved_counted for r in self.rows)

    def grader_errors(self) -> int:
        return sum(r.stats.classes.get("GRADER-ERROR", 0) for r in self.rows)

    def summary_text(self, policy_text: str) -> str:
        lines = [f"{self.name}: {self.score:g}/{self.max_score:g} points", policy_text]
        if self.taken_from:
            lines.append(f"graded: {self.taken_from} of {self.path}")
        if self.status != "OK":
            lines.append(f"{self.status}: {self.detail}")
        if self.grader_errors():
            lines.append(f"GRADER-ERROR in {self.grader_errors()} run(s): the grader failed, not the "
                         "submission; grade it again")
        rerun, counted = self.starved()
        if rerun or counted:
            lines.append(f"STARVED: {rerun} run(s) were starved by the machine (measured by the grader) and run again"
                         + (f"; {counted} were still starved when their re-runs ran out and count as they ended: "
                            "grade again on a quieter machine" if counted else ""))
        parts = "   ".join(f"{p} {got:g}/{most:g}" for p, (got, most) in self.part_scores().items())
        if parts:
            lines.append(parts)
        if self.rows and self.status in ("OK", "INCOMPLETE"):
            budget = f"one run of every test took {self.lab_seconds():.0f} s on average"
            if self.all_tests:
                budget += (f": OVER the lab's {LAB_BUDGET_SECONDS} s budget" if self.over_budget()
                           else f" (budget {LAB_BUDGET_SECONDS} s)")
            lines.append(budget)
        return "\n".join(lines)


def starved_text(s: stats.TestStats) -> str:
    text = f"{s.starved} run(s) STARVED by the machine and run again" if s.starved else ""
    if s.starved_counted:
        text += (", and " if text else "") + f"{s.starved_counted} still STARVED after the last re-run (counted)"
    return text


def text_report(grade: Grade, policy_text: str, out_dir: str | None = None) -> str:
    lines = ["", f"=== {grade.name} ({grade.path}) ==="]
    if grade.status in NOT_RUN:
        lines += [f"{grade.status}: 0/{grade.max_score:g} points", grade.detail]
        if grade.taken_from:
            lines.append(f"graded: {grade.taken_from} of {grade.path}")
        return "\n".join(lines)
    rows = []
    starved = any(r.stats.starved or r.stats.starved_counted for r in grade.rows)
    for r in grade.rows:
        s = r.stats
        row = [r.test, f"{r.score:g}/{r.max_points:g}", f"{s.passes}/{s.runs}", s.rate_text(),
               s.classes.get("SAFETY", "") or "", s.split_text(TIMING, True), s.split_text(TIMING + ("SAFETY",), False)]
        if starved:
            row.append((f"{s.starved}" if s.starved else "")
                       + (f" ({s.starved_counted} counted)" if s.starved_counted else ""))
        rows.append(row + [s.time_text()])
    headers = ["test", "points", "passed", "rate [95% CI]", "SAFETY", "LIVENESS/PERF/HANG", "other"]
    headers += ["STARVED (re-run)"] if starved else []
    lines.append(stats.table(rows, headers + ["seconds (mean ± sd)"], "lrrrrll" + ("r" if starved else "") + "r"))
    lines += ["", grade.summary_text(policy_text)]
    failing = [r for r in grade.rows if r.stats.failures]
    if failing:
        lines.append("first failure of each failing test (the logs of all are kept"
                     + (", and their timeline pages" if any(o.timeline for r in failing for o in r.stats.failures)
                        else "") + "):")
        for r in failing:
            o = r.stats.failures[0]
            where = shown_path(o.log_path) if o.log_path else ""
            lines.append(f"  {o.fail_line()}\n      log: {where}" + (f"   replay: {o.replay}" if o.replay else ""))
            if o.timeline or o.timeline_note:
                lines.append(f"      timeline: {shown_path(o.timeline) if o.timeline else o.timeline_note}")
    if out_dir:
        lines.append(f"logs and results.json: {shown_path(out_dir)}/")
    return "\n".join(lines)


CSV_FIELDS = ["submission", "status", "score", "max_score", *PARTS,
              "runs", "failed_runs", "safety_runs", "starved_reruns", "lab_seconds", "over_budget", "path"]


def write_csv_to(f: TextIO, grades: Sequence[Grade]) -> None:
    """The CSV, one row per submission (outputs.write_csv writes the file)."""
    w = csv.DictWriter(f, fieldnames=CSV_FIELDS)
    w.writeheader()
    for g in grades:
        parts = g.part_scores()
        runs = sum(r.stats.runs for r in g.rows)
        w.writerow({
            "submission": g.name, "status": g.status, "score": g.score, "max_score": g.max_score,
            **{p: parts[p][0] if p in parts else "" for p in PARTS},
            "runs": runs, "failed_runs": sum(len(r.stats.failures) for r in g.rows),
            "safety_runs": sum(r.stats.classes.get("SAFETY", 0) for r in g.rows),
            "starved_reruns": g.starved()[0],
            "lab_seconds": round(g.lab_seconds(), 1) if g.rows else "",
            "over_budget": "yes" if g.over_budget() else "no", "path": g.path,
        })

"""Points per test (grading/points.json) and the scoring policy.

Policies, printed in every report:
  all-or-nothing (default)  a test earns its points only when every run passes
  proportional              a test earns points × the fraction of runs that pass
Under both, a SAFETY failure in any run scores 0 for that test: a Raft that
ever loses or reorders a committed entry is wrong, however rarely.
"""
from __future__ import annotations

import json
from typing import Literal, Sequence, get_args

from ..run.stats import TestStats

Policy = Literal["all-or-nothing", "proportional"]
POLICIES: tuple[Policy, ...] = get_args(Policy)

POLICY_TEXT: dict[Policy, str] = {
    "all-or-nothing": "a test earns its points only when all of its runs pass",
    "proportional": "a test earns its points times the fraction of its runs that pass",
}


class PointsError(Exception):
    pass


def load_points(path: str, tests: Sequence[str]) -> tuple[dict[str, float], list[str]]:
    """{test: points} for every test of the binary; raises PointsError for a
    test named in the file that does not exist (a typo would otherwise
    silently drop points). Returns (points, warnings)."""
    try:
        with open(path) as f:
            table = json.load(f)
    except (OSError, ValueError) as err:
        raise PointsError(f"{path}: {err}")
    table = {k: v for k, v in table.items() if not k.startswith("_")}
    unknown = sorted(set(table) - set(tests))
    if unknown:
        raise PointsError(f"{path}: no such test: {', '.join(unknown)} (the tests are: {', '.join(tests)})")
    for test, value in table.items():
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
            raise PointsError(f"{path}: {test}: points must be a number ≥ 0, not {value!r}")
    warnings = [f"{path}: {t} has no points (worth 0)" for t in tests if t not in table]
    return {t: table.get(t, 0) for t in tests}, warnings


def policy_statement(policy: Policy, runs: int) -> str:
    return (f"Scoring policy '{policy}': {POLICY_TEXT[policy]} ({runs} run(s) per test); "
            "a SAFETY failure in any run scores 0 for that test.")


def score(test_stats: TestStats, max_points: float, policy: Policy) -> float:
    """The points a test earns from its runs' statistics."""
    if test_stats.runs == 0 or test_stats.classes.get("SAFETY"):
        return 0
    if policy == "proportional":
        return round(max_points * test_stats.pass_rate, 2)
    return max_points if test_stats.passes == test_stats.runs else 0

"""Points per test (grading/points.json) and the scoring policy.

Policies, printed in every report:
  all-or-nothing (default)  a test earns its points only when every run passes
  proportional              a test earns points × the fraction of runs that pass
  rate                      a test earns its points when its pass rate's 95 %
                            confidence interval (Wilson) says it is at least
                            --min-rate: its lower bound (--rate-bound lower,
                            the default: points only when the runs show it)
                            or its upper bound (upper: points unless the
                            runs show it is below)
Under all, a SAFETY failure in any run scores 0 for that test: a Raft that
ever loses or reorders a committed entry is wrong, however rarely.
"""
from __future__ import annotations

import json
from typing import Literal, Sequence, get_args

from ..run.stats import TestStats, wilson

Policy = Literal["all-or-nothing", "proportional", "rate"]
POLICIES: tuple[Policy, ...] = get_args(Policy)
Bound = Literal["lower", "upper"]
BOUNDS: tuple[Bound, ...] = get_args(Bound)
DEFAULT_MIN_RATE = 0.9

POLICY_TEXT: dict[Policy, str] = {
    "all-or-nothing": "a test earns its points only when all of its runs pass",
    "proportional": "a test earns its points times the fraction of its runs that pass",
    "rate": "a test earns its points when the {bound} bound of its pass rate's 95% confidence interval "
            "(Wilson) is at least {min_rate:g}",
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


def policy_statement(policy: Policy, runs: int, min_rate: float = DEFAULT_MIN_RATE, bound: Bound = "lower") -> str:
    text = POLICY_TEXT[policy].format(bound=bound, min_rate=min_rate)
    return (f"Scoring policy '{policy}': {text} ({runs} run(s) per test); "
            "a SAFETY failure in any run scores 0 for that test.")


def runs_needed(min_rate: float) -> int:
    """The fewest runs whose Wilson lower bound reaches min_rate when all pass."""
    n = 1
    while wilson(n, n)[0] < min_rate and n < 100000:
        n += 1
    return n


def check_rule(policy: Policy, runs: int, min_rate: float, bound: Bound) -> str | None:
    """Why this policy cannot work with this many runs, or None."""
    if not 0 < min_rate <= 1:
        return f"--min-rate {min_rate:g}: must be above 0 and at most 1"
    if policy == "rate" and bound == "lower" and wilson(runs, runs)[0] < min_rate:
        return (f"--policy rate --min-rate {min_rate:g}: with {runs} runs per test even a test that always passes "
                f"has a lower bound of {wilson(runs, runs)[0]:.2f}, so no test could earn points; it needs "
                f"--runs {runs_needed(min_rate)} or more (or --rate-bound upper, or a lower --min-rate)")
    return None


def score(test_stats: TestStats, max_points: float, policy: Policy, min_rate: float = DEFAULT_MIN_RATE,
          bound: Bound = "lower") -> float:
    """The points a test earns from its runs' statistics."""
    if test_stats.runs == 0 or test_stats.classes.get("SAFETY"):
        return 0
    if policy == "proportional":
        return round(max_points * test_stats.pass_rate, 2)
    if policy == "rate":
        low, high = test_stats.interval()
        return max_points if (low if bound == "lower" else high) >= min_rate else 0
    return max_points if test_stats.passes == test_stats.runs else 0

"""The lab's policy as the Python tools know it: the parts, the failure
classes and the limits that the runner and the grader use.

Their home is harness/lab_policy.h; the test binary prints it with
--lab-info (harness/harness_info.c). These are the Python side's copies, the
only ones: every other module takes them from here, and
checks/tools/test_policy.py fails when one of them disagrees with what the
binary prints, so a class or a limit changed on one side only fails a
test instead of changing grades quietly.

The classes are Literal types, so that mypy rejects a misspelt class
("SAFTEY") wherever one is written; the tuples are derived from them.
"""
from typing import Dict, Literal, Optional, Tuple, Union, cast, get_args

PARTS: Tuple[str, ...] = ("2A", "2B", "2C", "2D")

# The harness's failure classes, the first word of a FAIL line, in
# lab_policy.h's order (LAB_FAILURE_CLASSES).
HarnessClass = Literal["SAFETY", "LIVENESS", "PERF", "CRASH", "HANG", "EXIT", "RACE", "MEMORY", "LEAK"]
# The runner's own: LIMIT, a run over one of its resource limits;
# GRADER-ERROR, a run that the runner itself failed on.
RunnerClass = Literal["LIMIT", "GRADER-ERROR"]
FailureClass = Union[HarnessClass, RunnerClass]
# An outcome's class: "" when it passed.
OutcomeClass = Union[FailureClass, Literal[""]]

HARNESS_CLASSES: Tuple[str, ...] = get_args(HarnessClass)
RUNNER_CLASSES: Tuple[str, ...] = get_args(RunnerClass)
GRADER_ERROR: RunnerClass = "GRADER-ERROR"


def harness_class(word: str) -> Optional[HarnessClass]:
    """word as a class of the harness, or None when it is not one."""
    return cast(HarnessClass, word) if word in HARNESS_CLASSES else None


# Limits, in seconds; the key is the binary's name for each (--lab-info's
# "limits"), the value lab_policy.h's.
TEST_SECONDS = 120           # LAB_TEST_LIMIT_S: the harness fails a test past it (PERF)
RUNNER_WALL_SECONDS = 160    # LAB_RUNNER_WALL_S: a runner kills a run still going (HANG)
RUNNER_CPU_SECONDS = 120     # LAB_RUNNER_CPU_S: CPU a run may use, a whole core all along
LAB_BUDGET_SECONDS = 600     # LAB_LAB_LIMIT_S: one run of every test, as in 6.824

LIMITS: Dict[str, int] = {
    "test_s": TEST_SECONDS,
    "runner_wall_s": RUNNER_WALL_SECONDS,
    "runner_cpu_s": RUNNER_CPU_SECONDS,
    "lab_s": LAB_BUDGET_SECONDS,
}


# The tests: 6.824's original 28, and raftlab's extra tests beyond them
# (lab_policy.h's LAB_ORIGINAL_TESTS and LAB_EXTRA_TESTS; --lab-info's
# "original_tests" and "extra_tests"), each extra with the corpus case of
# checks/faulty it catches. An extra is named x<n>_..., in its part's suite.
ORIGINAL_TESTS = 28
EXTRA_TESTS: Dict[str, str] = {
    "2C/x1_vote_survives_restart": "no_persist_voted_for",
    "2C/x2_figure8_scripted": "figure8_commit_old_term",
    "2C/x3_stale_append": "stale_append_truncates",
    "2C/x4_stale_reply": "stale_reply_accepted",
}


def is_extra(test: str) -> bool:
    """Whether "2C/x1_..." is one of raftlab's extra tests."""
    return test in EXTRA_TESTS

"""Which tests a lab test binary holds, and choosing some of them.

A test is named by its part and Criterion name, "2C/t04_figure8"; its
Criterion filter is "raft2C/t04_figure8". The list comes from the binary
itself (--list), so it can never disagree with what will run.
"""
import fnmatch
import re
import subprocess

PARTS = ("2A", "2B", "2C", "2D")


class SelectionError(Exception):
    """A part or pattern that matches no test."""


def list_tests(binary):
    """The binary's tests, in the lab's order: ["2A/t01_initial_election", ...]."""
    out = subprocess.run([binary, "--list"], capture_output=True, text=True,
                         timeout=60, check=True).stdout
    return parse_list(out)


def parse_list(out):
    """Criterion's --list output ("raft2A: 3 tests" and a tree of names)."""
    tests, suite = [], None
    for line in out.splitlines():
        header = re.match(r"^raft(2[A-D]): \d+ tests?", line)
        if header:
            suite = header.group(1)
            continue
        leaf = re.match(r"^[\u2502 ]*[\u251c\u2514]\u2500\u2500 (\S+)", line)
        if leaf and suite:
            tests.append(suite + "/" + leaf.group(1))
    return sorted(tests, key=lambda t: (PARTS.index(t[:2]), t))


def criterion_filter(test):
    return "raft" + test


def part_of(test):
    return test.split("/", 1)[0]


def select(tests, parts=None, patterns=None):
    """Tests of the given parts (["2A", "2B"]) matching any of the glob
    patterns. A pattern matches the whole name ("2C/t04_*") or the test's
    own name ("*figure8*"). Raises SelectionError when a part or a pattern
    selects nothing, so a typo is never a silently empty run."""
    chosen = list(tests)
    if parts:
        for p in parts:
            if p not in PARTS:
                raise SelectionError(f"unknown part '{p}' (the parts are {', '.join(PARTS)})")
        chosen = [t for t in chosen if part_of(t) in parts]
    if patterns:
        for pat in patterns:
            if not any(_matches(t, pat) for t in chosen):
                raise SelectionError(f"no test matches '{pat}'; the tests are:\n  " + "\n  ".join(chosen or tests))
        chosen = [t for t in chosen if any(_matches(t, pat) for pat in patterns)]
    if not chosen:
        raise SelectionError("no test selected")
    return chosen


def _matches(test, pattern):
    name = test.split("/", 1)[1]
    return (fnmatch.fnmatchcase(test, pattern) or fnmatch.fnmatchcase(name, pattern)
            or fnmatch.fnmatchcase(test, pattern + "*"))


def parse_target(target):
    """A student's target, "2C", "2A,2B", "2C/t04_figure8" or "figure8",
    as patterns for select: every item is one (a part is "2C/*"), so the
    items add up."""
    patterns = []
    for item in target.split(","):
        item = item.strip()
        if not item:
            continue
        if item.upper() in PARTS:
            patterns.append(item.upper() + "/*")
        else:
            patterns.append(item if any(c in item for c in "*?[/") else "*" + item + "*")
    return patterns

"""Which tests a lab test binary holds, and choosing some of them.

A test is named by its part and Criterion name, "2C/t04_figure8"; its
Criterion filter is "raft2C/t04_figure8". The list comes from the binary
itself, so it can never disagree with what will run: `--lab-info` prints
the lab's policy and its tests as JSON (harness/harness_info.c).
"""
from __future__ import annotations

import fnmatch
import json
import subprocess
from typing import Any, Sequence

from .policy import HARNESS_CLASSES, LIMITS, PARTS

INFO_SCHEMA = 1   # the "schema" of --lab-info's JSON that this reads


class SelectionError(Exception):
    """A part or pattern that matches no test."""


class CatalogError(Exception):
    """The binary's --lab-info could not be run or read."""


def lab_info(binary: str) -> dict[str, Any]:
    """The binary's --lab-info, checked (parse_info). Raises CatalogError."""
    try:
        proc = subprocess.run([binary, "--lab-info"], capture_output=True, text=True, timeout=60,
                              stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError) as err:
        raise CatalogError(f"{binary} --lab-info: {err}") from err
    if proc.returncode != 0:
        raise CatalogError(f"{binary} --lab-info exited with status {proc.returncode}: "
                           f"{proc.stderr.strip()[-300:]}")
    return parse_info(proc.stdout)


def parse_info(text: str) -> dict[str, Any]:
    """--lab-info's JSON, with its tests checked to be "<part>/<name>" of
    the lab's parts, and its classes and limits to be policy.py's: a binary
    whose policy the Python side does not share would be misjudged (a class
    it does not know is a CRASH; only SAFETY zeroes a test), so it is
    refused. Raises CatalogError."""
    try:
        info = json.loads(text)
    except ValueError as err:
        raise CatalogError(f"--lab-info did not print JSON ({err}): {text[:300]!r}") from err
    if not isinstance(info, dict) or info.get("schema") != INFO_SCHEMA:
        raise CatalogError(f"--lab-info: not schema {INFO_SCHEMA}: {text[:300]!r}")
    tests = info.get("tests")
    if not isinstance(tests, list):
        raise CatalogError("--lab-info: no list of tests")
    for test in tests:
        if not isinstance(test, str) or test.count("/") != 1 or part_of(test) not in PARTS:
            raise CatalogError(f"--lab-info: {test!r} is not a test of one of the parts {', '.join(PARTS)}")
    classes = [c.get("name") if isinstance(c, dict) else c for c in info.get("classes", [])]
    if classes != list(HARNESS_CLASSES):
        raise CatalogError(f"--lab-info: the binary's failure classes {classes} are not those of "
                           f"raftlab/run/policy.py {list(HARNESS_CLASSES)}: update one to match the other")
    limits = info.get("limits", {})
    wrong = {k: limits.get(k) for k, v in LIMITS.items() if not isinstance(limits, dict) or limits.get(k) != v}
    if wrong:
        ours = {k: LIMITS[k] for k in wrong}
        raise CatalogError(f"--lab-info: the binary's limits {wrong} are not raftlab/run/policy.py's "
                           f"{ours}: update one to match the other")
    return info


def list_tests(binary: str) -> list[str]:
    """The binary's tests, in the lab's order: ["2A/t01_initial_election", ...].
    Raises CatalogError."""
    return tests_of(lab_info(binary))


def tests_of(info: dict[str, Any]) -> list[str]:
    """The tests of a parsed --lab-info, parts in order, then by name."""
    return sorted(info["tests"], key=lambda t: (PARTS.index(part_of(t)), t))


def criterion_filter(test: str) -> str:
    return "raft" + test


def part_of(test: str) -> str:
    return test.split("/", 1)[0]


def select(tests: Sequence[str], parts: Sequence[str] | None = None,
           patterns: Sequence[str] | None = None) -> list[str]:
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


def _matches(test: str, pattern: str) -> bool:
    name = test.split("/", 1)[1]
    return (fnmatch.fnmatchcase(test, pattern) or fnmatch.fnmatchcase(name, pattern)
            or fnmatch.fnmatchcase(test, pattern + "*"))


def parse_target(target: str) -> list[str]:
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

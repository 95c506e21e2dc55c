"""Gradescope's autograder results.json: writing it, and checking a file
against the schema Gradescope documents (top-level score, execution_time,
output, visibility, tests[]; each test with name, score, max_score, status,
output, visibility ...), so that an upload is never rejected."""
from __future__ import annotations

import json
import numbers
import os
from typing import Any, Mapping

from ..run.run import Outcome
from .report import Grade

VISIBILITIES = ("hidden", "after_due_date", "after_published", "visible")
TOP_KEYS = {"score": numbers.Real, "execution_time": numbers.Real, "output": str,
            "output_format": str, "test_output_format": str, "test_name_format": str,
            "visibility": str, "stdout_visibility": str, "extra_data": dict,
            "tests": list, "leaderboard": list}
TEST_KEYS = {"score": numbers.Real, "max_score": numbers.Real, "status": str, "name": str,
             "name_format": str, "number": str, "output": str, "output_format": str,
             "tags": list, "visibility": str, "extra_data": dict}
FORMATS = ("text", "html", "simple_format", "md", "ansi")


def failure(o: Outcome, out_dir: str | None) -> dict[str, Any]:
    """A failing run in a test's extra_data: its seed and class, its kept
    log and timeline page (relative to the submission's output directory
    when under it), or why there is no page."""
    def where(path: str) -> str:
        if path and out_dir and os.path.abspath(path).startswith(os.path.abspath(out_dir) + os.sep):
            return os.path.relpath(path, out_dir)
        return path
    entry = {"seed": o.seed, "class": o.cls, "log": where(o.log_path), "timeline": where(o.timeline)}
    if o.timeline_note:
        entry["timeline_note"] = o.timeline_note
    return entry


def results(grade: Grade, policy_text: str, out_dir: str | None = None) -> dict[str, Any]:
    """results.json's content for one graded submission (grade: report.Grade);
    paths of kept files relative to out_dir, the submission's directory."""
    tests: list[dict[str, Any]] = []
    doc: dict[str, Any] = {
        "score": grade.score,
        "execution_time": round(grade.wall_seconds, 1),
        "output": grade.summary_text(policy_text),
        "output_format": "text",
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
    }
    for i, row in enumerate(grade.rows, 1):
        tests.append({
            "name": row.name,
            "number": f"{row.part}.{i}",
            "score": row.score,
            "max_score": row.max_points,
            "status": "passed" if row.score == row.max_points and row.stats.passes == row.stats.runs else "failed",
            "output": row.output,
            "output_format": "text",
            "visibility": "visible",
        })
        if row.stats.failures:   # where the grader kept each failing run's log and page
            tests[-1]["extra_data"] = {"failures": [failure(o, out_dir) for o in row.stats.failures]}
    return doc


def problems(doc: object) -> list[str]:
    """What is wrong with doc as a Gradescope results.json ([] when nothing)."""
    errs = []
    if not isinstance(doc, dict):
        return ["the top level must be an object"]
    errs += _check_keys(doc, TOP_KEYS, "top level")
    if "score" not in doc and not (isinstance(doc.get("tests"), list) and doc["tests"]
                                   and all(isinstance(t, dict) and "score" in t for t in doc["tests"])):
        errs.append("top level: needs 'score', or tests that all have 'score'")
    for i, test in enumerate(doc.get("tests", []) if isinstance(doc.get("tests"), list) else []):
        where = f"tests[{i}]"
        if not isinstance(test, dict):
            errs.append(f"{where}: must be an object")
            continue
        errs += _check_keys(test, TEST_KEYS, where)
        if test.get("status") not in (None, "passed", "failed"):
            errs.append(f"{where}: status must be 'passed' or 'failed'")
        if "score" in test and "max_score" in test and _is_number(test["score"]) and _is_number(test["max_score"]):
            if test["score"] < 0 or test["score"] > test["max_score"]:
                errs.append(f"{where}: score {test['score']} is outside 0..max_score {test['max_score']}")
    return errs


def _is_number(v: object) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


def _check_keys(obj: dict[str, Any], allowed: Mapping[str, type], where: str) -> list[str]:
    errs = []
    for key, value in obj.items():
        if key not in allowed:
            errs.append(f"{where}: unknown key '{key}'")
        elif allowed[key] is numbers.Real and not _is_number(value):
            errs.append(f"{where}: '{key}' must be a number, not {type(value).__name__}")
        elif allowed[key] is not numbers.Real and not isinstance(value, allowed[key]):
            errs.append(f"{where}: '{key}' must be {allowed[key].__name__}, not {type(value).__name__}")
    for key in ("visibility", "stdout_visibility"):
        if isinstance(obj.get(key), str) and obj[key] not in VISIBILITIES:
            errs.append(f"{where}: {key} '{obj[key]}' is not one of {', '.join(VISIBILITIES)}")
    for key in ("output_format", "test_output_format"):
        if isinstance(obj.get(key), str) and obj[key] not in FORMATS:
            errs.append(f"{where}: {key} '{obj[key]}' is not one of {', '.join(FORMATS)}")
    return errs


def check_file(path: str) -> list[str]:
    try:
        with open(path) as f:
            doc = json.load(f)
    except (OSError, ValueError) as err:
        return [f"{path}: {err}"]
    return [f"{path}: {p}" for p in problems(doc)]

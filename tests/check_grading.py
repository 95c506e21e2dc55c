#!/usr/bin/env python3
"""check_grading.py: grading/grade grades what it is given as it should.

One batch through the grader (one pool, one run of every test each):
  solution   solution/raft.c                         full marks
  tamperer   a tarball of the skeleton with a 2A suite rewritten to pass
             and a Makefile that skips the tests     0, every test LIVENESS
                                                     (only raft.c is taken)
  segv       tests/faulty/segv_in_handler            0, every test CRASH
  exit       tests/faulty/exit_in_start              2A's points; every
                                                     other test EXIT
  broken     a raft.c with a syntax error            BUILD-ERROR, 0
Then every results.json passes the Gradescope schema check, the CSV has a
row per submission, and the checker itself rejects a malformed document.
Usage: tests/check_grading.py [--jobs J]   (about 2 minutes on 2 cores)
"""
import csv
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "grading"))
from gradelib import gradescope  # noqa: E402

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print(f"check_grading: FAILED: {what}", file=sys.stderr)


def patched(name, work):
    out = os.path.join(work, name)
    os.makedirs(out)
    subprocess.run(["patch", "-s", "-o", os.path.join(out, "raft.c"), os.path.join(ROOT, "solution/raft.c")],
                   stdin=open(os.path.join(ROOT, "tests/faulty", name + ".patch")), check=True)
    return out


def tamper_tarball(work):
    """The skeleton, with tests that would pass anything."""
    path = os.path.join(work, "tamperer.tar.gz")
    fake_suite = b'#include <criterion/criterion.h>\nTest(raft2A, t01_initial_election) { cr_assert(1); }\n'
    with tarfile.open(path, "w:gz") as t:
        t.add(os.path.join(ROOT, "raft/raft.c"), "tamperer/raft/raft.c")
        for name, data in (("tamperer/tests/test_2a.c", fake_suite),
                           ("tamperer/Makefile", b"test-2A:\n\ttrue\n")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return path


def main():
    jobs = sys.argv[sys.argv.index("--jobs") + 1] if "--jobs" in sys.argv else "8"
    work = tempfile.mkdtemp(prefix="check-grading-")
    solution = os.path.join(work, "solution")
    os.makedirs(solution)
    with open(os.path.join(ROOT, "solution/raft.c"), "rb") as src, open(os.path.join(solution, "raft.c"), "wb") as dst:
        dst.write(src.read())
    segv, exit_ = patched("segv_in_handler", work), patched("exit_in_start", work)
    os.rename(segv, os.path.join(work, "segv"))
    os.rename(exit_, os.path.join(work, "exit"))
    broken = os.path.join(work, "broken.c")
    with open(broken, "w") as f:
        f.write('#include "raft/raft.h"\nint raft_this_is_not_c(void) { return 0 }\n')
    subs = [solution, tamper_tarball(work), os.path.join(work, "segv"), os.path.join(work, "exit"), broken]
    out, json_dir, csv_path = (os.path.join(work, d) for d in ("out", "json", "grades.csv"))
    start = time.monotonic()
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "grading/grade"), *subs, "--runs", "1",
                           "--jobs", jobs, "--out", out, "--json", json_dir, "--csv", csv_path, "--seed", "1"],
                          capture_output=True, text=True)
    took = time.monotonic() - start
    check(proc.returncode == 0, f"grade exited {proc.returncode}: {proc.stderr[-2000:]}")

    docs = {}
    for name in ("solution", "tamperer", "segv", "exit", "broken"):
        path = os.path.join(json_dir, name + ".json")
        check(os.path.exists(path), f"no {path}")
        if os.path.exists(path):
            check(gradescope.check_file(path) == [], f"{path}: {gradescope.check_file(path)}")
            with open(path) as f:
                docs[name] = json.load(f)
    if len(docs) == 5:
        check_scores(docs)
    with open(csv_path) as f:
        rows = {r["submission"]: r for r in csv.DictReader(f)}
    check(set(rows) == set(docs), f"CSV rows {sorted(rows)}")
    for name, row in rows.items():
        print(f"  {name}: {row['status']}, {row['score']}/{row['max_score']} points, {row['failed_runs']} of {row['runs']} runs failed")
    check(rows.get("broken", {}).get("status") == "BUILD-ERROR", "CSV: broken is not BUILD-ERROR")
    check(gradescope.problems({"score": "ten", "tests": [{"score": 3, "max_score": 2, "visibility": "public"}],
                               "colour": 1}) != [], "the schema check accepted a malformed document")
    if failures:
        print(proc.stdout)
        print(f"check_grading: {len(failures)} problem(s); work files kept in {work}", file=sys.stderr)
        return 1
    print(f"check_grading: the grader graded 5 submissions as expected in {took:.0f} s "
          f"(reference full marks; skeleton 0, LIVENESS; CRASH; EXIT; BUILD-ERROR; JSON and CSV valid)")
    subprocess.run(["rm", "-rf", work])
    return 0


def classes(doc):
    """{test name: its output's first line} for a results.json."""
    return {t["name"]: t["output"] for t in doc["tests"]}


def check_scores(docs):
    sol = docs["solution"]
    check(len(sol["tests"]) == 28, f"solution: {len(sol['tests'])} tests, not 28")
    check(sol["score"] == sum(t["max_score"] for t in sol["tests"]) and sol["score"] > 0,
          f"solution: {sol['score']} points, not full marks:\n{sol['output']}")
    for name, cls in (("tamperer", "LIVENESS"), ("segv", "CRASH")):
        check(docs[name]["score"] == 0, f"{name}: {docs[name]['score']} points, not 0")
        wrong = [n for n, o in classes(docs[name]).items() if f"failures: {cls}×1" not in o]
        check(not wrong, f"{name}: not {cls}: {wrong}")
    ex = docs["exit"]
    for t in ex["tests"]:
        if t["name"].startswith("2A"):
            check(t["score"] == t["max_score"], f"exit: {t['name']} did not pass: {t['output']}")
        else:
            check(t["score"] == 0 and "failures: EXIT×1" in t["output"], f"exit: {t['name']}: {t['output']}")
    br = docs["broken"]
    check(br["score"] == 0 and "BUILD-ERROR" in br["output"] and "error" in br["output"],
          f"broken: {br['output'][:500]}")


if __name__ == "__main__":
    sys.exit(main())

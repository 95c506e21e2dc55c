#!/usr/bin/env python3
"""load_grading.py: grade the reference solution under heavy CPU load and
count what STARVED did: how many runs the grader judged starved and ran
again, and how many false failures (the reference is correct: every
failure it gets is one) still got through.

The load is busy loops, HOGS of them (default 2 per CPU), from stress-ng
(Debian's stress-ng) when it is installed, else Python's own, each in a
session of its own (autogroup scheduling gives all the loops of one
session one share of the CPU); at --nice below 0 (root) their sessions
outrank the runs', as a higher-priority job on a shared machine does (at
nice 0 the scheduler keeps sleeping threads, the Raft's timers, nearly on
time even under 32 loops). --control
grades a second time under the same load with --starved-reruns 0, to show
how many false failures there are without the re-runs.

Usage: PYTHONPATH=tools checks/load_grading.py [--parts 2A,2B] [--runs 2]
       [--jobs 8] [--hogs N] [--control]        (make check-grading-load)
Not part of make check: it loads the machine on purpose for minutes.
"""
from __future__ import annotations

import argparse
import csv
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Any

from raftlab.run.paths import LAB_ROOT as ROOT

GRADE = os.path.join(ROOT, "grading", "grade")
BUSY = "import time\nend = time.time() + float(__import__('sys').argv[1])\nwhile time.time() < end: pass\n"


def start_hogs(n: int, seconds: int, nice: int) -> tuple[list[subprocess.Popen[bytes]], str]:
    hogs, what = _start_hogs(n, seconds)
    if nice:   # each loop's session (its autogroup) at that niceness: it outranks the runs' sessions
        for h in hogs:
            try:
                with open(f"/proc/{h.pid}/autogroup", "w") as f:
                    f.write(str(nice))
            except OSError as err:
                sys.exit(f"load_grading: --nice {nice}: cannot set /proc/{h.pid}/autogroup: {err}")
        what += f", their sessions at nice {nice}"
    return hogs, what


def _start_hogs(n: int, seconds: int) -> tuple[list[subprocess.Popen[bytes]], str]:
    prefix: list[str] = []
    at = ""
    # Each busy loop in a session of its own: with autogroup scheduling (Linux's default where
    # CONFIG_SCHED_AUTOGROUP is on), loops sharing one session share one group's CPU, and a machine's
    # load comes from many sessions (other jobs, users).
    if shutil.which("stress-ng"):
        cmd = prefix + ["stress-ng", "--cpu", "1", "--cpu-method", "loop", "--timeout", f"{seconds}s", "--quiet"]
        return ([subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
                 for _ in range(n)], f"{n} × stress-ng --cpu 1, each in its own session{at}")
    return ([subprocess.Popen(prefix + [sys.executable, "-c", BUSY, str(seconds)], start_new_session=True)
             for _ in range(n)], f"{n} Python busy loops, each in its own session{at}")


def submissions(work: str, hostile: bool) -> list[str]:
    """The reference; with hostile, the skeleton (fails every run, LIVENESS,
    with little CPU) and checks/hostile/starve_itself.c (burns both cores,
    then fails): neither may gain anything from the re-runs."""
    subs = []
    sources = [("reference", os.path.join(ROOT, "solution", "raft.c"))]
    if hostile:
        sources.append(("skeleton", os.path.join(ROOT, "raft", "raft.c")))
    for name, src in sources:
        os.makedirs(os.path.join(work, name), exist_ok=True)
        shutil.copyfile(src, os.path.join(work, name, "raft.c"))
        subs.append(os.path.join(work, name))
    if hostile:
        sys.path.insert(0, os.path.join(ROOT, "checks"))
        import check_grading
        os.makedirs(os.path.join(work, "starve_itself"), exist_ok=True)
        with open(os.path.join(ROOT, "checks", "hostile", "starve_itself.c")) as f, \
                open(os.path.join(work, "starve_itself", "raft.c"), "w") as g:
            g.write(f.read() + check_grading.STUB)
        subs.append(os.path.join(work, "starve_itself"))
    return subs


def grade_under_load(args: argparse.Namespace, work: str, reruns: int) -> dict[str, Any]:
    subs = submissions(work, args.hostile)
    ref = subs[0]
    tag = f"reruns{reruns}"
    out, res, csv_path = (os.path.join(work, tag + x) for x in ("-out", "-results", ".csv"))
    # The lab and the submission build before the load starts: only the runs are loaded.
    subprocess.run([sys.executable, GRADE, ref, "--tests", "2A/t01*", "--runs", "1", "--sim", "--out",
                    os.path.join(work, "warm")], capture_output=True)
    limits = ["--cpu-limit", "4"] if args.hostile else []
    hogs, what = start_hogs(args.hogs, 3600, args.nice)
    start = time.monotonic()
    try:
        proc = subprocess.run([sys.executable, GRADE, *subs, "--parts", args.parts, "--runs", str(args.runs),
                               "--jobs", str(args.jobs), "--seed", str(args.seed), "--out", out, "--csv", csv_path,
                               "--results", res, "--starved-reruns", str(reruns), *limits],
                              capture_output=True, text=True)
    finally:
        for h in hogs:
            h.terminate()
        for h in hogs:
            h.wait()
    took = time.monotonic() - start
    if proc.returncode != 0:
        sys.exit(f"load_grading: grade exited {proc.returncode}:\n{proc.stderr[-3000:]}")
    with open(csv_path) as f:
        rows = {r["submission"]: r for r in csv.DictReader(f)}
    runs: list[dict[str, Any]] = []
    for path in glob.glob(os.path.join(res, "*.jsonl")):
        with open(path) as f:
            runs += [d for d in map(json.loads, f) if d.get("type") == "run"]
    result: dict[str, Any] = {
        "load": what, "reruns_allowed": reruns, "seconds": round(took),
        "machine": [line for line in proc.stderr.splitlines() if "the machine during the runs" in line]}
    for name, row in rows.items():
        mine = [r for r in runs if r["sub"] == name]
        failed = [r for r in mine if not r["passed"]]
        result[name] = {
            "runs": len(mine), "starved_reruns": int(row["starved_reruns"]), "failed_runs": len(failed),
            "still_starved_counted": sum(1 for r in mine if r["starved_counted"]),
            "most_reruns_of_one_run": max((len(r["starved"]) for r in mine), default=0),
            "score": f"{row['score']}/{row['max_score']}",
            "failures": [f"{r['test']} {r['cls']}: {r['reason'][:80]} [{r['machine']}]" for r in failed][:12],
            "starved": [s for r in mine for s in r["starved"]][:6]}
    return result


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--parts", default="2A,2B")
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--jobs", type=int, default=8)
    ap.add_argument("--hogs", type=int, default=2 * (os.cpu_count() or 1))
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--nice", type=int, default=0,
                    help="the busy loops' sessions' niceness (/proc/PID/autogroup): below 0 (root only) they "
                         "outrank the runs, as another job of higher priority does on a shared machine")
    ap.add_argument("--control", action="store_true", help="grade again with --starved-reruns 0")
    ap.add_argument("--hostile", action="store_true",
                    help="grade the skeleton and checks/hostile/starve_itself.c with the reference (CPU limit 4 s)")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="load-grading-")
    results = [grade_under_load(args, work, 2)]
    if args.control:
        results.append(grade_under_load(args, work, 0))
    for r in results:
        print(json.dumps(r, indent=1))
        ref = r["reference"]
        print(f"load_grading: under {r['load']}, {ref['runs']} runs of the reference ({args.parts}, "
              f"--jobs {args.jobs}, --starved-reruns {r['reruns_allowed']}) in {r['seconds']} s: "
              f"{ref['starved_reruns']} judged STARVED and run again, {ref['failed_runs']} false failure(s) counted, "
              f"score {ref['score']}")
        for name in ("skeleton", "starve_itself"):
            if name in r:
                h = r[name]
                print(f"load_grading:   {name}: {h['runs']} runs, {h['starved_reruns']} STARVED re-runs (at most "
                      f"{h['most_reruns_of_one_run']} for one run), {h['failed_runs']} failures counted, "
                      f"score {h['score']}")
    print(f"load_grading: files in {work}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

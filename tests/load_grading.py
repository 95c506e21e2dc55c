#!/usr/bin/env python3
"""load_grading.py: grade the reference solution under heavy CPU load and
count what STARVED did: how many runs the grader judged starved and ran
again, and how many false failures (the reference is correct: every
failure it gets is one) still got through.

The load is busy loops, HOGS of them (default 2 per CPU), from stress-ng
(Debian's stress-ng) when it is installed, else Python's own. --control
grades a second time under the same load with --starved-reruns 0, to show
how many false failures there are without the re-runs.

Usage: PYTHONPATH=tools tests/load_grading.py [--parts 2A,2B] [--runs 2]
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

from raftlab.run.paths import LAB_ROOT as ROOT

GRADE = os.path.join(ROOT, "grading", "grade")
BUSY = "import time\nend = time.time() + float(__import__('sys').argv[1])\nwhile time.time() < end: pass\n"


def start_hogs(n: int, seconds: int) -> tuple[list[subprocess.Popen[bytes]], str]:
    if shutil.which("stress-ng"):
        cmd = ["stress-ng", "--cpu", str(n), "--cpu-method", "loop", "--timeout", f"{seconds}s", "--quiet"]
        return [subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)], f"stress-ng --cpu {n}"
    return ([subprocess.Popen([sys.executable, "-c", BUSY, str(seconds)]) for _ in range(n)],
            f"{n} Python busy loops")


def grade_under_load(args: argparse.Namespace, work: str, reruns: int) -> dict[str, object]:
    ref = os.path.join(work, "reference")
    os.makedirs(ref, exist_ok=True)
    shutil.copyfile(os.path.join(ROOT, "solution", "raft.c"), os.path.join(ref, "raft.c"))
    tag = f"reruns{reruns}"
    out, res, csv_path = (os.path.join(work, tag + x) for x in ("-out", "-results", ".csv"))
    # The lab and the submission build before the load starts: only the runs are loaded.
    subprocess.run([sys.executable, GRADE, ref, "--tests", "2A/t01*", "--runs", "1", "--sim", "--out",
                    os.path.join(work, "warm")], capture_output=True)
    hogs, what = start_hogs(args.hogs, 3600)
    start = time.monotonic()
    try:
        proc = subprocess.run([sys.executable, GRADE, ref, "--parts", args.parts, "--runs", str(args.runs),
                               "--jobs", str(args.jobs), "--seed", str(args.seed), "--out", out, "--csv", csv_path,
                               "--results", res, "--starved-reruns", str(reruns)],
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
        row = next(csv.DictReader(f))
    runs: list[dict[str, object]] = []
    for path in glob.glob(os.path.join(res, "*.jsonl")):
        with open(path) as f:
            runs += [d for d in map(json.loads, f) if d.get("type") == "run"]
    starved_reasons = [s for r in runs for s in r["starved"]]  # type: ignore[attr-defined]
    failed = [r for r in runs if not r["passed"]]
    return {"load": what, "reruns_allowed": reruns, "seconds": round(took), "runs": len(runs),
            "starved_reruns": int(row["starved_reruns"]), "false_failures": len(failed),
            "still_starved_counted": sum(1 for r in runs if r["starved_counted"]),
            "score": f"{row['score']}/{row['max_score']}",
            "failures": [f"{r['test']} {r['cls']}: {r['reason']} [{r['machine']}]" for r in failed],
            "starved": starved_reasons, "report": os.path.join(out, "reference", "report.txt"),
            "machine": [line for line in proc.stderr.splitlines() if "the machine during the runs" in line]}


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--parts", default="2A,2B")
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--jobs", type=int, default=8)
    ap.add_argument("--hogs", type=int, default=2 * (os.cpu_count() or 1))
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--control", action="store_true", help="grade again with --starved-reruns 0")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="load-grading-")
    results = [grade_under_load(args, work, 2)]
    if args.control:
        results.append(grade_under_load(args, work, 0))
    for r in results:
        print(json.dumps(r, indent=1))
        print(f"load_grading: under {r['load']}, {r['runs']} runs of the reference ({args.parts}, --jobs {args.jobs}, "
              f"--starved-reruns {r['reruns_allowed']}) in {r['seconds']} s: {r['starved_reruns']} judged STARVED "
              f"and run again, {r['false_failures']} false failure(s) counted, score {r['score']}")
    print(f"load_grading: files in {work}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

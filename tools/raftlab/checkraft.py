"""check-raft: warns when raft.c breaks a submission rule that the grader
enforces (HANDOUT.md, "Grading and submission"): the grader refuses such a
raft.c (REFUSED, 0 points) before running a single test.

    tools/check-raft build/plain-cc/raft/raft.o --deps build/plain-cc/raft/raft.d \
        --source raft/raft.c -- cc <the lab's CFLAGS>

make test-2A ... test-2D run it after building raft.o. It only warns: the
exit status is 0 whatever it finds (--strict: 1 when it finds something).
The rules are raftlab.run.objcheck's, the very code the grader runs.

It also names every call that simulation mode cannot schedule or replay
(pthreads, sleeps, clocks, rand: objcheck_rules.txt, [replay]) with its
lab_ replacement: a note in real time; with --sim (make test-... SIM=1) an
error, exit status 1, and the run does not start.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys

from .run import objcheck
from .run.paths import LAB_ROOT as ROOT

DOC = __doc__ or ""


def problems(args: argparse.Namespace) -> list[str]:
    found = objcheck.check_object(args.object)
    if args.deps and os.path.exists(args.deps):
        found += objcheck.check_headers(objcheck.read_deps(args.deps), ROOT, args.source or "raft/raft.c")
    if args.source and args.cc:
        proc = subprocess.run(args.cc + ["-E", args.source], cwd=ROOT, capture_output=True,
                              stdin=subprocess.DEVNULL, timeout=60)
        if proc.returncode == 0:
            found += objcheck.check_preprocessed(proc.stdout.decode("utf-8", "replace"),
                                                 os.path.basename(args.source))
    return found


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="tools/check-raft", description=DOC.split("\n\n")[0])
    ap.add_argument("object")
    ap.add_argument("--deps", help="the compiler's dependency file for the object")
    ap.add_argument("--source", help="the raft.c it was compiled from, relative to the lab's root")
    ap.add_argument("--strict", action="store_true", help="exit 1 when something is found")
    ap.add_argument("--sim", action="store_true",
                    help="for simulation mode: exit 1 when raft.c calls what simulation cannot replay")
    ap.add_argument("cc", nargs=argparse.REMAINDER, help="-- and the compile command, to preprocess the source")
    args = ap.parse_args(argv)
    args.cc = args.cc[1:] if args.cc[:1] == ["--"] else args.cc
    if not sys.platform.startswith("linux"):
        return 0   # the grader runs on Linux; this check reads ELF objects
    if not (shutil.which("readelf") and shutil.which("objdump")):
        print("check-raft: skipped: needs readelf and objdump (binutils)", file=sys.stderr)
        return 0
    try:
        found = problems(args)
        unreplayable = objcheck.check_replay(args.object, source=os.path.basename(args.source or "raft.c"))
    except (OSError, subprocess.SubprocessError) as err:
        print(f"check-raft: could not check {args.object}: {err}", file=sys.stderr)
        return 1 if args.sim else 0
    refused = report_replay(unreplayable, args.sim)
    if found:
        print("check-raft: WARNING: the grader will refuse this raft.c (REFUSED, 0 points):", file=sys.stderr)
        for line in found:
            print(f"check-raft:   {line}", file=sys.stderr)
        print("check-raft: see HANDOUT.md, section 7 (Grading and submission)", file=sys.stderr)
    return 1 if refused or (found and args.strict) else 0


def report_replay(unreplayable: list[str], sim: bool) -> bool:
    """Prints the calls simulation cannot replay; True if they refuse the run."""
    if not unreplayable:
        return False
    if sim:
        print("check-raft: error: simulation mode cannot run this raft.c: everything a Raft does with "
              "threads, locks, sleeps, clocks and random numbers must go through lab/sync.h and "
              "lab/rand.h, or a seed cannot replay the run:", file=sys.stderr)
    else:
        print("check-raft: note: simulation mode (SIM=1) will refuse this raft.c: these calls bypass "
              "the lab layer, so a seed could not replay them:", file=sys.stderr)
    for line in unreplayable:
        print(f"check-raft:   {line}", file=sys.stderr)
    return sim

"""check-raft: warns when raft.c breaks a submission rule that the grader
enforces (HANDOUT.md, "Grading and submission"): the grader refuses such a
raft.c (REFUSED, 0 points) before running a single test.

    tools/check-raft build/plain-cc/raft/raft.o --deps build/plain-cc/raft/raft.d \
        --source raft/raft.c -- cc <the lab's CFLAGS>

make test-2A ... test-2D run it after building raft.o. It only warns: the
exit status is 0 whatever it finds (--strict: 1 when it finds something).
The rules are raftlab.run.objcheck's, the very code the grader runs.
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
    except (OSError, subprocess.SubprocessError) as err:
        print(f"check-raft: could not check {args.object}: {err}", file=sys.stderr)
        return 0
    if not found:
        return 0
    print("check-raft: WARNING: the grader will refuse this raft.c (REFUSED, 0 points):", file=sys.stderr)
    for line in found:
        print(f"check-raft:   {line}", file=sys.stderr)
    print("check-raft: see HANDOUT.md, section 7 (Grading and submission)", file=sys.stderr)
    return 1 if args.strict else 0

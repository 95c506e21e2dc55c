#!/usr/bin/env python3
"""check_cgroup_v2_in_vm.py: the grader's cgroup v2 path for real, in the VM
that checks/check_cgroup_v2.sh boots (only cgroup2 mounted, at
/sys/fs/cgroup, with the memory and pids controllers; this process as root
in the root cgroup). It makes and removes cgroups at the hierarchy's top:
never run it on a host.

1. The hierarchy: cgroup2 only, memory and pids available, this process in
   the root cgroup, nothing enabled for its children (as the kernel starts).
2. In the root cgroup: cgroups.detect picks v2; a run's cgroup has the
   memory.max, memory.swap.max and pids.max the code writes; close() leaves
   the hierarchy as it was.
3. checks/tools/test_cgroups.py there: RunCgroupTest runs (no skip) and
   passes: the RAM limit named, the task limit named, nothing left.
4. grading/grade there, end to end (check_grading.py's hostile batch code):
   memory_hog and thread_bomb (checks/hostile/, each as its header says),
   a case that touches its RAM (the cgroup's RAM limit named) and the
   reference (full marks), under check_grading's small limits; then
   thread_bomb again with 64 GiB of address space, so that the cgroup's
   task limit acts first and is named. The grader says "cgroups v2: ...",
   and leaves no cgroup behind.
5. In a cgroup of its own below the root whose parent gives it memory and
   pids (systemd-run --scope -p Delegate=yes): test_cgroups.py and a grade
   again, the grader moving itself to a leaf; its cgroup as it was after.
6. In a cgroup it shares with another process (a login session's scope):
   detect says why not in one line, and changes nothing.
Usage (in the VM): PYTHONPATH=tools python3 checks/check_cgroup_v2_in_vm.py
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import check_grading   # this file's directory, checks/, is on sys.path
from raftlab.run import cgroups
from raftlab.run.paths import LAB_ROOT as ROOT

TOP = "/sys/fs/cgroup"
UNITTEST = ["python3", "-m", "unittest", "discover", "-s", "checks/tools", "-p", "test_cgroups.py", "-v"]
RUN_CGROUP_TESTS = ("test_touching_more_ram_than_the_limit_is_a_limit_named_so",
                    "test_too_many_tasks_is_a_limit_named_so",
                    "test_nothing_of_a_run_is_left_even_without_a_sandbox")
RAM_TOUCHER = r"""// hostile (or just buggy): touches every byte of 64 MiB at a time without end
// base: stub
// expect: OK 0 /LIMIT: raft2A/t01_initial_election: used more than its RAM limit \(256 MiB, the run's cgroup\)/
#include <stdlib.h>
#include <string.h>
static char *volatile touched;
static void hostile_make(void)
{
    for (;;) {
        char *p = malloc(64 << 20);
        memset(p, 1, 64 << 20);
        touched = p;
    }
}
"""
failures: list[str] = []


def check(cond: bool, what: str) -> None:
    if not cond:
        failures.append(what)
        print(f"check_cgroup_v2: FAILED: {what}", flush=True)


def read(path: str) -> str:
    with open(path) as f:
        return f.read()


def write(path: str, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)


def tree(top: str) -> dict[str, str]:
    """{cgroup: its cgroup.subtree_control} of top and every cgroup below it."""
    return {here: read(os.path.join(here, "cgroup.subtree_control")).strip() for here, _, _ in os.walk(top)}


def in_cgroup(cgroup: str, cmd: list[str]) -> list[str]:
    """cmd, its process moved to cgroup first (as systemd starts a unit's process in its cgroup)."""
    return ["sh", "-c", f'echo $$ >"{cgroup}/cgroup.procs" && exec "$@"', "sh", *cmd]


def hierarchy() -> None:
    types = [line.split(" - ")[1].split()[0] for line in read("/proc/self/mountinfo").splitlines()]
    check("cgroup" not in types, f"a cgroup v1 hierarchy is mounted: {types}")
    check(types.count("cgroup2") == 1, f"not one cgroup2 mount: {types}")
    controllers = read(os.path.join(TOP, "cgroup.controllers")).split()
    check("memory" in controllers and "pids" in controllers, f"{TOP} has the controllers {controllers}")
    check(read("/proc/self/cgroup").strip() == "0::/", f"not in the root cgroup: {read('/proc/self/cgroup')}")
    check(tree(TOP) == {TOP: ""}, f"the hierarchy is not as the kernel starts it: {tree(TOP)}")


def detect_and_limits() -> None:
    before = tree(TOP)
    box, why = cgroups.detect(256, 64)
    check(box is not None and box.version == 2, f"detect in the root cgroup: {box} ({why})")
    if box is None:
        return
    print(f"check_cgroup_v2: detect: {box.line()}; runs below {box.bases}")
    check(box.bases == [os.path.join(TOP, f"raftlab-grade-{os.getpid()}")], f"the run cgroups' base: {box.bases}")
    dirs = box.make()
    limits = {name: read(os.path.join(dirs[0], name)).strip() for name in ("memory.max", "memory.swap.max", "pids.max")}
    print(f"check_cgroup_v2: a run's cgroup {dirs[0]}: {limits}")
    check(limits == {"memory.max": str(256 << 20), "memory.swap.max": "0", "pids.max": "64"},
          f"a run's cgroup limits: {limits}")
    check(box.finish(dirs) == (False, False) and not os.path.exists(dirs[0]), "a run's cgroup after finish")
    box.close()
    check(tree(TOP) == before, f"detect and close changed the hierarchy: {before} -> {tree(TOP)}")


def unit_tests(where: str, cgroup: str | None) -> None:
    """test_cgroups.py, its process in cgroup (None: this one's)."""
    before = tree(TOP)
    cmd = UNITTEST if cgroup is None else in_cgroup(cgroup, UNITTEST)
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=ROOT)
    print(proc.stderr.rstrip())
    check(proc.returncode == 0, f"{where}: test_cgroups.py exited {proc.returncode}")
    check("skipped" not in proc.stderr, f"{where}: test_cgroups.py skipped tests")
    for name in RUN_CGROUP_TESTS:
        check(re.search(rf"^{name} \(test_cgroups\.RunCgroupTest\.{name}\) \.\.\. ok$", proc.stderr, re.M) is not None,
              f"{where}: RunCgroupTest.{name} did not run and pass")
    check(tree(TOP) == before, f"{where}: test_cgroups.py changed the hierarchy: {before} -> {tree(TOP)}")


def grade(where: str, work: str, cgroup: str | None) -> None:
    """The hostile batch (docstring, 4), graded by grading/grade in cgroup (None: this process's)."""
    before = tree(TOP)
    src = os.path.join(work, where, "src")
    os.makedirs(src)
    for name in ("memory_hog.c", "thread_bomb.c"):
        shutil.copyfile(os.path.join(check_grading.HOSTILE, name), os.path.join(src, name))
    write(os.path.join(src, "ram_toucher.c"), RAM_TOUCHER)
    cases = check_grading.c_cases(src, os.path.join(work, where, "cases"), {"@ROOT@": ROOT})
    reference = os.path.join(work, where, "reference.c")
    shutil.copyfile(os.path.join(ROOT, "solution", "raft.c"), reference)
    cases.append((reference, "reference", "the reference", ({"OK"}, "full", None)))
    bomb = next(c[0] for c in cases if c[1] == "thread_bomb")
    wide = [(bomb, "thread_bomb", "thread_bomb with 64 GiB of address space: the cgroup's task limit first",
             ({"OK"}, 0, r"LIMIT: raft2A/t01_initial_election: reached its limit of 2048 threads and processes "
                         r"\(the run's cgroup\)")),
            (reference, "reference", "the reference", ({"OK"}, "full", None))]
    original = check_grading.GRADE
    if cgroup is not None:   # grade_cases runs sys.executable GRADE ...: a GRADE that moves itself first
        check_grading.GRADE = os.path.join(work, where, "grade-in-cgroup")
        write(check_grading.GRADE, f"import os, sys\nwith open({os.path.join(cgroup, 'cgroup.procs')!r}, 'w') as f:\n"
              f"    f.write(str(os.getpid()))\nos.execv(sys.executable, [sys.executable, {original!r}, *sys.argv[1:]])\n")
    for tag, batch, extra in ((f"{where}-hostile", cases, ["--ram-limit", "256"]),
                              (f"{where}-tasks", wide, ["--ram-limit", "512", "--memory-limit", "64"])):
        start = time.monotonic()
        b = check_grading.grade_cases(work, tag, batch, "2", extra)
        said = [line for line in b.proc.stderr.splitlines() if "cgroup" in line]
        print(f"check_cgroup_v2: {tag}: {len(batch)} submissions graded in {time.monotonic() - start:.0f} s; "
              f"{b.level}; {said}")
        check(re.search(r"^grade: cgroups v2: each run gets \d+ MiB of RAM and 2048 tasks of its own",
                        b.proc.stderr, re.M) is not None, f"{tag}: the grader did not say cgroups v2: {said}")
        check(tree(TOP) == before, f"{tag}: the grader changed the hierarchy: {before} -> {tree(TOP)}")
    check_grading.GRADE = original


def main() -> int:
    work = tempfile.mkdtemp(prefix="check-cgroup-v2-")
    steps = [("the hierarchy", hierarchy),
             ("detect in the root cgroup", detect_and_limits),
             ("test_cgroups.py in the root cgroup", lambda: unit_tests("root cgroup", None)),
             ("grade in the root cgroup", lambda: grade("root", work, None))]
    for what, step in steps:
        start = time.monotonic()
        step()
        print(f"check_cgroup_v2: {what}: done in {time.monotonic() - start:.1f} s", flush=True)
    failures.extend(check_grading.failures)
    print(f"check_cgroup_v2: {len(failures)} failure(s) in the VM", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

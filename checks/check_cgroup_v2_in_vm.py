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
3. checks/tools/test_cgroups.py and test_build_cgroups.py there: every
   test runs (no skip) and passes: the RAM limit named, the task limit
   named, nothing left, for runs and for build steps.
4. grading/grade there, end to end (check_grading.py's batch code):
   memory_hog and thread_bomb (checks/hostile/, each as its header says),
   a case that touches its RAM (the cgroup's RAM limit named) and the
   reference (full marks), under check_grading's small limits. The grader
   says "cgroups v2: ...", leaves no process and no cgroup behind.
5. In a cgroup of its own below the root whose parent gives it memory and
   pids (systemd-run --scope -p Delegate=yes): detect moves its process to
   a leaf, and close back; test_cgroups.py again; a grade of thread_bomb
   with 64 GiB of address space (the cgroup's task limit acts first and is
   named) and the reference; the hierarchy as it was after each.
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
from hostile import trees
from raftlab.run import cgroups
from raftlab.run.paths import LAB_ROOT as ROOT

TOP = "/sys/fs/cgroup"
UNITTEST = ["python3", "-m", "unittest", "discover", "-s", "checks/tools", "-p", "test_*cgroups.py", "-v"]
RUN_CGROUP_TESTS = ("test_a_runs_cgroup_has_the_limits_the_grader_says",
                    "test_touching_more_ram_than_the_limit_is_a_limit_named_so",
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
# Under software emulation (no usable KVM) a run's CPU time is several times the host's: check_grading's
# 4 s would end the hostile runs before their limit acts, so the CPU limit is raised.
SLOW_MACHINE = ["--cpu-limit", "60"] if os.environ.get("RAFTLAB_VM_ACCEL") == "tcg" else []
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
    """test_cgroups.py and test_build_cgroups.py, their process in cgroup (None: this one's)."""
    before = tree(TOP)
    cmd = UNITTEST if cgroup is None else in_cgroup(cgroup, UNITTEST)
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=ROOT)
    print(proc.stderr.rstrip())
    check(proc.returncode == 0, f"{where}: test_*cgroups.py exited {proc.returncode}")
    check("skipped" not in proc.stderr, f"{where}: test_*cgroups.py skipped tests")
    check(re.search(r"\(test_build_cgroups\.BuildCgroupTest\.\w+\) \.\.\. ok$", proc.stderr, re.M) is not None,
          f"{where}: BuildCgroupTest did not run")
    for name in RUN_CGROUP_TESTS:
        check(re.search(rf"^{name} \(test_cgroups\.RunCgroupTest\.{name}\) \.\.\. ok$", proc.stderr, re.M) is not None,
              f"{where}: RunCgroupTest.{name} did not run and pass")
    check(tree(TOP) == before, f"{where}: test_cgroups.py changed the hierarchy: {before} -> {tree(TOP)}")


def grade_batch(where: str, work: str, cgroup: str | None) -> None:
    """grading/grade in cgroup (None: this process's): in the root cgroup,
    the hostile batch (docstring, 4); in a delegated one, the task-limit batch."""
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
    # thread_bomb again, with room for 2048 threads' stacks: the cgroup's task limit comes first.
    task_limit = (r"LIMIT: raft2A/t01_initial_election: reached its limit of 2048 threads and processes "
                  r"\(the run's cgroup\)")
    wide: list[tuple[str, str | None, str, trees.Expect]] = [
        (bomb, "thread_bomb", "thread_bomb with 64 GiB of address space", ({"OK"}, 0, task_limit)),
        (reference, "reference", "the reference", ({"OK"}, "full", None))]
    tag, batch, extra = ((f"{where}-hostile", cases, ["--ram-limit", "256"]) if cgroup is None else
                         (f"{where}-tasks", wide, ["--ram-limit", "512", "--memory-limit", "64"]))
    original = check_grading.GRADE
    if cgroup is not None:   # grade_cases runs sys.executable GRADE ...: a GRADE that moves itself first
        check_grading.GRADE = os.path.join(work, where, "grade-in-cgroup")
        procs = os.path.join(cgroup, "cgroup.procs")
        write(check_grading.GRADE, f"import os, sys\nwith open({procs!r}, 'w') as f:\n    f.write(str(os.getpid()))\n"
              f"os.execv(sys.executable, [sys.executable, {original!r}, *sys.argv[1:]])\n")
    try:
        start = time.monotonic()
        b = check_grading.grade_cases(work, tag, batch, "2", [*extra, *SLOW_MACHINE])
        lines = b.proc.stderr.splitlines()
        said = [line for line in lines if re.match(r"grade: (cgroups v|no cgroup per run)", line)]
        print(f"check_cgroup_v2: {tag}: {len(batch)} submissions graded in {time.monotonic() - start:.0f} s; "
              f"{b.level}; {said}", flush=True)
        for line in lines:   # what ended each failing run, as the grader says it
            if re.match(r"  \S+: FAIL ", line):
                print(f"check_cgroup_v2: {tag}: {line.strip()}")
        check(re.search(r"^grade: cgroups v2: each run gets \d+ MiB of RAM and 2048 tasks of its own",
                        b.proc.stderr, re.M) is not None, f"{tag}: the grader did not say cgroups v2: {said}")
        check(tree(TOP) == before, f"{tag}: the grader changed the hierarchy: {before} -> {tree(TOP)}")
    finally:
        check_grading.GRADE = original


# detect and close in a process of their own: what it says, and its cgroup before, during and after.
DETECT_PROBE = """
from raftlab.run import cgroups
def where():
    with open("/proc/self/cgroup") as f:
        return f.read().strip()
print(where())
box, why = cgroups.detect(256, 64)
print(box is not None)
print(why or box.line() if box else why)
print(where())
if box:
    box.close()
print(where())
"""


def detect_probe(cgroup: str) -> list[str]:
    """[its cgroup, 'True' if detect gave cgroups, why or its line, its cgroup then, after close]."""
    proc = subprocess.run(in_cgroup(cgroup, ["python3", "-c", DETECT_PROBE]), capture_output=True, text=True,
                          timeout=120, cwd=ROOT)
    check(proc.returncode == 0 and len(proc.stdout.splitlines()) == 5, f"the detect probe in {cgroup}: {proc}")
    return (proc.stdout.splitlines() + [""] * 5)[:5]


def delegated_detect(delegated: str) -> None:
    """detect alone in a delegated cgroup: moves itself to a leaf, and back at close (docstring, 5)."""
    before = tree(TOP)
    found = detect_probe(delegated)
    print(f"check_cgroup_v2: detect alone in {delegated}: {found}")
    own = "0::/" + os.path.basename(delegated)
    check(found[0] == own and found[1] == "True" and found[3].startswith(own + "/raftlab-grader-") and found[4] == own,
          f"detect alone in {delegated}: {found}")
    check(tree(TOP) == before, f"detect there changed the hierarchy: {before} -> {tree(TOP)}")


def shared_cgroup() -> None:
    """detect in a cgroup it shares with another process (docstring, 6)."""
    shared = os.path.join(TOP, "session.scope")
    os.mkdir(shared)
    other = subprocess.Popen(in_cgroup(shared, ["sleep", "600"]))
    try:
        while str(other.pid) not in read(os.path.join(shared, "cgroup.procs")).split():
            time.sleep(0.05)
        before = tree(TOP)
        found = detect_probe(shared)
        print(f"check_cgroup_v2: detect beside another process: {found}")
        check(found[1] == "False" and "no internal processes" in found[2] and "Delegate=yes" in found[2],
              f"detect there does not say why: {found}")
        check(tree(TOP) == before, f"detect there changed the hierarchy: {before} -> {tree(TOP)}")
    finally:
        other.kill()
        other.wait()
        os.rmdir(shared)


def main() -> int:
    with open("/proc/1/cmdline", "rb") as f:
        if b"--in-vm" not in f.read().split(b"\0"):
            print("check_cgroup_v2_in_vm.py changes the cgroups it finds: it runs only as checks/check_cgroup_v2.sh "
                  "--in-vm's child, in the VM that script boots", file=sys.stderr)
            return 2
    work = tempfile.mkdtemp(prefix="check-cgroup-v2-")
    delegated = os.path.join(TOP, "grader.scope")

    def delegate() -> None:   # as systemd makes a Delegate=yes scope: the parent enables the controllers for it
        write(os.path.join(TOP, "cgroup.subtree_control"), "+memory +pids")
        os.mkdir(delegated)

    steps = [("the hierarchy", hierarchy),
             ("detect in the root cgroup", detect_and_limits),
             ("test_cgroups.py in the root cgroup", lambda: unit_tests("root cgroup", None)),
             ("grade in the root cgroup", lambda: grade_batch("root", work, None)),
             ("a delegated cgroup below the root", delegate),
             ("detect alone in a delegated cgroup", lambda: delegated_detect(delegated)),
             ("test_cgroups.py alone in a delegated cgroup", lambda: unit_tests("delegated cgroup", delegated)),
             ("grade alone in a delegated cgroup", lambda: grade_batch("delegated", work, delegated)),
             ("detect in a cgroup shared with another process", shared_cgroup)]
    for what, step in steps:
        start = time.monotonic()
        step()
        if failures and step is hierarchy:   # not the VM this expects: touch nothing
            break
        print(f"check_cgroup_v2: {what}: done in {time.monotonic() - start:.1f} s", flush=True)
    failures.extend(check_grading.failures)
    print(f"check_cgroup_v2: {len(failures)} failure(s) in the VM", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

"""RAM and processes per run, through cgroups, where the grader may make them.

The resource limits (limits.py) bound each process: its address space,
not the RAM it touches (8 runs at once, 16 GiB of address space each, can
touch more than the machine has), and RLIMIT_NPROC counts every process
of the uid, so every run of a batch shares one ceiling (as root every run
is uid nobody). Where the grader can make cgroups of its own (as root:
cgroup v2 with the memory and pids controllers delegated to its cgroup,
or cgroup v1's memory and pids hierarchies), each run gets one: RAM
(memory.max, v1 memory.limit_in_bytes; swap held to the same) and tasks
(pids.max) of its own. The run's first process (setlimits.py, before the
sandbox starts) joins it, so everything the run starts is in it; when
the run ends the grader reads whether the kernel's OOM killer or the
pids limit acted, kills whatever is still in the cgroup (a process that
left its session or its sandbox's view included) and removes it.
Elsewhere `detect` says in one line why not, and runs go on with the
resource limits only.

cgroup v2 gives a cgroup's children a controller only once the cgroup
enables it (its cgroup.subtree_control), and the kernel refuses that to a
cgroup with processes in it, the root cgroup alone excepted ("no internal
processes"): the grader's own cgroup holds the grader. At the root (a VM,
a machine without systemd) the grader enables them there; in a cgroup of
its own (systemd-run --scope -p Delegate=yes, a container's first
process) it first moves itself to a leaf below it; in a cgroup shared with
other processes (a login session's scope, `docker exec`) it cannot, and
says so. `close` undoes what it did. checks/check_cgroup_v2.sh runs all
three in a VM (make check-cgroup-v2).
"""
from __future__ import annotations

import errno
import itertools
import os
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field

from . import limits

MIN_RAM_MB = 1024
RUN_TASKS = 2048   # threads and processes of one run (a 7-server test has about 300)
# One compile, preprocess or link of a submission (grading/building.py): gcc's
# driver, cc1, as and ld, a few at a time; the reference's raft.c compiles in
# under 100 MiB.
BUILD_RAM_MB = 1024
BUILD_TASKS = 64
V2_CONTROLLERS = ("memory", "pids")


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def _write(path: str, value: str) -> None:
    with open(path, "w") as f:
        f.write(value)


def _counter(text: str, key: str) -> int:
    """A counter of a flat keyed file (memory.events: 'oom_kill 2')."""
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == key and parts[1].isdigit():
            return int(parts[1])
    return 0


def _mounts() -> list[tuple[str, str, str, str]]:
    """(fstype, mount point, mount root, super options) of each cgroup mount."""
    found = []
    for line in _read("/proc/self/mountinfo").splitlines():
        left, _, right = line.partition(" - ")
        fields, tail = left.split(), right.split()
        if len(fields) >= 5 and len(tail) >= 3 and tail[0] in ("cgroup", "cgroup2"):
            found.append((tail[0], fields[4], fields[3], tail[2]))
    return found


def _own(controller: str) -> str | None:
    """This process's cgroup directory for a v1 controller, or for v2 with ''."""
    paths = {}
    for line in _read("/proc/self/cgroup").splitlines():
        number, names, path = (line.split(":", 2) + ["", ""])[:3]
        for name in names.split(",") if names else [""]:
            paths[name if number != "0" else ""] = path
    if controller not in paths:
        return None
    path = paths[controller]
    for fstype, point, root, options in _mounts():
        if (fstype == "cgroup2") == (controller == "") and (not controller or controller in options.split(",")):
            rel = os.path.relpath(path, root) if path.startswith(root) else None
            if rel is None or rel.startswith(".."):
                continue
            full = os.path.normpath(os.path.join(point, rel))
            if os.path.isdir(full):
                return full
    return None


@dataclass
class Cgroups:
    """Where run cgroups are made (one directory per hierarchy) and their limits."""
    version: int
    bases: list[str]                 # v2: [base]; v1: [memory base, pids base]
    ram_mb: int
    pids: int
    # v2: what detect changed in the grader's own cgroup (own), for close to undo
    own: str = ""
    enabled: list[str] = field(default_factory=list)   # controllers it enabled for own's children
    moved_to: str = ""                                  # the leaf below own it moved the grader to
    _ids: "itertools.count[int]" = field(default_factory=itertools.count)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def line(self) -> str:
        return (f"cgroups v{self.version}: each run gets {self.ram_mb} MiB of RAM and {self.pids} tasks of its own, "
                f"each compile and link {BUILD_RAM_MB} MiB and {BUILD_TASKS}, and whatever is left in its cgroup "
                "is killed when it ends")

    def make(self, ram_mb: int | None = None, pids: int | None = None) -> list[str]:
        """A new cgroup directory in each hierarchy, limits set: a run's
        (this box's limits), or a build step's (ram_mb and pids)."""
        with self._lock:
            n = next(self._ids)
        dirs = [os.path.join(base, f"run-{n}") for base in self.bases]
        for d in dirs:
            os.mkdir(d)
        ram, tasks = str((ram_mb or self.ram_mb) << 20), str(pids or self.pids)
        if self.version == 2:
            _write(os.path.join(dirs[0], "memory.max"), ram)
            if os.path.exists(os.path.join(dirs[0], "memory.swap.max")):
                _write(os.path.join(dirs[0], "memory.swap.max"), "0")
            _write(os.path.join(dirs[0], "pids.max"), tasks)
        else:
            _write(os.path.join(dirs[0], "memory.limit_in_bytes"), ram)
            try:   # swap accounting, where the kernel has it: RAM and swap together, no more
                _write(os.path.join(dirs[0], "memory.memsw.limit_in_bytes"), ram)
            except OSError:
                pass
            _write(os.path.join(dirs[1], "pids.max"), tasks)
        return dirs

    def procs_files(self, dirs: list[str]) -> list[str]:
        """The files the run's first process writes its pid to (setlimits.py)."""
        return [os.path.join(d, "cgroup.procs") for d in dirs]

    def finish(self, dirs: list[str]) -> tuple[bool, bool]:
        """When the run has ended: (the OOM killer acted, the pids limit
        refused a fork); kills what is left, removes the cgroups."""
        if self.version == 2:
            oom = _counter(_read(os.path.join(dirs[0], "memory.events")), "oom_kill") > 0
            pids = _counter(_read(os.path.join(dirs[0], "pids.events")), "max") > 0
        else:
            oom = _counter(_read(os.path.join(dirs[0], "memory.oom_control")), "oom_kill") > 0
            pids = _counter(_read(os.path.join(dirs[1], "pids.events")), "max") > 0
        for d in dirs:
            remove(d)
        return oom, pids

    def close(self) -> None:
        for base in self.bases:
            for name in os.listdir(base) if os.path.isdir(base) else []:
                if os.path.isdir(os.path.join(base, name)):
                    remove(os.path.join(base, name))
            try:
                os.rmdir(base)
            except OSError:
                pass
        # Back as detect found it: the controllers off for own's children (the kernel refuses while a
        # cgroup below still enables them: they stay), then the grader back in own, its leaf removed.
        if self.enabled:
            try:
                _write(os.path.join(self.own, "cgroup.subtree_control"), " ".join("-" + c for c in self.enabled))
                self.enabled = []
            except OSError:
                pass
        if self.moved_to and not self.enabled:
            try:
                _write(os.path.join(self.own, "cgroup.procs"), str(os.getpid()))
                os.rmdir(self.moved_to)
                self.moved_to = ""
            except OSError:
                pass

    def enable_for_children(self, leaf: str) -> str:
        """'' once the memory and pids controllers are enabled for the
        children of the grader's own cgroup (self.own), or why not (v2).
        leaf: where the grader moves itself when it is alone in own."""
        control = os.path.join(self.own, "cgroup.subtree_control")
        missing = [c for c in V2_CONTROLLERS if c not in _read(control).split()]
        if not missing:
            return ""
        change = " ".join("+" + c for c in missing)
        try:   # the root cgroup may have processes and enable them all the same
            _write(control, change)
            self.enabled = missing
            return ""
        except OSError as err:
            if err.errno != errno.EBUSY:
                return f"cannot enable {' and '.join(missing)} for the cgroups below {self.own}: {err.strerror}"
        # EBUSY: own has processes. The grader may move itself (every thread: cgroup.procs) out of
        # the way, never another process, so only when it is alone there.
        others = [p for p in _read(os.path.join(self.own, "cgroup.procs")).split() if p != str(os.getpid())]
        if others:
            return (f"{self.own} holds {len(others)} other process(es), and a cgroup with processes cannot enable "
                    "controllers for its children (no internal processes): run the grader in a cgroup of its own, "
                    "e.g. systemd-run --scope -p Delegate=yes")
        try:
            os.mkdir(leaf)
            self.moved_to = leaf
            _write(os.path.join(leaf, "cgroup.procs"), str(os.getpid()))
            _write(control, change)
            self.enabled = missing
            return ""
        except OSError as err:
            return f"cannot move the grader to {leaf} and enable {' and '.join(missing)} there: {err.strerror}"


def remove(d: str, wait: float = 5.0) -> bool:
    """Kills every process in cgroup d and removes it; False if it could not."""
    deadline = time.monotonic() + wait
    while True:
        for pid in _read(os.path.join(d, "cgroup.procs")).split():
            try:
                os.kill(int(pid), signal.SIGKILL)
            except (ProcessLookupError, PermissionError, ValueError):
                pass
        try:
            os.rmdir(d)
            return True
        except FileNotFoundError:
            return True
        except OSError:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)


def default_ram_mb(jobs: int) -> int:
    """Three quarters of the machine's RAM shared among the runs at once,
    at least MIN_RAM_MB each."""
    total_kb = _counter(_read("/proc/meminfo").replace(":", " ").replace(" kB", ""), "MemTotal")
    if total_kb <= 0:
        return MIN_RAM_MB * 4
    return max(MIN_RAM_MB, total_kb * 3 // 4 // 1024 // max(1, jobs))


def detect(ram_mb: int, pids: int, wanted: bool = True) -> tuple[Cgroups | None, str]:
    """The cgroups the grader can make for its runs, or None and why not."""
    if not wanted:
        return None, "not wanted (--no-cgroups)"
    if not os.path.isdir("/proc/self") or not os.path.exists("/proc/self/cgroup"):
        return None, "no cgroups on this system"
    tag = f"raftlab-grade-{os.getpid()}"
    why = []
    own = _own("")
    if own is not None:
        box, problem = _detect_v2(own, tag, ram_mb, pids)
        if box is not None:
            return box, ""
        why.append(f"v2: {problem}")
    memory, pids_dir = _own("memory"), _own("pids")
    if memory is not None and pids_dir is not None:
        _remove_stale(memory)
        _remove_stale(pids_dir)
        bases = [os.path.join(memory, tag), os.path.join(pids_dir, tag)]
        try:
            for b in bases:
                os.mkdir(b)
            box = Cgroups(1, bases, ram_mb, pids)
            problem = _probe(box)
            if not problem:
                return box, ""
            why.append(f"v1: {problem}")
        except OSError as err:
            why.append(f"v1: cannot make a cgroup: {err.strerror}")
        for b in bases:
            remove(b, 0.5)
    elif own is None:
        why.append("no cgroup hierarchy found")
    return None, "; ".join(why)


def _detect_v2(own: str, tag: str, ram_mb: int, pids: int) -> tuple[Cgroups | None, str]:
    """The run cgroups' base below the grader's own v2 cgroup, or None and why not."""
    controllers = _read(os.path.join(own, "cgroup.controllers")).split()
    if not all(c in controllers for c in V2_CONTROLLERS):
        return None, f"the memory and pids controllers are not delegated to {own}"
    _remove_stale(own)
    base = os.path.join(own, tag)
    box = Cgroups(2, [base], ram_mb, pids, own=own)
    problem = box.enable_for_children(os.path.join(own, f"raftlab-grader-{os.getpid()}"))
    if not problem:
        try:
            os.mkdir(base)
            _write(os.path.join(base, "cgroup.subtree_control"), " ".join("+" + c for c in V2_CONTROLLERS))
            problem = _probe(box)
        except OSError as err:
            problem = f"cannot make {base} with {' and '.join(V2_CONTROLLERS)} for its children: {err.strerror}"
    if not problem:
        return box, ""
    box.close()
    return None, problem


def _probe(box: Cgroups) -> str:
    """'' when a run's cgroup can be made, limited, joined (by setlimits.py,
    as every run joins it) and removed."""
    try:
        dirs = box.make()
    except OSError as err:
        return f"cannot make a run's cgroup: {err.strerror}"
    try:
        big = str(1 << 40)
        proc = subprocess.run([sys.executable, "-I", limits.SETLIMITS, "60", big, big, "4096",
                               *box.procs_files(dirs), "--", "true"], capture_output=True, text=True, timeout=60)
        if proc.returncode != 0 or "cannot join" in proc.stderr:
            return (proc.stderr.strip().splitlines() or [f"exit status {proc.returncode}"])[-1]
    except (OSError, subprocess.SubprocessError) as err:
        return f"cannot run a process in a run's cgroup: {err}"
    finally:
        box.finish(dirs)
    return ""


def _remove_stale(parent: str) -> None:
    """The cgroups of an earlier grader killed before it could remove them
    (its runs' base, raftlab-grade-PID, and the leaf it moved to, raftlab-grader-PID)."""
    for name in os.listdir(parent) if os.path.isdir(parent) else []:
        m = re.fullmatch(r"raftlab-grader?-(\d+)", name)
        if m and not os.path.exists(f"/proc/{m.group(1)}"):
            base = os.path.join(parent, name)
            for run in os.listdir(base):
                if os.path.isdir(os.path.join(base, run)):
                    remove(os.path.join(base, run), 0.5)
            remove(base, 0.5)

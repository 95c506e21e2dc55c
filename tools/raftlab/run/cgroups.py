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
"""
from __future__ import annotations

import itertools
import os
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
        controllers = _read(os.path.join(own, "cgroup.controllers")).split()
        if "memory" in controllers and "pids" in controllers:
            _remove_stale(own)
            base = os.path.join(own, tag)
            try:
                os.mkdir(base)
                _write(os.path.join(base, "cgroup.subtree_control"), "+memory +pids")
                box = Cgroups(2, [base], ram_mb, pids)
                problem = _probe(box)
                if not problem:
                    return box, ""
                why.append(f"v2: {problem}")
            except OSError as err:
                why.append(f"v2: cannot make {base}: {err.strerror}")
            remove(base, 0.5)
        else:
            why.append(f"v2: the memory and pids controllers are not delegated to {own}")
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
    """The cgroups of an earlier grader killed before it could remove them."""
    for name in os.listdir(parent) if os.path.isdir(parent) else []:
        pid = name[len("raftlab-grade-"):]
        if name.startswith("raftlab-grade-") and pid.isdigit() and not os.path.exists(f"/proc/{pid}"):
            base = os.path.join(parent, name)
            for run in os.listdir(base):
                if os.path.isdir(os.path.join(base, run)):
                    remove(os.path.join(base, run), 0.5)
            remove(base, 0.5)

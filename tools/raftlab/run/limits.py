"""What a run of untrusted Raft code may use, and how to stop it.

Limits are set in the child before it runs the test binary (setrlimit:
CPU seconds, address space, file size, processes). The network is cut off
by running the test in a new network namespace where the OS allows it
(Linux: as root, or through an unprivileged user namespace); elsewhere the
run goes on without it, and `describe` says so. labrpc is simulated inside
the process, so the tests need no network at all.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from typing import Sequence

from .policy import RUNNER_CPU_SECONDS

# Limits per run. The reference solution's largest test peaks at about
# 3.3 GB of address space (mostly thread stacks, reserved, not used) and
# 300 threads, and uses under 1 s of CPU.
DEFAULT_CPU_SECONDS = RUNNER_CPU_SECONDS   # a whole core for the test's whole limit
DEFAULT_ADDRESS_SPACE_GB = 16
DEFAULT_FILE_SIZE_MB = 256       # the run's log, and anything the code writes
DEFAULT_PROCESSES = 32768        # a fork bomb's ceiling (per user: threads count too)

# Run by its path, as a program of its own (standard library only: no
# sys.path has to find this package for it).
SETLIMITS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "setlimits.py")


@dataclass
class Limits:
    cpu_seconds: int = DEFAULT_CPU_SECONDS
    address_space_gb: int = DEFAULT_ADDRESS_SPACE_GB
    file_size_mb: int = DEFAULT_FILE_SIZE_MB
    processes: int = DEFAULT_PROCESSES
    isolate_network: bool = True

    def command_prefix(self, cgroup_procs: Sequence[str] = ()) -> list[str]:
        """The command that sets these limits and then execs the rest:
        setlimits.py run as a program, isolated (-I: no PYTHON* variables,
        and not its own directory, this package's, on sys.path). Setting
        them in a preexec_fn would run Python between fork and exec in a
        process with other threads. cgroup_procs: the run's cgroups to join
        first (cgroups.py)."""
        return [sys.executable, "-I", SETLIMITS,
                str(self.cpu_seconds), str(self.address_space_gb << 30),
                str(self.file_size_mb << 20), str(self.processes), *cgroup_procs, "--"]

    def describe(self, sandbox_prefix: Sequence[str]) -> str:
        if sandbox_prefix:
            net = "no network (a new network namespace)"
        elif self.isolate_network:
            net = "network NOT isolated (this system gives no network namespace)"
        else:
            net = "network not isolated (asked for)"
        memory = ("address space not limited (macOS)" if sys.platform == "darwin"
                  else f"{self.address_space_gb} GiB address space")
        return (f"{self.cpu_seconds} s CPU, {memory}, "
                f"{self.file_size_mb} MiB per file, {self.processes} processes; {net}")


def sandbox_prefix(wanted: bool = True) -> list[str]:
    """The command prefix that runs a program without network access, or []
    when this system cannot: `unshare -n` as root, `unshare -rn` through an
    unprivileged user namespace, otherwise nothing (macOS, containers that
    forbid namespaces)."""
    if not wanted or not shutil.which("unshare"):
        return []
    for prefix in (["unshare", "-n"], ["unshare", "-r", "-n"]):
        try:
            ok = subprocess.run(prefix + ["true"], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, timeout=10).returncode == 0
        except (OSError, subprocess.SubprocessError):
            ok = False
        if ok:
            return prefix + ["--"]
    return []


def machine_oom_kills() -> int | None:
    """How many processes the kernel's OOM killer has killed on this machine
    since it booted (Linux's /proc/vmstat oom_kill), or None where it cannot
    be read: a run without a cgroup of its own sees its SIGKILL only."""
    try:
        with open("/proc/vmstat") as f:
            for line in f:
                if line.startswith("oom_kill "):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return None


def _parent_links() -> list[tuple[int, int]]:
    """(pid, ppid) of every process: from /proc on Linux, else from ps."""
    if os.path.isdir("/proc/self"):
        links = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open(f"/proc/{entry}/stat") as f:
                        # the name, in parentheses, may hold spaces: split after it
                        links.append((int(entry), int(f.read().rsplit(")", 1)[1].split()[1])))
                except (OSError, IndexError, ValueError):
                    pass   # gone meanwhile
        return links
    try:
        out = subprocess.run(["ps", "-A", "-o", "pid=,ppid="], capture_output=True,
                             text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [(int(a), int(b)) for a, b in (line.split() for line in out.splitlines() if len(line.split()) == 2)]


def descendants(pid: int) -> list[int]:
    """Every process below pid."""
    children: dict[int, list[int]] = {}
    for child, parent in _parent_links():
        children.setdefault(parent, []).append(child)
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def kill_tree(pid: int) -> None:
    """SIGKILL pid and everything below it. Criterion's test processes are
    session leaders of their own, so a process-group kill would miss them:
    the tree is collected first, then killed, before orphans can be
    re-parented away."""
    for p in [pid] + descendants(pid):
        try:
            os.kill(p, signal.SIGKILL)
        except ProcessLookupError:
            pass
        except PermissionError:
            pass

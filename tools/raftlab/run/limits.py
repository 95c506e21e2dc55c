"""What a run of untrusted Raft code may use, and how to stop it.

Limits are set in the child before it runs the test binary (setrlimit:
CPU seconds, address space, file size, processes). The network is cut off
by running the test in a new network namespace where the OS allows it
(Linux: as root, or through an unprivileged user namespace); elsewhere the
run goes on without it, and `describe` says so. labrpc is simulated inside
the process, so the tests need no network at all.
"""
import os
import resource
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass

# Limits per run. The reference solution's largest test peaks at about
# 3.3 GB of address space (mostly thread stacks, reserved, not used) and
# 300 threads, and uses under 1 s of CPU.
DEFAULT_CPU_SECONDS = 120        # a whole core for the test's whole 120-s limit
DEFAULT_ADDRESS_SPACE_GB = 16
DEFAULT_FILE_SIZE_MB = 256       # the run's log, and anything the code writes
DEFAULT_PROCESSES = 32768        # a fork bomb's ceiling (per user: threads count too)


@dataclass
class Limits:
    cpu_seconds: int = DEFAULT_CPU_SECONDS
    address_space_gb: int = DEFAULT_ADDRESS_SPACE_GB
    file_size_mb: int = DEFAULT_FILE_SIZE_MB
    processes: int = DEFAULT_PROCESSES
    isolate_network: bool = True

    def command_prefix(self):
        """The command that sets these limits and then execs the rest: this
        file run as a program. (Setting them in a preexec_fn would run
        Python between fork and exec in a process with other threads.)"""
        return [sys.executable, os.path.abspath(__file__),
                str(self.cpu_seconds), str(self.address_space_gb << 30),
                str(self.file_size_mb << 20), str(self.processes), "--"]

    def describe(self, sandbox_prefix):
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


def sandbox_prefix(wanted=True):
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


def _parent_links():
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


def descendants(pid):
    """Every process below pid."""
    children = {}
    for child, parent in _parent_links():
        children.setdefault(parent, []).append(child)
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def kill_tree(pid):
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


def _set_limit(which, value):
    """Soft and hard both: the run cannot raise its own limit again."""
    soft, hard = resource.getrlimit(which)
    if hard != resource.RLIM_INFINITY:
        value = min(value, hard)
    try:
        resource.setrlimit(which, (value, value))
    except (ValueError, OSError):
        pass   # a limit this OS does not enforce (RLIMIT_AS on macOS)


def _exec_limited(argv):
    """limits.py CPU AS FSIZE NPROC -- program args...: set, then exec."""
    cpu, address_space, file_size, processes = (int(a) for a in argv[:4])
    assert argv[4] == "--", "usage: limits.py CPU AS FSIZE NPROC -- program args..."
    _set_limit(resource.RLIMIT_CPU, cpu)
    if sys.platform != "darwin":   # every macOS process maps hundreds of GB of shared regions
        _set_limit(resource.RLIMIT_AS, address_space)
    _set_limit(resource.RLIMIT_FSIZE, file_size)
    if hasattr(resource, "RLIMIT_NPROC"):
        _set_limit(resource.RLIMIT_NPROC, processes)
    _set_limit(resource.RLIMIT_CORE, 0)
    # Python ignores these; an ignored signal stays ignored across exec, and
    # the file-size limit must kill, not make writes fail quietly.
    for sig in ("SIGPIPE", "SIGXFSZ"):
        if hasattr(signal, sig):
            signal.signal(getattr(signal, sig), signal.SIG_DFL)
    os.execvp(argv[5], argv[5:])


if __name__ == "__main__":
    _exec_limited(sys.argv[1:])

"""One run of one test, in its own process: its outcome and why.

The test binary is run with --filter for the one test, SEED set (so every
run, failed or not, can be replayed), the limits of limits.py, and a wall
clock limit behind the harness's own (120 s per test, a watchdog for
hangs, Criterion's 150-s timeout; harness/lab_policy.h): past it the whole
process tree is killed and the run is a HANG. Its output goes to a log
file, for people.

The outcome never comes from that output, which the Raft code shares and
can garble or imitate: the harness writes its FAIL lines, and Criterion's
runner process a keyed VERDICT record per test, to a verdict file of the
run's own (LAB_VERDICT_FILE, bound into the sandbox; harness/harness_report.c).
A run passes only on a VERDICT ... PASS record carrying the run's secret
key (LAB_VERDICT_KEY_FD, read and closed before any test process starts)
and no FAIL line; when the process died without a verdict, the outcome
comes from how it ended.
"""
from __future__ import annotations

import os
import re
import secrets
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from typing import Protocol, Sequence, Union

from . import catalog, cgroups as cgroups_mod, limits as limits_mod, starvation
from .policy import RUNNER_WALL_SECONDS, TEST_SECONDS, OutcomeClass, harness_class

# The harness fails a test at 120 s, its watchdog at 125 s, Criterion at
# 150 s; a run still going at 160 s is stuck beyond all of them.
DEFAULT_WALL_SECONDS = RUNNER_WALL_SECONDS


class Wrapper(Protocol):
    """A sandbox that wraps the test binary's command: bubblewrap (the
    grader's, around sandbox.Sandbox.wrap)."""
    def __call__(self, inner: list[str], rw: Sequence[tuple[str, str]] = ()) -> list[str]:
        """The command that runs inner in the sandbox, with rw's (outside,
        inside) paths bound writable."""
        ...


# What runs the test binary's command: a Wrapper, or a command prefix
# (unshare -n, or nothing).
SandboxSpec = Union[Wrapper, Sequence[str]]

# In simulation (LAB_SIM=1) a FAIL line ends with the command that replays
# the run exactly: " (replay: make test-2C SIM=1 SEED=... ONLY=...)".
FAIL_LINE = re.compile(r"^FAIL ([A-Z]+): (\S+): (.*?)(?: \(SEED=(\d+)\))?(?: \(replay: ([^()]*)\))?\s*$")
VERDICT_LINE = re.compile(r"^VERDICT (\S+) (\S+) (PASS|FAIL)$")
VERDICT_CAP = 1 << 20    # bytes of a verdict file read: a few lines are expected
VERDICT_INSIDE = "/run/raftlab-verdict"   # where bwrap binds the verdict file
BANNER = re.compile(r"^Test \((2[A-D])\): (.*?) \.\.\.\s*$")

# Variables of the caller's environment a run keeps; everything else (VERBOSE,
# SAN options, time dilation, LAB_* overrides) could change the outcome.
KEPT_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "USER", "LOGNAME")


@dataclass
class Outcome:
    test: str
    seed: int
    passed: bool
    cls: OutcomeClass = ""   # the failure's class (policy.py); "" when passed
    reason: str = ""
    wall_seconds: float = 0.0
    cpu_seconds: float = 0.0
    title: str = ""          # the banner's words: "initial election"
    log_path: str = ""
    replay: str = ""         # simulation: the FAIL line's exact replay command
    started: float = 0.0     # when it started (time.time())
    starved: str = ""        # why the grader judged it STARVED (starvation.py), or ""
    machine: str = ""        # what the grader measured of the machine during a failed run (starvation.py)
    timeline: str = ""       # the grader's page of a failing run (grading/timelines.py), or ""
    timeline_note: str = ""  # why there is none, or ""

    def fail_line(self) -> str:
        return f"FAIL {self.cls}: raft{self.test}: {self.reason} (SEED={self.seed})"

    def replay_command(self) -> str:
        if self.replay:
            return self.replay
        part, name = self.test.split("/", 1)
        return f"SEED={self.seed} make test-{part} ONLY={name}"


class Runner:
    """Runs tests of one binary; safe to use from several threads."""

    def __init__(self, binary: str, limits: limits_mod.Limits | None = None,
                 wall_seconds: float = DEFAULT_WALL_SECONDS, sandbox: SandboxSpec | None = None,
                 env: dict[str, str] | None = None, monitor: starvation.Monitor | None = None,
                 tag: str = "", traces: bool = False, trace_owner: int = -1,
                 cgroups: cgroups_mod.Cgroups | None = None) -> None:
        self.cgroups = cgroups   # a cgroup per run: its RAM and tasks (cgroups.py), where the grader can
        self.binary = binary
        # traces: each run writes its timeline's data (LAB_TIMELINE_DATA=1), never a page, into
        # a directory of its own beside its log (the grader's; owned by trace_owner when >= 0)
        self.traces, self.trace_owner = traces, trace_owner
        self.monitor, self.tag = monitor, tag   # the grader's starvation monitor, and whose runs these are
        self.limits = limits or limits_mod.Limits()
        self.wall_seconds = wall_seconds
        self.sandbox: SandboxSpec = (sandbox if sandbox is not None
                                     else limits_mod.sandbox_prefix(self.limits.isolate_network))
        self.env = {k: os.environ[k] for k in KEPT_ENV if k in os.environ}
        self.env.update(env or {})
        self._lock = threading.Lock()
        self._running: dict[int, threading.Event] = {}   # pid -> its 'killed' event, for stop_all
        self._stopping = threading.Event()   # stop_all was called: start no more runs

    def run(self, test: str, seed: int, log_path: str) -> Outcome | None:
        """Runs test once; the log is left at log_path. Returns an Outcome,
        or None when stop_all ended it (an interrupted run is no result)."""
        inner = [self.binary, "--filter", catalog.criterion_filter(test), "-j1"]
        key = secrets.token_hex(16)
        verdict_path = log_path + ".verdict"
        binds = [(verdict_path, VERDICT_INSIDE)]
        trace_env: dict[str, str] = {}
        if self.traces:
            from ..grading import timelines
            trace_dir = timelines.trace_dir(log_path)
            timelines.prepare(trace_dir, self.trace_owner)
            binds.append((trace_dir, timelines.TRACE_INSIDE))
            trace_env = {"LAB_VIS": "failure", "LAB_TIMELINE_DATA": "1",
                         "LAB_TIMELINE_DIR": timelines.TRACE_INSIDE if callable(self.sandbox) else trace_dir}
        groups = self._make_groups()
        procs = self.cgroups.procs_files(groups) if self.cgroups is not None else []
        if callable(self.sandbox):   # bwrap (sandbox.py): the limits set outside it, the binary inside,
            verdict_inside = VERDICT_INSIDE   # and the verdict file (and trace directory) bound in
            cmd = self.limits.command_prefix(procs) + self.sandbox(inner, rw=binds)
        else:                        # a prefix: unshare -n, or nothing
            verdict_inside = verdict_path
            cmd = list(self.sandbox) + self.limits.command_prefix(procs) + inner
        killed = threading.Event()
        start, started = time.monotonic(), time.time()
        with open(log_path, "wb") as log, open(verdict_path, "wb+") as verdicts:
            os.chmod(verdict_path, 0o666)   # the sandbox may run as another uid; the file is the run's own
            key_read, key_write = os.pipe()
            os.write(key_write, key.encode())
            os.close(key_write)
            env = dict(self.env, SEED=str(seed), LAB_VERDICT_FILE=verdict_inside,
                       LAB_VERDICT_KEY_FD=str(key_read), **trace_env)
            try:
                with self._lock:
                    if self._stopping.is_set():
                        os.remove(log_path)
                        os.remove(verdict_path)
                        self._drop_traces(log_path)
                        self._finish_groups(groups)
                        return None
                    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log,
                                            stderr=subprocess.STDOUT, env=env, start_new_session=True,
                                            pass_fds=(key_read,))
                    self._running[proc.pid] = killed
                    if self.monitor is not None:
                        self.monitor.register(proc.pid, self.tag)
            finally:
                os.close(key_read)
            oom_kills = limits_mod.machine_oom_kills()
            timer = threading.Timer(self.wall_seconds, self._kill, (proc.pid, killed))
            timer.daemon = True
            timer.start()
            _, status, usage = os.wait4(proc.pid, 0)
            timer.cancel()
            oom, tasks = self._finish_groups(groups)   # what the kernel did, and nothing left behind
            machine_oom = oom_kills is None or limits_mod.machine_oom_kills() != oom_kills
            proc.returncode = os.waitstatus_to_exitcode(status)
            if callable(self.sandbox) and 128 < proc.returncode <= 128 + 64:
                proc.returncode = 128 - proc.returncode   # bwrap says "killed by signal N" as 128 + N
            with self._lock:
                del self._running[proc.pid]
                stopped = self._stopping.is_set()
            verdicts.seek(0)
            verdict_text = verdicts.read(VERDICT_CAP).decode("utf-8", errors="replace")
        if os.path.lexists(verdict_path):
            os.remove(verdict_path)
        wall = time.monotonic() - start
        if stopped and killed.is_set():
            if self.monitor is not None:
                self.monitor.finish(proc.pid, start, start + wall, wait=False)
            os.remove(log_path)   # half a run: no result, and no log to mislead
            self._drop_traces(log_path)
            return None
        outcome = classify(test, seed, _read_text(log_path), proc.returncode,
                           killed.is_set(), self.wall_seconds, self.limits,
                           verdicts=verdict_text, key=key)
        outcome.wall_seconds = wall
        outcome.cpu_seconds = usage.ru_utime + usage.ru_stime
        outcome.started = started
        # What the run's cgroup saw is certain; a limit named from the signal or the CPU used is inferred.
        if self.cgroups is not None and not outcome.passed and outcome.cls != "HANG":
            _name_the_cgroup_limit(outcome, self.cgroups, oom, tasks)
        _name_the_limit(outcome, self.limits, log_path, machine_oom and self.cgroups is None)
        outcome.log_path = log_path
        if self.monitor is not None:
            may_starve = not outcome.passed and outcome.cls in starvation.STARVABLE
            ev = self.monitor.finish(proc.pid, start, start + wall, wait=may_starve, cpu=outcome.cpu_seconds)
            outcome.cpu_seconds = max(outcome.cpu_seconds, ev.sampled_cpu)
            outcome.starved = starvation.judge(outcome.passed, outcome.cls, wall, outcome.cpu_seconds, ev,
                                               self.monitor.cores)
            if may_starve:
                outcome.machine = ev.summary(wall, outcome.cpu_seconds)
        return outcome

    def _make_groups(self) -> list[str]:
        """The run's cgroups (cgroups.py), or none: the resource limits still hold."""
        if self.cgroups is None:
            return []
        try:
            return self.cgroups.make()
        except OSError:
            return []

    def _finish_groups(self, groups: list[str]) -> tuple[bool, bool]:
        """(the OOM killer acted, the task limit acted) in the run's cgroups, then gone."""
        if self.cgroups is None or not groups:
            return False, False
        return self.cgroups.finish(groups)

    def _drop_traces(self, log_path: str) -> None:
        if self.traces:
            from ..grading import timelines
            timelines.remove(timelines.trace_dir(log_path))

    def _kill(self, pid: int, killed: threading.Event) -> None:
        killed.set()
        limits_mod.kill_tree(pid)

    def stop_all(self) -> None:
        """Ctrl-C: kill every run in progress and start no more."""
        with self._lock:
            self._stopping.set()
            running = list(self._running.items())
        for pid, killed in running:
            self._kill(pid, killed)


def _name_the_limit(outcome: Outcome, limits: limits_mod.Limits, log_path: str,
                    maybe_oom: bool = False) -> None:
    """A limit can end a run without a word: the CPU limit's hard half is a
    SIGKILL (hard = soft, so the run cannot raise it), and in the sandbox
    Criterion's runner is the PID namespace's first process, which a
    SIGXFSZ does not end. A failed run with no better reason that the
    kernel killed (SIGKILL), whose processes used the whole CPU limit, or
    whose log reached the file-size limit, is a LIMIT, said with the limit's
    value; so is a crash the harness found at the address-space limit
    (harness_signals.c: "out of memory"), or a thread the process limit or
    the address space refused. maybe_oom: the run had no cgroup of its own
    and the machine's OOM killer acted while it ran (its SIGKILL too)."""
    if outcome.passed or outcome.cls not in ("CRASH", "EXIT"):
        return
    # What the harness said comes first: it names the limit for sure (its crash handler compares the
    # address space with RLIMIT_AS: a malloc's NULL there is the limit's, even if touching the memory
    # also cost CPU time).
    if outcome.cls == "CRASH" and "out of memory" in outcome.reason:
        outcome.cls = "LIMIT"
        outcome.reason = f"ran out of its address-space limit ({limits.address_space_gb} GiB): {outcome.reason}"
    elif (outcome.cls == "CRASH" and "pthread_create" in outcome.reason
          and "Resource temporarily unavailable" in outcome.reason):
        outcome.cls = "LIMIT"
        outcome.reason = (f"could not start a thread: the process limit ({limits.processes}, every thread "
                          f"counts) or the address space ({limits.address_space_gb} GiB): {outcome.reason}")
    # Nothing else in the sandbox can send a SIGKILL: the wall-clock kill is a HANG (classify), the
    # object check refuses kill, raise and raw system calls, and the run's cgroup has named its OOM
    # killer already (_name_the_cgroup_limit). The kernel charges the CPU limit a whole clock tick
    # for each tick that finds the process running, while rusage reports the time it ran: among
    # threads that wake and sleep between ticks, a busy loop was killed when rusage read 60% of the
    # limit (README, Grading: "Runs."), so the CPU used cannot tell this kill from a crash.
    elif _names_signal(outcome.reason, signal.SIGKILL):
        outcome.cls = "LIMIT"
        if maybe_oom:
            outcome.reason = (f"killed by the kernel (SIGKILL): its CPU-time limit ({limits.cpu_seconds} s of CPU; "
                              f"{outcome.cpu_seconds:.1f} s used) or, as the machine's OOM killer acted during "
                              "the run, its memory use")
        else:
            outcome.reason = (f"killed by the kernel (SIGKILL) at its CPU-time limit ({limits.cpu_seconds} s of CPU "
                              f"as the kernel counts it; {outcome.cpu_seconds:.1f} s by rusage): a busy loop?")
    # A run that died without saying how (a test process killed outside the test's main phase, where
    # Criterion reports no signal): its CPU time, with the margin of the kernel's tick sampling above.
    elif outcome.cpu_seconds >= 0.75 * limits.cpu_seconds:
        outcome.cls = "LIMIT"
        outcome.reason = (f"used the whole CPU-time limit ({limits.cpu_seconds} s of CPU; "
                          f"{outcome.cpu_seconds:.0f} s used): a busy loop?")
    elif os.path.exists(log_path) and os.path.getsize(log_path) >= (limits.file_size_mb << 20):
        outcome.cls = "LIMIT"
        outcome.reason = (f"wrote more than the file-size limit ({limits.file_size_mb} MiB): "
                          "printing in a loop?")


def _name_the_cgroup_limit(outcome: Outcome, groups: cgroups_mod.Cgroups, oom: bool, tasks: bool) -> None:
    """The run's cgroup says which of its limits acted: the OOM killer (a
    SIGKILL without a word) or the task limit (a thread or a fork refused)."""
    if oom:
        outcome.cls = "LIMIT"
        outcome.reason = (f"used more than its RAM limit ({groups.ram_mb} MiB, the run's cgroup): the kernel's "
                          f"OOM killer ended it (was: {outcome.reason})")
    elif tasks and outcome.cls in ("CRASH", "EXIT", "LIMIT"):
        outcome.cls = "LIMIT"
        outcome.reason = (f"reached its limit of {groups.pids} threads and processes (the run's cgroup): "
                          f"{outcome.reason}")


LOG_READ_CAP = 1 << 20   # bytes of a log's head (and of its tail) read: the cost stays flat


def _read_text(path: str) -> str:
    """The log's head and tail (the banner is at its top), whatever its size."""
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        head = f.read(LOG_READ_CAP)
        if size <= 2 * LOG_READ_CAP:
            return (head + f.read(LOG_READ_CAP)).decode("utf-8", errors="replace")
        f.seek(size - LOG_READ_CAP)
        tail = f.read(LOG_READ_CAP)
    return (head.decode("utf-8", errors="replace") + f"\n[... {size - 2 * LOG_READ_CAP} bytes ...]\n"
            + tail.decode("utf-8", errors="replace"))


def classify(test: str, seed: int, output: str, returncode: int, killed: bool, wall_seconds: float,
             limits: limits_mod.Limits, verdicts: str = "", key: str | None = None) -> Outcome:
    """The outcome of one run, from its verdict file (verdicts; key is the
    run's secret) and how its process ended. The output gives only the
    test's title: nothing in it can pass or fail a run."""
    title = ""
    for line in output.splitlines():
        if m := BANNER.match(line):
            title = m.group(2)
            break
    fail = None
    keyed_pass = False
    for line in verdicts.splitlines():
        if fail is None and (m := FAIL_LINE.match(line)):
            fail = m
        if (m := VERDICT_LINE.match(line)) and key is not None and secrets.compare_digest(m.group(1), key):
            keyed_pass = m.group(2) == "raft" + test and m.group(3) == "PASS"
    out = Outcome(test=test, seed=seed, passed=False, title=title)
    if killed:
        out.cls, out.reason = "HANG", (f"still running after {wall_seconds} s (the test's limit is "
                                       f"{TEST_SECONDS} s); killed with every process it started")
    elif returncode == -signal.SIGXCPU or (fail and _names_signal(fail.group(3), signal.SIGXCPU)):
        out.cls, out.reason = "LIMIT", f"used the whole CPU-time limit ({limits.cpu_seconds} s): a busy loop?"
    elif returncode == -signal.SIGXFSZ or (fail and _names_signal(fail.group(3), signal.SIGXFSZ)):
        out.cls, out.reason = "LIMIT", (f"wrote more than the file-size limit ({limits.file_size_mb} MiB): "
                                        "printing in a loop?")
    elif fail:
        out.cls = harness_class(fail.group(1)) or "CRASH"
        out.reason = fail.group(3)
        out.replay = fail.group(5) or ""
    elif returncode == 0 and keyed_pass:
        out.passed = True
    elif returncode == 0:
        out.cls, out.reason = "EXIT", "the test binary exited 0 without its runner's verdict that the test passed"
    elif returncode < 0:
        out.cls, out.reason = "CRASH", (f"the test binary was killed by signal {-returncode} "
                                        f"({_signal_name(-returncode)})")
    else:
        out.cls, out.reason = "CRASH", f"the test binary exited with status {returncode} without a FAIL line"
    return out


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return "unknown signal"


def _names_signal(reason: str, sig: signal.Signals) -> bool:
    return f"killed by signal {int(sig)} " in reason or signal.Signals(sig).name in reason

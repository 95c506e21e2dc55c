"""Telling a run starved by the machine from a slow or failing Raft.

Everything here is measured by the grader, outside the runs: nothing a run
prints, writes or reports counts, since the Raft code shares the test's
process and could say anything.

  the probe    a small process of the grader's own that sleeps 10 ms again
               and again and writes, every half second, how late it woke:
               what any sleeping thread of the machine (a Raft's timers)
               suffered in that window
  the sampler  a thread that, every second, reads the machine's busy CPU
               time (/proc/stat) and each run's CPU time (utime + stime of
               every process of its tree, /proc/<pid>/stat), and so splits
               the machine's load into the runs of each submission, runs
               that were busy themselves (a quarter of a core or more in
               that second), and everything else
  judge        a run is STARVED only when all of these hold:
               - it failed with LIVENESS, PERF or HANG: the classes that a
                 late timer can cause (never SAFETY, CRASH, a limit or any
                 other class, and never a pass);
               - its own CPU use does not explain it: it used less than a
                 quarter of a core on average (wait4's rusage or the
                 sampler's, whichever is more);
               - the probe overslept by at least 15 % on average during it
                 (an idle machine: under 1 %; two busy loops on 2 cores:
                 25 %);
               - load that is not this submission's nor a busy run's kept
                 at least 75 % of the machine's cores busy during it.
A submission cannot mark its own runs STARVED: its runs' CPU is never
counted as the load that starves them, and a run of its that burns CPU is
excluded by the second rule. A pass is never re-run, so a run cannot trade
a likely failure for a new draw by being starved either.
"""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import IO

from . import limits as limits_mod
from .policy import OutcomeClass

PROBE_PERIOD = 0.010        # the probe's sleep
PROBE_WINDOW = 0.5          # seconds per line the probe writes
SAMPLE_SECONDS = 1.0        # the sampler's period
BUSY_SHARE = 0.25           # of a core: a run at least this busy starves itself (and others)
PROBE_MIN = 0.15            # the probe's mean oversleep, as a fraction of its sleep
OTHER_MIN = 0.75            # other load, as a fraction of all cores
STARVABLE: tuple[OutcomeClass, ...] = ("LIVENESS", "PERF", "HANG")
HISTORY_SECONDS = 1200      # ticks and probe windows kept (a run lasts at most the wall limit)

PROBE_CODE = r"""
import sys, time
period, window = float(sys.argv[1]), float(sys.argv[2])
out = sys.stdout
try:
    while True:
        start = time.monotonic()
        n, late, worst = 0, 0.0, 0.0
        while True:
            a = time.monotonic()
            time.sleep(period)
            d = time.monotonic() - a - period
            n += 1
            late += d if d > 0 else 0.0
            worst = d if d > worst else worst
            if time.monotonic() - start >= window:
                break
        out.write("%.4f %.4f %d %.6f %.6f\n" % (start, time.monotonic(), n, late, worst))
        out.flush()
except (BrokenPipeError, KeyboardInterrupt, OSError):
    pass
"""


@dataclass
class Evidence:
    """What the grader measured during one run."""
    probe_delay: float = 0.0     # the probe's mean oversleep / its sleep
    probe_worst: float = 0.0     # its worst oversleep, seconds
    other_share: float = 0.0     # load not this submission's nor a busy run's, / all cores
    sampled_cpu: float = 0.0     # the run's CPU seconds as the sampler saw them
    covered: float = 0.0         # seconds of the run the probe's windows covered

    def summary(self, wall: float, cpu: float) -> str:
        """The numbers the judgement used, in one line (kept with a failed run)."""
        return (f"probe {100 * self.probe_delay:.0f}% late (worst {1000 * self.probe_worst:.0f} ms), other load "
                f"{100 * self.other_share:.0f}% of the cores, own CPU {100 * cpu / max(wall, 1e-6):.0f}% of a core, "
                f"{self.covered:.0f} of {wall:.0f} s measured")

    def text(self, cores: int) -> str:
        return (f"the grader's probe overslept its 10-ms sleeps by {100 * self.probe_delay:.0f}% on average "
                f"(worst {1000 * self.probe_worst:.0f} ms) and other load kept {100 * self.other_share:.0f}% "
                f"of the {cores} cores busy")


@dataclass
class Tick:
    start: float
    end: float
    machine_cpu: float                       # CPU seconds, all cores
    busy_cpu: float                          # of which runs busy in this tick
    normal_cpu: dict[str, float] = field(default_factory=dict)   # of which other runs, by submission


@dataclass
class _Watched:
    pid: int
    tag: str
    per_pid: dict[tuple[int, str], float] = field(default_factory=dict)   # (pid, start time) -> CPU seconds
    total: float = 0.0
    counted: float = 0.0         # the total at the last tick
    done: bool = False           # the run is over: its last CPU goes into the next tick, then it is dropped


def judge(passed: bool, cls: OutcomeClass, wall: float, cpu: float, ev: Evidence | None, cores: int) -> str:
    """Why the run was STARVED, or "" when it was not (see the module's text)."""
    if ev is None or passed or cls not in STARVABLE or wall <= 0:
        return ""
    own = max(cpu, ev.sampled_cpu) / wall
    if own >= BUSY_SHARE:
        return ""
    if ev.covered < 0.5 * wall or ev.probe_delay < PROBE_MIN or ev.other_share < OTHER_MIN:
        return ""
    return f"STARVED: {ev.text(cores)}, while the run itself used {100 * own:.0f}% of one core"


class Monitor:
    """The probe and the sampler, for a whole grading; thread-safe."""

    def __init__(self, cores: int | None = None) -> None:
        self.cores = cores or os.cpu_count() or 1
        self._lock = threading.Lock()
        self._runs: dict[int, _Watched] = {}
        self._ticks: list[Tick] = []
        self._windows: list[tuple[float, float, int, float, float]] = []
        self._stop = threading.Event()
        self._probe: subprocess.Popen[str] | None = None
        self._threads: list[threading.Thread] = []
        self._hz = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        self.available = os.path.exists("/proc/stat")

    def start(self) -> None:
        if not self.available:
            return
        self._probe = subprocess.Popen([sys.executable, "-I", "-c", PROBE_CODE, str(PROBE_PERIOD), str(PROBE_WINDOW)],
                                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True,
                                       start_new_session=True)
        self._threads = [threading.Thread(target=self._read_probe, args=(self._probe.stdout,), daemon=True),
                         threading.Thread(target=self._sample_loop, daemon=True)]
        for t in self._threads:
            t.start()

    def stop(self) -> None:
        self._stop.set()
        if self._probe is not None:
            self._probe.kill()
            self._probe.wait()
        for t in self._threads:
            t.join(timeout=5)
        if self._probe is not None and self._probe.stdout is not None:
            self._probe.stdout.close()

    def register(self, pid: int, tag: str) -> None:
        with self._lock:
            self._runs[pid] = _Watched(pid, tag)

    def finish(self, pid: int, start: float, end: float, wait: bool = True, cpu: float = 0.0) -> Evidence:
        """The run at pid is over (it ran from start to end, time.monotonic(),
        and used cpu seconds by wait4's rusage): what was measured during
        it. With wait, first waits (2.5 s at most) for the sample and the
        probe's window after its end, so that they cover all of it (the
        caller asks only for runs that may be judged). The run's CPU since
        the last sample (rusage counts what the sampler missed) still goes
        to its submission in the next tick: it is never someone else's load."""
        deadline = time.monotonic() + 2 * SAMPLE_SECONDS + PROBE_WINDOW
        while wait and self.available and not self._stop.is_set() and time.monotonic() < deadline:
            with self._lock:
                last_tick = self._ticks[-1].end if self._ticks else 0.0
                last_window = self._windows[-1][1] if self._windows else 0.0
            if last_tick >= end and last_window >= end:
                break
            time.sleep(0.1)
        with self._lock:
            watched = self._runs.get(pid)
            if watched is None:
                return Evidence()
            watched.done = True
            ev = self._evidence(watched.tag, start, end, watched.total)
            watched.total = max(watched.total, cpu)
            if not self.available or self._stop.is_set():
                del self._runs[pid]
            return ev

    def overall(self) -> str:
        """The machine over the whole grading, in one line: the probe's
        oversleep, and the load that did not come from the runs."""
        with self._lock:
            if not self._ticks or not self._windows:
                return "not measured"
            start, end = self._ticks[0].start, self._ticks[-1].end
            ev = self._evidence("", start, end, 0.0)
            runs_cpu = sum(t.busy_cpu + sum(t.normal_cpu.values()) for t in self._ticks)
            machine_cpu = sum(t.machine_cpu for t in self._ticks)
        capacity = self.cores * max(end - start, 1e-6)
        return (f"the probe overslept its 10-ms sleeps by {100 * ev.probe_delay:.0f}% on average (worst "
                f"{1000 * ev.probe_worst:.0f} ms); the cores were {100 * machine_cpu / capacity:.0f}% busy, "
                f"{100 * max(0.0, machine_cpu - runs_cpu) / capacity:.0f}% with load other than the runs")

    # ---- measuring ----------------------------------------------------------

    def _read_probe(self, stream: IO[str] | None) -> None:
        if stream is None:
            return
        for line in stream:
            try:
                a, b, n, late, worst = line.split()
                window = (float(a), float(b), int(n), float(late), float(worst))
            except ValueError:
                continue
            with self._lock:
                self._windows.append(window)
                self._trim()

    def _sample_loop(self) -> None:
        last_time, last_busy = time.monotonic(), self._machine_busy()
        while not self._stop.wait(SAMPLE_SECONDS):
            now, busy = time.monotonic(), self._machine_busy()
            try:
                self._sample(last_time, now, busy - last_busy)
            except Exception as err:   # never take the grading down; say so once per tick
                print(f"grade: the starvation sampler failed: {type(err).__name__}: {err}", file=sys.stderr)
            last_time, last_busy = now, busy

    def _machine_busy(self) -> float:
        """CPU seconds the machine's cores have been busy since boot."""
        try:
            with open("/proc/stat") as f:
                fields = [int(x) for x in f.readline().split()[1:]]
        except (OSError, ValueError):
            return 0.0
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
        return (sum(fields[:8]) - idle) / self._hz

    def _sample(self, start: float, end: float, machine_cpu: float) -> None:
        with self._lock:
            runs = list(self._runs.values())
        if runs:
            children: dict[int, list[int]] = {}
            for child, parent in limits_mod._parent_links():
                children.setdefault(parent, []).append(child)
            for w in runs:
                if w.done:
                    continue
                todo, tree = [w.pid], []
                while todo:
                    p = todo.pop()
                    tree.append(p)
                    todo.extend(children.get(p, []))
                for p in tree:
                    got = self._process_cpu(p)
                    if got is not None:
                        w.per_pid[(p, got[1])] = max(w.per_pid.get((p, got[1]), 0.0), got[0])
                w.total = sum(w.per_pid.values())
        tick = Tick(start, end, max(0.0, machine_cpu), 0.0)
        dt = max(end - start, 1e-3)
        for w in runs:
            if w.done:
                with self._lock:
                    self._runs.pop(w.pid, None)
            delta, w.counted = max(0.0, w.total - w.counted), w.total
            if delta / dt >= BUSY_SHARE:
                tick.busy_cpu += delta
            else:
                tick.normal_cpu[w.tag] = tick.normal_cpu.get(w.tag, 0.0) + delta
        with self._lock:
            self._ticks.append(tick)
            self._trim()

    def _process_cpu(self, pid: int) -> tuple[float, str] | None:
        """(utime + stime in seconds, its start time) of a process."""
        try:
            with open(f"/proc/{pid}/stat") as f:
                rest = f.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            return None
        try:
            return (int(rest[11]) + int(rest[12])) / self._hz, rest[19]
        except (IndexError, ValueError):
            return None

    def _trim(self) -> None:
        horizon = time.monotonic() - HISTORY_SECONDS
        while self._ticks and self._ticks[0].end < horizon:
            self._ticks.pop(0)
        while self._windows and self._windows[0][1] < horizon:
            self._windows.pop(0)

    def _evidence(self, tag: str, start: float, end: float, sampled_cpu: float) -> Evidence:
        ev = Evidence(sampled_cpu=sampled_cpu)
        slept = late = 0.0
        for a, b, n, window_late, worst in self._windows:
            share = _overlap(a, b, start, end) / max(b - a, 1e-6)
            if share <= 0:
                continue
            ev.covered += share * (b - a)
            slept += share * n * PROBE_PERIOD
            late += share * window_late
            ev.probe_worst = max(ev.probe_worst, worst)
        ev.probe_delay = late / slept if slept else 0.0
        other = capacity = 0.0
        for t in self._ticks:
            share = _overlap(t.start, t.end, start, end) / max(t.end - t.start, 1e-6)
            if share <= 0:
                continue
            other += share * max(0.0, t.machine_cpu - t.busy_cpu - t.normal_cpu.get(tag, 0.0))
            capacity += share * self.cores * (t.end - t.start)
        ev.other_share = other / capacity if capacity else 0.0
        return ev


def _overlap(a: float, b: float, c: float, d: float) -> float:
    return max(0.0, min(b, d) - max(a, c))

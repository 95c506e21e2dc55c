"""Many runs, J at a time, from one shared queue (several submissions'
runs share it when grading a batch), with a progress display and Ctrl-C:
an interrupt kills the runs in progress and returns what finished.
"""
from __future__ import annotations

import queue
import signal
import sys
import threading
from dataclasses import dataclass
from queue import Queue
from types import FrameType
from typing import Callable

from .policy import GRADER_ERROR
from .progress import Progress
from .run import Outcome, Runner


@dataclass
class Job:
    runner: Runner
    test: str
    seed: int
    log_path: str
    tag: str = ""            # the caller's: which submission
    label: str = ""          # named with its failures in the progress lines


STOP = threading.Event()   # set by the first SIGINT or SIGTERM


def catch_interrupts() -> None:
    """Ctrl-C and SIGTERM end the runs and report what finished, even when
    this process was started with SIGINT ignored (in the background). The
    first signal only asks to stop (run_all sees it within half a second);
    later ones are ignored, so the reports are always written."""
    def interrupt(signum: int, frame: FrameType | None) -> None:
        if not STOP.is_set():
            STOP.set()
            print("\ninterrupted: stopping the runs; the reports follow (further signals are ignored)",
                  file=sys.stderr, flush=True)
    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)


def grader_error(job: Job, exc: BaseException) -> Outcome:
    """A run the runner itself failed on (its log gone, unreadable, ...):
    that run's GRADER-ERROR, and the batch goes on."""
    return Outcome(test=job.test, seed=job.seed, passed=False, cls=GRADER_ERROR,
                   reason=f"the grader could not run or read this run: {type(exc).__name__}: {exc}"[:500])


def run_all(jobs: list[Job], parallel: int, on_outcome: Callable[[Job, Outcome], None] | None = None,
            progress: Progress | None = None,
            rerun: Callable[[Job, Outcome], bool] | None = None) -> tuple[list[tuple[Job, Outcome]], bool]:
    """Runs jobs, `parallel` at once. on_outcome(job, outcome) is called on
    the calling thread as each finishes. rerun(job, outcome), called first
    on the same thread, may ask for the job to be run again (a STARVED
    run): that outcome is then neither a result nor given to on_outcome.
    Returns (results, interrupted): results is a list of (job, outcome) in
    completion order."""
    todo: Queue[Job | None] = queue.Queue()
    for job in jobs:
        todo.put(job)
    done: Queue[tuple[Job, Outcome | None]] = queue.Queue()
    threads = [threading.Thread(target=_worker, args=(todo, done), daemon=True) for _ in range(max(1, parallel))]
    for t in threads:
        t.start()
    results: list[tuple[Job, Outcome]] = []
    interrupted = False
    try:
        _collect(len(jobs), done, results, on_outcome, progress, rerun, todo)
    except KeyboardInterrupt:
        interrupted = True
        while not todo.empty():   # start nothing more
            try:
                todo.get_nowait()
            except queue.Empty:
                break
        for runner in {id(j.runner): j.runner for j in jobs}.values():
            runner.stop_all()
    for _ in threads:
        todo.put(None)   # each worker's signal to end
    for t in threads:
        t.join()
    if progress:
        progress.finish(interrupted)
    return results, interrupted


def _worker(todo: Queue[Job | None], done: Queue[tuple[Job, Outcome | None]]) -> None:
    """Runs jobs from todo until it takes None; each outcome goes to done
    (None: a run that stop_all ended)."""
    while True:
        job = todo.get()
        if job is None:
            return
        try:
            outcome = job.runner.run(job.test, job.seed, job.log_path)
        except Exception as exc:   # a runner fault is that run's, never the pool's
            outcome = grader_error(job, exc)
        done.put((job, outcome))


def _collect(total: int, done: Queue[tuple[Job, Outcome | None]], results: list[tuple[Job, Outcome]],
             on_outcome: Callable[[Job, Outcome], None] | None, progress: Progress | None,
             rerun: Callable[[Job, Outcome], bool] | None = None, todo: Queue[Job | None] | None = None) -> None:
    """Takes the total runs' outcomes from done into results, on the
    calling thread (a job rerun asks for goes back to todo); raises
    KeyboardInterrupt when STOP is set."""
    finished = 0
    while finished < total:
        if STOP.is_set():
            raise KeyboardInterrupt
        try:
            job, outcome = done.get(timeout=0.5)
        except queue.Empty:
            if progress:
                progress.tick()
            continue
        finished += 1
        if outcome is None:
            continue
        if rerun is not None and todo is not None and rerun(job, outcome):
            total += 1
            todo.put(job)
            if progress:
                progress.rerun(outcome, job.label)
            continue
        if on_outcome:
            try:
                on_outcome(job, outcome)
            except Exception as exc:   # keeping its log failed: still a result
                outcome = grader_error(job, exc)
        results.append((job, outcome))
        if progress:
            progress.advance(outcome, job.label)

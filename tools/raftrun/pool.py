"""Many runs, J at a time, from one shared queue (several submissions'
runs share it when grading a batch), with a progress display and Ctrl-C:
an interrupt kills the runs in progress and returns what finished.
"""
import queue
import signal
import threading
from dataclasses import dataclass
from typing import Any

from .run import Runner


@dataclass
class Job:
    runner: Runner
    test: str
    seed: int
    log_path: str
    tag: Any = None          # the caller's: which submission, which iteration
    label: str = ""          # named with its failures in the progress lines


def catch_interrupts():
    """Ctrl-C and SIGTERM end the runs and report what finished, even when
    this process was started with SIGINT ignored (in the background)."""
    def interrupt(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)


def run_all(jobs, parallel, on_outcome=None, progress=None):
    """Runs jobs, `parallel` at once. on_outcome(job, outcome) is called on
    the calling thread as each finishes. Returns (results, interrupted):
    results is a list of (job, outcome) in completion order."""
    todo = queue.Queue()
    for job in jobs:
        todo.put(job)
    done = queue.Queue()

    def worker():
        while True:
            try:
                job = todo.get_nowait()
            except queue.Empty:
                return
            try:
                outcome = job.runner.run(job.test, job.seed, job.log_path)
            except Exception as exc:   # a runner fault must not hang the pool
                outcome = exc
            done.put((job, outcome))

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(max(1, parallel))]
    for t in threads:
        t.start()
    results, interrupted, finished = [], False, 0
    try:
        while finished < len(jobs):
            try:
                job, outcome = done.get(timeout=0.5)
            except queue.Empty:
                if progress:
                    progress.tick()
                continue
            finished += 1
            if isinstance(outcome, Exception):
                raise outcome
            if outcome is None:
                continue
            results.append((job, outcome))
            if on_outcome:
                on_outcome(job, outcome)
            if progress:
                progress.advance(outcome, job.label)
    except KeyboardInterrupt:
        interrupted = True
        while not todo.empty():   # start nothing more
            try:
                todo.get_nowait()
            except queue.Empty:
                break
        for runner in {id(j.runner): j.runner for j in jobs}.values():
            runner.stop_all()
    for t in threads:
        t.join()
    if progress:
        progress.finish(interrupted)
    return results, interrupted

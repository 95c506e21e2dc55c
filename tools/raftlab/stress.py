"""stress: run tests of your Raft many times, several at once, to find the
failures that happen once in a hundred runs.

    tools/stress 2C -n 200 -j 8          every 2C test, 200 times each, 8 at once
    tools/stress 2A,2B -n 50             two parts
    tools/stress 2C/t04_figure8 -n 500   one test (a glob, or a word of its name)
    make stress T=2C N=200 J=8           the same through make
    tools/stress 2C -n 2000 -j 2 --sim   in simulation: thousands of seeds in minutes

Each run is its own process with its own seed. At the end: a pass-rate
table with the mean ± sd seconds of each test; the log of every failing
run is kept in build/stress/<target>/ with its seed, and a command that
replays it. Ctrl-C stops and prints what finished; the same command again
resumes where it stopped (--fresh starts over). Changing raft/raft.c
starts over too: old runs say nothing about new code.

With --sim every run is in simulation (make test-2C SIM=1: one thread at a
time under a scheduler seeded from the run's seed, virtual time): much
faster, and every failure replays exactly with the command kept beside its
log. --strategy pct explores with PCT instead of uniform random choice.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import re
import shutil
import sys
from typing import Any, Sequence

from .run import build, catalog, pool, progress, run, stats
from .run.limits import Limits
from .run.paths import LAB_ROOT as ROOT, shown_path

DOC = __doc__ or ""


def parse_args(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="tools/stress", description=DOC.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="\n\n".join(DOC.split("\n\n")[1:]))
    ap.add_argument("target", help="a part (2C), parts (2A,2B), or tests (2C/t04_figure8, figure8)")
    ap.add_argument("-n", "--runs", type=int, default=100, help="runs of each test (default 100)")
    ap.add_argument("-j", "--jobs", type=int, default=4, help="runs at once (default 4)")
    ap.add_argument("--raft", default="raft", help="the directory of the raft.c to test (default raft; "
                    "RAFT=solution for the reference)")
    ap.add_argument("--fresh", action="store_true", help="discard the earlier runs of this target")
    ap.add_argument("--seed", type=int, help="the seed the runs' seeds are drawn from (default: random)")
    ap.add_argument("--sim", action="store_true", help="run in simulation (SIM=1): deterministic, exact replay")
    ap.add_argument("--strategy", choices=("random", "pct"), default="random",
                    help="the simulation's scheduling strategy (default random; implies --sim)")
    args = ap.parse_args(argv)
    if args.runs < 1 or args.jobs < 1:
        ap.error("-n and -j must be at least 1")
    if args.strategy != "random":
        args.sim = True
    return args


def state_dir(target: str) -> str:
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", target).strip("_") or "all"
    return os.path.join(ROOT, "build", "stress", name)


def file_digest(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def load_earlier(directory: str, meta: dict[str, Any]) -> list[run.Outcome]:
    """Earlier finished runs of the same tests and the same raft.c, or []."""
    try:
        with open(os.path.join(directory, "meta.json")) as f:
            old = json.load(f)
    except (OSError, ValueError):
        return []
    if old.get("tests") != meta["tests"] or old.get("raft_sha256") != meta["raft_sha256"]:
        return []
    earlier = []
    with open(os.path.join(directory, "runs.jsonl")) as f:
        for line in f:
            try:
                earlier.append(run.Outcome(**json.loads(line)))
            except (ValueError, TypeError):
                pass   # a line cut short by a kill
    return earlier


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    pool.catch_interrupts()
    raft_c = os.path.join(ROOT, args.raft, "raft.c")
    if not os.path.isfile(raft_c):
        sys.exit(f"stress: no {shown_path(raft_c)}")
    print(f"stress: building {shown_path(raft_c)} ...", file=sys.stderr)
    try:
        binary = build.build(ROOT, args.raft)
    except build.BuildError as err:
        sys.exit(f"stress: {shown_path(raft_c)} does not build:\n{err.summary}")
    refused = build.unreplayable(ROOT, args.raft) if args.sim else ""
    if refused:
        sys.exit(f"stress: {shown_path(raft_c)} cannot run in simulation:\n{refused}")
    try:
        tests = catalog.select(catalog.list_tests(binary), patterns=catalog.parse_target(args.target))
    except (catalog.CatalogError, catalog.SelectionError) as err:
        sys.exit(f"stress: {err}")

    # Simulated runs are kept apart from real-time ones (and per strategy).
    directory = state_dir(args.target + (f"-sim-{args.strategy}" if args.sim else ""))
    meta = {"target": args.target, "tests": tests, "raft_sha256": file_digest(raft_c)}
    earlier = [] if args.fresh else load_earlier(directory, meta)
    if not earlier and os.path.isdir(directory):
        shutil.rmtree(directory)
    os.makedirs(os.path.join(directory, "logs"), exist_ok=True)
    with open(os.path.join(directory, "meta.json"), "w") as f:
        json.dump(meta, f)

    done = {t: 0 for t in tests}   # runs of each test already finished
    for o in earlier:
        done[o.test] = done.get(o.test, 0) + 1
    rng = random.Random(args.seed)
    sim_env = {"LAB_SIM": "1", "LAB_RAFT": args.raft, "LAB_SIM_STRATEGY": args.strategy} if args.sim else {}
    # A failing run writes its timeline page beside its log (README "Seeing a run").
    vis_env = {"LAB_VIS": "failure", "LAB_TIMELINE_DIR": os.path.abspath(os.path.join(directory, "logs"))}
    runner = run.Runner(binary, Limits(isolate_network=False), env={**sim_env, **vis_env})
    jobs = []
    for k in range(args.runs):          # round-robin over tests: early results cover every test
        for t in tests:
            if k >= done[t]:
                seed = rng.getrandbits(63)
                log = os.path.join(directory, "logs", f"{t.replace('/', '-')}-{seed}.log")
                jobs.append(pool.Job(runner, t, seed, log))
    if earlier:
        print(f"stress: resuming: {len(earlier)} runs already done, {len(jobs)} to go "
              f"(--fresh to start over)", file=sys.stderr)
    print(f"stress: {len(tests)} test(s) × {args.runs} runs, {args.jobs} at once; "
          f"logs in {shown_path(directory)}/", file=sys.stderr)

    record = open(os.path.join(directory, "runs.jsonl"), "a")

    def on_outcome(job: pool.Job, outcome: run.Outcome) -> None:
        if outcome.passed:
            os.remove(outcome.log_path)
            outcome.log_path = ""
        record.write(json.dumps(outcome.__dict__) + "\n")
        record.flush()

    results, interrupted = pool.run_all(jobs, args.jobs, on_outcome, progress.Progress(len(jobs)))
    record.close()
    outcomes = earlier + [o for _, o in results]
    report(tests, outcomes, directory, args, interrupted)
    return 1 if interrupted or any(not o.passed for o in outcomes) else 0


def timeline_page(directory: str, outcome: run.Outcome) -> str:
    """The page a failing run wrote (the harness names it after the test and
    the seed, "raft2C-t04_figure8-SEED=…[-sim].html"), or "" if none."""
    part, name = outcome.test.split("/", 1)
    stem = os.path.join(directory, "logs", f"raft{part}-{name}-SEED={outcome.seed}")
    for path in (stem + ".html", stem + "-sim.html"):
        if os.path.exists(path):
            return path
    return ""


def report(tests: Sequence[str], outcomes: Sequence[run.Outcome], directory: str, args: argparse.Namespace,
           interrupted: bool) -> None:
    table = stats.collect(tests, outcomes)
    print()
    print(stats.pass_rate_table(table))
    failures = [o for o in outcomes if not o.passed]
    total = len(outcomes)
    print(f"\n{total - len(failures)} of {total} runs passed", end="")
    print(f"; {len(failures)} failed" if failures else "")
    for o in failures[:10]:
        print(f"  {o.fail_line()}")
        print(f"    log: {shown_path(o.log_path)}   replay: {o.replay_command()}")
        page = timeline_page(directory, o)
        if page:
            print(f"    timeline: {shown_path(page)}")
    if len(failures) > 10:
        print(f"  ... and {len(failures) - 10} more, logs in {shown_path(directory)}/logs/")
    if interrupted:
        print(f"\ninterrupted: run the same command again to resume ({total} of "
              f"{len(tests) * args.runs} runs done)")

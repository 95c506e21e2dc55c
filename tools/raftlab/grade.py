"""grade: grade Raft submissions, each test many times, in parallel.

    grading/grade alice/raft.c                       one submission
    grading/grade submissions/*                      a batch, one job pool
    grading/grade sub.tar.gz --parts 2A,2B --runs 3  some parts, fewer runs
    grading/grade sub/ --json results.json           Gradescope's format

A submission is a raft.c, a directory with raft/raft.c or raft.c, or an
archive of a student's tree (links and special files refused). Only its
raft.c is used: it is compiled in a sandbox with the lab's flags (a
submission that does not compile scores 0, BUILD-ERROR), its raft.o is
checked before linking (only Raft code: a submission that breaks a rule
scores 0, REFUSED), and it is linked with this tree's own framework and
tests. Each run of each test is a process of its own in the sandbox
(bubblewrap where it works: its own uid, namespaces, read-only view, no
network), with limits (wall clock, CPU, memory, file size, processes).
The test list comes from the skeleton's binary, never a submission's.
Points come from grading/points.json under the policy every report prints.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import os
import random
import re
import shutil
import signal
import sys
import tempfile
import time
from typing import Sequence

from .grading import building, outputs, report, scoring, submission
from .run import catalog, pool, progress, run, sandbox, stats
from .run.limits import Limits
from .run.paths import LAB_ROOT as ROOT
from .run.policy import TEST_SECONDS

DOC = __doc__ or ""

BUILD_JOBS = min(2, os.cpu_count() or 1)

# Long parts first within a round: fewer idle slots at the end of a run.
PART_ORDER = {"2C": 0, "2D": 1, "2B": 2, "2A": 3}


def build_parser() -> argparse.ArgumentParser:
    doc = DOC.split("\n\n")
    ap = argparse.ArgumentParser(prog="grading/grade", description=doc[0],
                                 epilog="\n\n".join(doc[1:]), formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("submissions", nargs="+", metavar="SUBMISSION")
    ap.add_argument("--parts", help="comma-separated parts to grade, e.g. 2A,2B (default: all)")
    ap.add_argument("--tests", action="append", metavar="PATTERN",
                    help="only tests matching this glob (2C/t04_*, *figure8*); may repeat")
    ap.add_argument("--runs", type=int, default=10, help="runs of each test (default 10)")
    ap.add_argument("--jobs", type=int, default=4 * (os.cpu_count() or 1),
                    help="runs at once, all submissions together (default 4 per CPU: the tests mostly wait)")
    ap.add_argument("--policy", choices=scoring.POLICIES, default="all-or-nothing")
    ap.add_argument("--points", default=os.path.join(ROOT, "grading", "points.json"))
    ap.add_argument("--json", metavar="PATH", help="Gradescope results.json (a directory of NAME.json for a batch)")
    ap.add_argument("--csv", metavar="FILE", help="one row per submission")
    ap.add_argument("--out", default=os.path.join(ROOT, "build", "grade"),
                    help="where each submission's report, results.json and failing logs go (default build/grade)")
    ap.add_argument("--seed", type=int, help="the seed the runs' seeds are drawn from (default: random)")
    ap.add_argument("--wall-limit", type=int, default=run.DEFAULT_WALL_SECONDS,
                    help=f"seconds before a run is killed (default {run.DEFAULT_WALL_SECONDS}; "
                    f"the harness fails a test at {TEST_SECONDS})")
    ap.add_argument("--cpu-limit", type=int, default=Limits.cpu_seconds, help="CPU seconds per run")
    ap.add_argument("--memory-limit", type=int, default=Limits.address_space_gb, help="GiB of address space per run")
    ap.add_argument("--file-limit", type=int, default=Limits.file_size_mb, help="MiB per file a run writes (its log)")
    ap.add_argument("--build-timeout", type=int, default=building.BUILD_TIMEOUT,
                    help=f"seconds for each compile and link (default {building.BUILD_TIMEOUT})")
    ap.add_argument("--sim", action="store_true",
                    help="run every test in simulation (SIM=1): deterministic, each failure replayable from its "
                         "seed; a raft.c that calls what simulation cannot replay is REFUSED (default: real time)")
    ap.add_argument("--strategy", choices=("random", "pct"), default="random",
                    help="the simulation's scheduling strategy (default random; implies --sim)")
    ap.add_argument("--allow-network", action="store_true", help="do not run the tests in a network namespace")
    ap.add_argument("--no-sandbox", action="store_true",
                    help="no bubblewrap (for debugging the grader; the README says what is lost)")
    return ap


def parse_args(argv: list[str]) -> argparse.Namespace:
    ap = build_parser()
    args = ap.parse_args(argv)
    if args.runs < 1 or args.jobs < 1:
        ap.error("--runs and --jobs must be at least 1")
    if args.strategy != "random":
        args.sim = True
    if args.json and len(args.submissions) > 1 and os.path.isfile(args.json):
        ap.error("--json must be a directory when grading several submissions")
    return args


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def prepare(args: argparse.Namespace, box: sandbox.Sandbox, lab: building.Lab,
            work: str) -> tuple[list[report.Grade], dict[str, str]]:
    """Loads, builds and checks every submission: (grades, binaries by name).
    Whatever goes wrong with one submission is that submission's status."""
    subs: list[submission.Submission] = []
    grades: dict[int, report.Grade] = {}
    for path in args.submissions:
        try:
            sub = submission.load(path)
        except Exception as err:   # unreadable: that submission's problem, never the batch's
            sub = submission.Submission(path=path, name=submission.base_name(path))
            detail = str(err) if isinstance(err, submission.SubmissionError) else f"{path}: cannot read it: {err}"
            grades[id(sub)] = report.Grade(sub.name, path, "NO-SOURCE", detail)
        subs.append(sub)
    submission.unique_names(subs)
    binaries: dict[str, str] = {}
    todo: list[submission.Submission] = []
    for sub in subs:
        outputs.remove_stale(args, sub.name)   # an earlier grading's files must not mix in
        if id(sub) in grades:
            grades[id(sub)].name = sub.name
            log(f"grade: {sub.name}: {grades[id(sub)].status}: {grades[id(sub)].detail}")
        else:
            grades[id(sub)] = report.Grade(sub.name, sub.path, taken_from=sub.taken_from)
            todo.append(sub)

    def build_one(sub: submission.Submission) -> None:
        grade = grades[id(sub)]
        if pool.STOP.is_set():
            grade.status, grade.detail = "INCOMPLETE", "grading was interrupted before this submission was built"
            return
        log(f"grade: building {sub.name} ({sub.path}: {sub.taken_from}) ...")
        try:
            binaries[sub.name], _ = building.build(box, lab, work, sub.name, sub.source, replayable=args.sim)
        except building.Refused as err:
            more = f" (and {len(err.problems) - 1} more, in refused.txt)" if len(err.problems) > 1 else ""
            grade.status, grade.detail = "REFUSED", err.problems[0] + more
            outputs.save(os.path.join(args.out, sub.name, "refused.txt"), "\n".join(err.problems) + "\n")
        except building.BuildError as err:
            grade.status, grade.detail = "BUILD-ERROR", err.summary
            outputs.save(os.path.join(args.out, sub.name, "build.log"), err.log)
        except Exception as err:   # the grader's own fault with this submission: say so, go on
            grade.status = "GRADER-ERROR"
            grade.detail = f"building it failed in the grader: {type(err).__name__}: {err}"
        if grade.status != "OK":
            log(f"grade: {sub.name}: {grade.status}\n{grade.detail}")

    # Two builds at once (a compile is CPU-bound; the machine has few cores).
    with concurrent.futures.ThreadPoolExecutor(max_workers=BUILD_JOBS) as ex:
        list(ex.map(build_one, todo))
    # In the batch's order whatever order the builds finished in: the seeds (--seed) follow it.
    binaries = {s.name: binaries[s.name] for s in subs if s.name in binaries}
    return [grades[id(s)] for s in subs], binaries


def sim_env(args: argparse.Namespace, source_path: str) -> dict[str, str]:
    """The environment that puts a run in simulation (lab/sim.h), or none.
    LAB_RAFT only completes the replay command of a FAIL line (RAFT=<dir>):
    given for a submission that is a directory with a plain name."""
    if not args.sim:
        return {}
    env = {"LAB_SIM": "1", "LAB_SIM_STRATEGY": args.strategy}
    if os.path.isdir(source_path) and re.fullmatch(r"[A-Za-z0-9_./-]+", source_path):
        env["LAB_RAFT"] = source_path
    return env


def runner_sandbox(box: sandbox.Sandbox, binary: str, args: argparse.Namespace) -> run.SandboxSpec:
    """What Runner takes: a function that wraps the test's command in bwrap,
    or the prefix of a lesser level."""
    if box.level == "bwrap":
        inside = "/opt/raftlab/raft-tests"

        def wrap(inner: list[str], rw: Sequence[sandbox.Bind] = ()) -> list[str]:
            return box.wrap([inside] + inner[1:], ro=[(binary, inside)], rw=list(rw),
                            share_net=args.allow_network, as_pid_1=True)
        return wrap
    if box.level == "unshare-net" and not args.allow_network:
        return list(box._unshare)
    return []


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    pool.catch_interrupts()
    outputs.remove_stale_batch(args)
    building.BUILD_TIMEOUT = args.build_timeout
    box = sandbox.detect(not args.no_sandbox)
    log(f"grade: {box.line()}")
    work = tempfile.mkdtemp(prefix="raftlab-grade-", dir="/tmp" if os.path.isdir("/tmp") else None)
    os.chmod(work, 0o711)
    log(f"grade: work directory {work} (removed at the end)")
    try:
        try:
            lab = building.prepare_lab(ROOT, work)
        except (building.BuildError, OSError) as err:
            log(getattr(err, "log", "")[-3000:])
            sys.exit(f"grade: {err}")
        return grade_all(args, box, lab, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def grade_all(args: argparse.Namespace, box: sandbox.Sandbox, lab: building.Lab, work: str) -> int:
    # The test list comes from the skeleton's binary: no submission's code runs to make it.
    try:
        all_tests = catalog.list_tests(lab.trusted_binary)
    except Exception as err:
        sys.exit(f"grade: cannot list the tests of {lab.trusted_binary}: {err}")
    parts = [p.strip().upper() for p in args.parts.split(",")] if args.parts else None
    try:
        tests = catalog.select(all_tests, parts, args.tests)
        points, warnings = scoring.load_points(args.points, all_tests)
    except (catalog.SelectionError, scoring.PointsError) as err:
        sys.exit(f"grade: {err}")
    for w in warnings:
        log(f"grade: warning: {w}")
    grades, binaries = prepare(args, box, lab, work)
    policy_text = scoring.policy_statement(args.policy, args.runs)
    if args.sim:
        policy_text += (f" Every run is in simulation ({args.strategy} scheduling, virtual time): a failure "
                        "replays exactly from its seed.")

    # The process limit counts every thread of the user, all runs together:
    # a 7-server test has about 300.
    limits = Limits(cpu_seconds=args.cpu_limit, address_space_gb=args.memory_limit, file_size_mb=args.file_limit,
                    processes=max(Limits.processes, 2048 * args.jobs), isolate_network=not args.allow_network)
    prefix = list(box._unshare) if box.level == "unshare-net" else (["bwrap"] if box.level == "bwrap" else [])
    log(f"grade: {len(tests)} test(s) × {args.runs} run(s) × {len(binaries)} submission(s), "
        f"{args.jobs} at once; limits per run: {args.wall_limit} s wall, {limits.describe(prefix)}")
    log(f"grade: {policy_text}")

    source_paths = {g.name: g.path for g in grades}
    runners = {name: run.Runner(b, limits, args.wall_limit, runner_sandbox(box, b, args),
                                env=sim_env(args, source_paths.get(name, "")))
               for name, b in binaries.items()}
    jobs = make_jobs(runners, tests, args, work)
    span: dict[str, tuple[float, float]] = {}   # submission -> (its first run's start, its last run's end)
    keeper = outputs.LogKeeper(args.out)

    def on_outcome(job: pool.Job, outcome: run.Outcome) -> None:
        now = time.monotonic()
        first, _ = span.get(job.tag, (now - outcome.wall_seconds, now))
        span[job.tag] = (min(first, now - outcome.wall_seconds), now)
        keeper.keep_if_failed(job.tag, outcome)

    results, interrupted = ([], pool.STOP.is_set()) if not jobs else \
        pool.run_all(jobs, args.jobs, on_outcome, progress.Progress(len(jobs)))
    by_sub: dict[str, list[run.Outcome]] = {}
    for job, outcome in results:
        by_sub.setdefault(job.tag, []).append(outcome)

    for g in grades:
        try:
            table = stats.collect(tests, by_sub.get(g.name, []))
            g.rows = [report.TestRow(s.test, points[s.test],
                                     scoring.score(s, points[s.test], args.policy) if g.status == "OK" else 0, s)
                      for s in table]
            g.all_tests = tests == all_tests
            first, last = span.get(g.name, (0, 0))
            g.wall_seconds = last - first
            if g.status == "OK" and interrupted and any(r.stats.runs < args.runs for r in g.rows):
                g.status, g.detail = "INCOMPLETE", "grading was interrupted; scores count only the runs that finished"
            outputs.write_all(g, policy_text, args)
        except Exception as err:   # one report's failure must not lose the others
            log(f"grade: {g.name}: GRADER-ERROR writing its report: {type(err).__name__}: {err}")
    if args.csv:
        outputs.write_csv(args.csv, grades)
    return 1 if interrupted else 0


def make_jobs(runners: dict[str, run.Runner], tests: Sequence[str], args: argparse.Namespace,
              work: str) -> list[pool.Job]:
    """Every run of every test of every submission, round by round, the
    long parts first in each round, each with its own seed. A run's log and
    verdict file live in the grader's work directory (the sandbox, which
    may run as another uid, must reach the verdict file to bind it; the
    output directory may be private, and the sandbox never sees it); a
    failing run's log is copied to the output directory."""
    rng = random.Random(args.seed)
    ordered = sorted(tests, key=lambda t: (PART_ORDER[catalog.part_of(t)], t))
    jobs = []
    for k in range(args.runs):
        for t in ordered:
            for name, runner in runners.items():
                runs_dir = os.path.join(work, "runs", name)
                if not os.path.isdir(runs_dir):
                    os.makedirs(runs_dir, mode=0o711, exist_ok=True)
                    os.chmod(os.path.dirname(runs_dir), 0o711)
                    os.chmod(runs_dir, 0o711)
                jobs.append(pool.Job(runner, t, rng.getrandbits(63),
                                     os.path.join(runs_dir, f"{t.replace('/', '-')}-run{k + 1}.log"),
                                     tag=name, label=name if len(runners) > 1 else ""))
    return jobs


def command(argv: list[str]) -> int:
    """tools/grade's main: main, then no signal can change the exit status."""
    status = main(argv)
    # Every report is written: a signal now must not turn the exit status into a death by signal.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    return status

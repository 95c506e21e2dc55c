"""grade: grade Raft submissions, each test many times, in parallel.

    grading/grade alice/raft.c                       one submission
    grading/grade submissions/*                      a batch, one job pool
    grading/grade sub.tar.gz --parts 2A,2B --runs 3  some parts, fewer runs
    grading/grade sub/ --json results.json           Gradescope's format
    grading/grade subs/* --seed 7 --shard 3/10       one shard of a grading (or from
                                                     SLURM_ARRAY_TASK_ID, JOB_COMPLETION_INDEX)
    grading/grade merge build/grade-shards/          the shards' results: the reports
    grading/grade subs/* --emit slurm --shards 20    a job description (slurm, k8s, parallel)

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
import contextlib
import hashlib
import os
import random
import re
import shutil
import signal
import sys
import tempfile
from typing import Any, Iterator, Sequence

from .grading import building, outputs, report, results, scoring, sharding, submission, timelines
from .grading.results import RunRecord, SubRecord
from .grading.sharding import Unit
from .run import catalog, cgroups, pool, progress, run, sandbox, starvation, stats
from .run.limits import Limits
from .run.paths import LAB_ROOT as ROOT
from .run.policy import TEST_SECONDS
from .run.untrusted import printable

DOC = __doc__ or ""

BUILD_JOBS = min(2, os.cpu_count() or 1)

# Long parts first within a round: fewer idle slots at the end of a run.
PART_ORDER = {"2C": 0, "2D": 1, "2B": 2, "2A": 3}
# A submission's statuses that a resumed shard keeps (building it again would say the same).
FINAL_STATUSES = ("BUILD-ERROR", "REFUSED", "NO-SOURCE")
# The test-only switch that turns the object check off (checks/check_grading.py's sandbox batch).
SKIP_OBJCHECK = "--skip-objcheck-for-testing"
VOID = (f"THE OBJECT CHECK WAS OFF ({SKIP_OBJCHECK}, a switch for testing the grader's sandbox): "
        "these grades are void.")


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
    ap.add_argument("--policy", choices=scoring.POLICIES, default="all-or-nothing",
                    help="all-or-nothing (default), proportional, or rate (see --min-rate)")
    ap.add_argument("--min-rate", type=float, default=scoring.DEFAULT_MIN_RATE,
                    help="--policy rate: the pass rate a test must show (default 0.9)")
    ap.add_argument("--rate-bound", choices=scoring.BOUNDS, default="lower",
                    help="--policy rate: which bound of the pass rate's 95%% interval must reach --min-rate: "
                         "lower (points when the runs show the rate; the default) or upper (points unless the runs "
                         "show it is below)")
    ap.add_argument("--starved-reruns", type=int, default=2,
                    help="times a run judged STARVED by the machine is run again before it counts as it ended "
                         "(default 2; 0: never; real time only)")
    ap.add_argument("--points", default=os.path.join(ROOT, "grading", "points.json"))
    ap.add_argument("--json", metavar="PATH", help="Gradescope results.json (a directory of NAME.json for a batch)")
    ap.add_argument("--csv", metavar="FILE", help="one row per submission")
    ap.add_argument("--out", default=os.path.join(ROOT, "build", "grade"),
                    help="where each submission's report, results.json and failing logs go (default build/grade)")
    ap.add_argument("--seed", type=int, help="the seed the runs' seeds are drawn from (default: random, printed; "
                    "required with shards)")
    ap.add_argument("--shard", metavar="I/N",
                    help="grade only shard I of N (0 … N-1): its results file goes to --results, no report "
                         "(default: from SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT, or JOB_COMPLETION_INDEX "
                         "and --shard-count, when set)")
    ap.add_argument("--shard-count", type=int, metavar="N", help="the number of shards (Kubernetes: the completions)")
    ap.add_argument("--results", metavar="DIR",
                    help="keep the results file here, resuming the runs it holds (a shard's default: "
                         "build/grade-shards/)")
    ap.add_argument("--fresh", action="store_true", help="start the results file over instead of resuming it")
    ap.add_argument("--emit", choices=("slurm", "k8s", "parallel"),
                    help="print a job description that grades these submissions in --shards shards, and exit")
    ap.add_argument("--shards", type=int, default=10, help="--emit: the number of shards (default 10)")
    ap.add_argument("--sshlogin", action="append", metavar="HOSTS",
                    help="--emit parallel: GNU parallel's --sshlogin (e.g. 2/alice@lab1,2/lab2; may repeat)")
    ap.add_argument("--image", default="raftlab-grader:latest", help="--emit k8s: the container image")
    ap.add_argument("--partition", help="--emit slurm: the partition")
    ap.add_argument("--wall-limit", type=int, default=run.DEFAULT_WALL_SECONDS,
                    help=f"seconds before a run is killed (default {run.DEFAULT_WALL_SECONDS}; "
                    f"the harness fails a test at {TEST_SECONDS})")
    ap.add_argument("--cpu-limit", type=int, default=Limits.cpu_seconds, help="CPU seconds per run")
    ap.add_argument("--memory-limit", type=int, default=Limits.address_space_gb, help="GiB of address space per run")
    ap.add_argument("--file-limit", type=int, default=Limits.file_size_mb, help="MiB per file a run writes (its log)")
    ap.add_argument("--ram-limit", type=int, metavar="MIB",
                    help="MiB of RAM per run, where the grader can give each run a cgroup (default: three quarters "
                         "of the machine's RAM shared among --jobs runs, at least 1024)")
    ap.add_argument("--no-cgroups", action="store_true", help="no cgroup per run (RAM and tasks then unbounded "
                    "per run: only the address-space limit and the uid's process limit)")
    ap.add_argument("--build-timeout", type=int, default=building.BUILD_TIMEOUT,
                    help=f"seconds for each compile and link (default {building.BUILD_TIMEOUT})")
    ap.add_argument("--sim", action="store_true",
                    help="run every test in simulation (SIM=1): deterministic, each failure replayable from its "
                         "seed; a raft.c that calls what simulation cannot replay is REFUSED (default: real time)")
    ap.add_argument("--strategy", choices=("random", "pct"), default="random",
                    help="the simulation's scheduling strategy (default random; implies --sim)")
    ap.add_argument("--no-timelines", action="store_true",
                    help="keep no timeline page of failing runs (default: each failing run's page, made by the "
                         "grader from the data the run recorded, beside its log)")
    ap.add_argument("--allow-network", action="store_true", help="do not run the tests in a network namespace")
    ap.add_argument("--no-sandbox", action="store_true",
                    help="no bubblewrap (for debugging the grader; the README says what is lost)")
    # Test-only, and not in --help: make check-grading grades escape attempts with it, to test the sandbox
    # itself with code the object check would refuse. Every report of such a grading says it is void.
    ap.add_argument(SKIP_OBJCHECK, action="store_true", dest="skip_objcheck", help=argparse.SUPPRESS)
    return ap


def parse_args(argv: list[str]) -> argparse.Namespace:
    ap = build_parser()
    args = ap.parse_args(argv)
    if args.runs < 1 or args.jobs < 1:
        ap.error("--runs and --jobs must be at least 1")
    if args.starved_reruns < 0 or args.shards < 1:
        ap.error("--starved-reruns must be at least 0, --shards at least 1")
    if args.strategy != "random":
        args.sim = True
    if args.json and len(args.submissions) > 1 and os.path.isfile(args.json):
        ap.error("--json must be a directory when grading several submissions")
    problem = scoring.check_rule(args.policy, args.runs, args.min_rate, args.rate_bound)
    if problem:
        ap.error(problem)
    if args.skip_objcheck and (args.emit or args.shard or args.shard_count or args.results):
        ap.error(f"{SKIP_OBJCHECK} is for testing the sandbox, never for a course's results")
    if args.emit:
        return args
    try:
        args.shard_of = sharding.parse_shard(args.shard, args.shard_count, os.environ)
    except sharding.ShardError as err:
        ap.error(str(err))
    if args.skip_objcheck and args.shard_of is not None:
        ap.error(f"{SKIP_OBJCHECK} is for testing the sandbox, never for a course's shards")
    if args.shard_of is not None and args.shard_of.count > 1 and args.seed is None:
        ap.error(f"a shard needs --seed: every shard of a grading must draw the same seeds "
                 f"(shard {args.shard_of.index}/{args.shard_of.count}, from {args.shard_of.source})")
    if args.shard_of is not None and not args.results:
        args.results = os.path.join(ROOT, "build", "grade-shards")
    return args


def log(text: str) -> None:
    print(printable(text), file=sys.stderr, flush=True)   # compiler errors and paths are the submission's


def load_all(args: argparse.Namespace) -> tuple[list[submission.Submission], dict[str, SubRecord]]:
    """Every submission of the batch, its raft.c read and its name made
    unique, and a record of each: NO-SOURCE with why, else OK for now."""
    subs: list[submission.Submission] = []
    bad: dict[int, str] = {}
    for path in args.submissions:
        try:
            sub = submission.load(path)
        except Exception as err:   # unreadable: that submission's problem, never the batch's
            sub = submission.Submission(path=path, name=submission.base_name(path))
            bad[id(sub)] = str(err) if isinstance(err, submission.SubmissionError) else f"{path}: cannot read it: {err}"
        subs.append(sub)
    submission.unique_names(subs)
    records = {}
    for sub in subs:
        records[sub.name] = SubRecord(sub.name, sub.path, sub.taken_from)
        if id(sub) in bad:
            records[sub.name].status, records[sub.name].detail = "NO-SOURCE", bad[id(sub)]
    return subs, records


def build_some(args: argparse.Namespace, box: sandbox.Sandbox, lab: building.Lab, work: str,
               todo: list[submission.Submission], records: dict[str, SubRecord],
               groups: cgroups.Cgroups | None = None) -> dict[str, str]:
    """Builds and checks submissions: their binaries by name. Whatever goes
    wrong with one is that submission's status in its record (and the text
    the report keeps beside it, in record.files)."""
    binaries: dict[str, str] = {}

    def build_one(sub: submission.Submission) -> None:
        rec = records[sub.name]
        if pool.STOP.is_set():
            rec.status, rec.detail = "INCOMPLETE", "grading was interrupted before this submission was built"
            return
        log(f"grade: building {sub.name} ({sub.path}: {sub.taken_from}) ...")
        try:
            binaries[sub.name], _ = building.build(box, lab, work, sub.name, sub.source, replayable=args.sim,
                                                   skip_check=args.skip_objcheck, groups=groups)
        except building.Refused as err:
            more = f" (and {len(err.problems) - 1} more, in refused.txt)" if len(err.problems) > 1 else ""
            rec.status, rec.detail = "REFUSED", err.problems[0] + more
            rec.files["refused.txt"] = "\n".join(err.problems) + "\n"
        except building.BuildError as err:
            rec.status, rec.detail = "BUILD-ERROR", err.summary
            rec.files["build.log"] = err.log
        except Exception as err:   # the grader's own fault with this submission: say so, go on
            rec.status = "GRADER-ERROR"
            rec.detail = f"building it failed in the grader: {type(err).__name__}: {err}"
        if rec.status != "OK":
            log(f"grade: {sub.name}: {rec.status}\n{rec.detail}")

    # Two builds at once (a compile is CPU-bound; the machine has few cores).
    with concurrent.futures.ThreadPoolExecutor(max_workers=BUILD_JOBS) as ex:
        list(ex.map(build_one, todo))
    return binaries


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
    if argv[:1] == ["merge"]:
        from .grading import merge
        return merge.main(argv[1:])
    args = parse_args(argv)
    if args.emit:
        from .grading import emit
        try:
            print(emit.emit(args), end="")
        except emit.EmitError as err:
            sys.exit(f"grade: {err}")
        return 0
    pool.catch_interrupts()
    if args.shard_of is None and not args.results:
        outputs.remove_stale_batch(args)
    building.BUILD_TIMEOUT = args.build_timeout
    box = sandbox.detect(not args.no_sandbox)
    log(f"grade: {box.line()}")
    if args.skip_objcheck:
        log(f"grade: WARNING: {VOID}")
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


def make_batch(args: argparse.Namespace, tests: Sequence[str], points: dict[str, float],
               subs: Sequence[submission.Submission], records: dict[str, SubRecord], seed: int) -> dict[str, Any]:
    """What identifies a grading: every shard of it has the same (merge checks)."""
    return {
        "tree": sharding.tree_digest(ROOT), "seed": seed, "runs": args.runs, "tests": list(tests),
        "points": {t: points[t] for t in tests},
        "policy": {"name": args.policy, "min_rate": args.min_rate, "bound": args.rate_bound},
        "sim": bool(args.sim), "strategy": args.strategy if args.sim else "",
        "limits": {"wall_s": args.wall_limit, "cpu_s": args.cpu_limit, "memory_gb": args.memory_limit,
                   "file_mb": args.file_limit, "network": bool(args.allow_network), "sandbox": not args.no_sandbox},
        "starved_reruns": args.starved_reruns if not args.sim else 0,
        "all_tests": False,
        "submissions": [{"name": s.name, "taken_from": s.taken_from,
                         "sha256": hashlib.sha256(s.source).hexdigest() if records[s.name].status == "OK" else ""}
                        for s in subs],
    }


def policy_text(batch: dict[str, Any]) -> str:
    """The policy paragraph of every report, from the batch alone (merge writes the same)."""
    pol = batch["policy"]
    text = scoring.policy_statement(pol["name"], batch["runs"], pol["min_rate"], pol["bound"])
    if batch["sim"]:
        text += (f" Every run is in simulation ({batch['strategy']} scheduling, virtual time): a failure "
                 "replays exactly from its seed.")
    elif batch["starved_reruns"]:
        text += (f" A run that failed LIVENESS, PERF or HANG while the grader measured the machine starving it "
                 f"(not its own CPU use) is STARVED and run again, {batch['starved_reruns']} time(s) at most.")
    return text


def grade_all(args: argparse.Namespace, box: sandbox.Sandbox, lab: building.Lab, work: str) -> int:
    tests, all_tests, points = select_tests(args, lab)
    subs, records = load_all(args)
    shard = args.shard_of or sharding.Shard(0, 1)
    path = os.path.join(args.results, shard.file_name()) if args.shard_of is not None or args.results else ""
    resumed = read_results(path, args.fresh)
    seed = args.seed
    if seed is None:
        seed = resumed.batch["seed"] if resumed else random.SystemRandom().getrandbits(63)
        log(f"grade: seed {seed} (--seed {seed} grades with the same seeds again)")
    batch = make_batch(args, tests, points, subs, records, seed)
    batch["all_tests"] = tests == all_tests
    check_resumable(resumed, batch, shard, path)
    text = policy_text(batch)
    if args.skip_objcheck:
        text = VOID + " " + text

    names = [s.name for s in subs if records[s.name].status == "OK"]
    mine = sharding.share(sharding.units(names, tests, args.runs), shard)
    done: dict[Unit, RunRecord] = dict(resumed.runs) if resumed else {}
    for name, rec in (resumed.subs.items() if resumed else []):   # a build that failed for good stays failed
        if name in records and rec.status in FINAL_STATUSES:
            records[name] = rec
    todo_units = [u for u in mine if u not in done and records[u.sub].status == "OK"]
    if args.shard_of is not None:
        already = f", {len(mine) - len(todo_units)} already done" if resumed else ""
        log(f"grade: shard {shard.index}/{shard.count} (from {shard.source}): {len(mine)} of "
            f"{len(names) * len(tests) * args.runs} runs{already}; results in {path}")
    elif resumed:
        log(f"grade: resuming {path}: {len(done)} runs already done")
    writer = results.Writer(path, shard, batch, resumed) if path else None
    recorded = set(resumed.subs) if resumed else set()
    for rec in records.values():
        if writer and rec.status != "OK" and rec.name not in recorded:
            writer.submission(rec)   # every NO-SOURCE one
        elif not writer:
            outputs.remove_stale(args, rec.name)   # an earlier grading's files must not mix in
    to_build = [s for s in subs if records[s.name].status == "OK" and s.name in {u.sub for u in todo_units}]
    with cgroups_for(args, bool(to_build)) as groups:
        binaries = build_some(args, box, lab, work, to_build, records, groups)
        for s in to_build:
            if writer and s.name not in recorded and records[s.name].status != "INCOMPLETE":
                writer.submission(records[s.name])

        todo_units = [u for u in todo_units if u.sub in binaries]
        interrupted = run_units(args, box, binaries, {s.name: s.path for s in subs}, todo_units, seed, work,
                                len({u.sub for u in mine}), text, writer, done, len(tests), groups)
    if writer:
        if not interrupted:
            writer.end(sum(1 for u in mine if u in done))
        writer.close()
    if args.shard_of is not None:
        log(f"grade: shard {shard.index}/{shard.count}: {sum(1 for u in mine if u in done)} of {len(mine)} runs "
            f"done{' (interrupted: run it again to resume)' if interrupted else ''}; {path}")
        return 1 if interrupted else 0
    grades = make_grades(batch, [records[s.name] for s in subs], list(done.values()), interrupted)
    write_reports(grades, text, args, copy_logs=writer is not None,
                  files={s.name: records[s.name].files for s in subs})
    return 1 if interrupted else 0


def check_resumable(resumed: results.ShardFile | None, batch: dict[str, Any], shard: sharding.Shard,
                    path: str) -> None:
    """Exits when the results file to resume is another grading's."""
    if resumed is None:
        return
    from .grading.merge import batch_difference
    why = batch_difference(resumed.batch, batch)
    if why or resumed.shard != shard:
        sys.exit(f"grade: {path} holds the results of another grading ({why or 'another shard'}): "
                 "--fresh starts it over, or give it another --results directory")


def select_tests(args: argparse.Namespace, lab: building.Lab) -> tuple[list[str], list[str], dict[str, float]]:
    """(the tests graded, every test, the points): the test list comes from
    the skeleton's binary, so no submission's code runs to make it."""
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
    return list(tests), list(all_tests), points


def read_results(path: str, fresh: bool) -> results.ShardFile | None:
    """The results file to resume, if there is one (and not --fresh)."""
    if not path or fresh or not os.path.exists(path):
        return None
    try:
        return results.read(path)
    except results.ResultsError as err:
        sys.exit(f"grade: {err} (--fresh starts it over)")


@contextlib.contextmanager
def cgroups_for(args: argparse.Namespace, needed: bool) -> Iterator[cgroups.Cgroups | None]:
    """A cgroup for each compile, link and run, where the grader can make
    them (and there is something to build); says which in one line, or why
    not. Every cgroup is gone at the end."""
    groups, why = cgroups.detect(args.ram_limit or cgroups.default_ram_mb(args.jobs), cgroups.RUN_TASKS,
                                 wanted=not args.no_cgroups and needed)
    if groups is not None:
        log(f"grade: {groups.line()}")
    elif needed:
        log(f"grade: no cgroup per run ({why}): a run's RAM is bounded only by its address space "
            f"({args.memory_limit} GiB; {args.jobs} at once), its threads and processes only by the uid's limit, "
            "shared by every run")
    try:
        yield groups
    finally:
        if groups is not None:
            groups.close()


def run_units(args: argparse.Namespace, box: sandbox.Sandbox, binaries: dict[str, str], paths: dict[str, str],
              units: Sequence[Unit], seed: int, work: str, n_subs: int, text: str,
              writer: results.Writer | None, done: dict[Unit, RunRecord], n_tests: int,
              groups: cgroups.Cgroups | None) -> bool:
    """Runs the units, a STARVED run again up to --starved-reruns times;
    each finished one goes into done (and the results file). Returns
    whether the grading was interrupted."""
    # The process limit counts every thread of the user, all runs together:
    # a 7-server test has about 300.
    limits = Limits(cpu_seconds=args.cpu_limit, address_space_gb=args.memory_limit, file_size_mb=args.file_limit,
                    processes=max(Limits.processes, 2048 * args.jobs), isolate_network=not args.allow_network)
    prefix = list(box._unshare) if box.level == "unshare-net" else (["bwrap"] if box.level == "bwrap" else [])
    log(f"grade: {n_tests} test(s) × {args.runs} run(s) × {n_subs} submission(s): {len(units)} run(s) "
        f"to do, {args.jobs} at once; limits per run: {args.wall_limit} s wall, {limits.describe(prefix)}")
    return _run_units(args, box, binaries, paths, units, seed, work, n_subs, text, writer, done, limits, groups)


def _run_units(args: argparse.Namespace, box: sandbox.Sandbox, binaries: dict[str, str], paths: dict[str, str],
               units: Sequence[Unit], seed: int, work: str, n_subs: int, text: str, writer: results.Writer | None,
               done: dict[Unit, RunRecord], limits: Limits, groups: cgroups.Cgroups | None) -> bool:
    log(f"grade: {text}")
    monitor = starvation.Monitor() if not args.sim and args.starved_reruns > 0 else None
    runners = {name: run.Runner(b, limits, args.wall_limit, runner_sandbox(box, b, args),
                                env=sim_env(args, paths.get(name, "")), monitor=monitor, tag=name,
                                traces=not args.no_timelines, trace_owner=box.owner(), cgroups=groups)
               for name, b in binaries.items()}
    jobs, unit_of = make_jobs(runners, units, seed, work, multi=n_subs > 1)
    keeper = outputs.LogKeeper(results.logs_dir(writer.path) if writer else args.out, pages=not args.no_timelines)
    starved: dict[int, list[str]] = {}

    def rerun(job: pool.Job, outcome: run.Outcome) -> bool:
        tries = starved.setdefault(id(job), [])
        if not outcome.starved or len(tries) >= args.starved_reruns:
            return False
        tries.append(outcome.starved)
        if outcome.log_path and os.path.exists(outcome.log_path):
            os.remove(outcome.log_path)
        if outcome.log_path:
            timelines.remove(timelines.trace_dir(outcome.log_path))
        return True

    def on_outcome(job: pool.Job, outcome: run.Outcome) -> None:
        keeper.keep_if_failed(job.tag, outcome)
        rec = RunRecord(unit_of[id(job)], outcome, starved.get(id(job), []), bool(outcome.starved))
        done[rec.unit] = rec
        if writer:
            writer.run(rec)

    if monitor:
        monitor.start()
    try:
        _, interrupted = ([], pool.STOP.is_set()) if not jobs else \
            pool.run_all(jobs, args.jobs, on_outcome, progress.Progress(len(jobs)), rerun)
    finally:
        if monitor:
            monitor.stop()
    if monitor:
        log(f"grade: the machine during the runs: {monitor.overall()}")
        log(f"grade: {sum(len(v) for v in starved.values())} run(s) judged STARVED and run again; "
            f"{sum(1 for r in done.values() if r.starved_counted)} still STARVED after {args.starved_reruns} "
            "re-run(s), counted as they ended")
    return interrupted


def make_grades(batch: dict[str, Any], subs: Sequence[SubRecord], runs: Sequence[RunRecord],
                incomplete: bool) -> list[report.Grade]:
    """The grades of the batch's submissions from their records, the same
    whichever machines ran them: runs in a fixed order (test, then run)."""
    tests: list[str] = batch["tests"]
    points: dict[str, float] = batch["points"]
    pol = batch["policy"]
    order = {t: i for i, t in enumerate(tests)}
    by_sub: dict[str, list[RunRecord]] = {}
    for r in sorted(runs, key=lambda r: (order[r.unit.test], r.unit.k)):
        by_sub.setdefault(r.unit.sub, []).append(r)
    grades = []
    for sub in subs:
        g = report.Grade(sub.name, sub.path, taken_from=sub.taken_from)
        g.status, g.detail = sub.status, sub.detail   # type: ignore[assignment]
        mine = by_sub.get(sub.name, [])
        table = stats.collect(tests, [r.outcome for r in mine])
        by_test = {s.test: s for s in table}
        for r in mine:
            by_test[r.unit.test].starved += len(r.starved)
            by_test[r.unit.test].starved_counted += int(r.starved_counted)
        g.rows = [report.TestRow(s.test, points[s.test],
                                 scoring.score(s, points[s.test], pol["name"], pol["min_rate"], pol["bound"])
                                 if g.status == "OK" else 0, s)
                  for s in table]
        g.all_tests = bool(batch.get("all_tests"))
        if mine:
            g.wall_seconds = (max(r.outcome.started + r.outcome.wall_seconds for r in mine)
                              - min(r.outcome.started for r in mine))
        if g.status == "OK" and any(r.stats.runs < batch["runs"] for r in g.rows):
            g.status = "INCOMPLETE"
            g.detail = ("grading was interrupted; scores count only the runs that finished" if incomplete else
                        "some of its runs are missing (shards missing or unfinished); scores count only the "
                        "runs that finished")
        grades.append(g)
    return grades


def write_reports(grades: Sequence[report.Grade], text: str, args: argparse.Namespace, copy_logs: bool,
                  files: dict[str, dict[str, str]] | None = None) -> None:
    """Every submission's report, results.json and files (refused.txt,
    build.log), and the CSV. With copy_logs, failing logs come from a
    results file's directory and are copied under --out, once an earlier
    grading's files are removed."""
    for g in grades:
        try:
            if copy_logs:
                outputs.remove_stale(args, g.name)
                copy_kept_logs(g, args.out)
            for name, body in (files or {}).get(g.name, {}).items():
                outputs.save(os.path.join(args.out, g.name, name), body)
            outputs.write_all(g, text, args)
        except Exception as err:   # one report's failure must not lose the others
            log(f"grade: {g.name}: GRADER-ERROR writing its report: {type(err).__name__}: {err}")
    if args.csv:
        outputs.write_csv(args.csv, grades)


def copy_kept_logs(g: report.Grade, out: str) -> None:
    """A results file's kept logs and timeline pages, copied under out."""
    for row in g.rows:
        for o in row.stats.failures:
            if o.log_path:
                dest = os.path.join(out, g.name, "failures", os.path.basename(o.log_path))
                try:
                    os.makedirs(os.path.dirname(dest), exist_ok=True)
                    shutil.copyfile(o.log_path, dest)
                    o.log_path = dest
                except OSError as err:
                    o.reason += f" [its log could not be copied: {err.strerror}]"
                    o.log_path = ""
            if o.timeline:
                dest = os.path.join(out, g.name, "failures", os.path.basename(o.timeline))
                try:
                    os.makedirs(os.path.dirname(dest), exist_ok=True)
                    shutil.copyfile(o.timeline, dest)
                    o.timeline = dest
                except OSError as err:
                    o.timeline_note = f"not kept: it could not be copied: {err.strerror}"
                    o.timeline = ""


def make_jobs(runners: dict[str, run.Runner], units: Sequence[Unit], seed: int, work: str,
              multi: bool) -> tuple[list[pool.Job], dict[int, Unit]]:
    """The units' jobs, round by round, the long parts first in each round,
    each with its unit's seed. A run's log and verdict file live in the
    grader's work directory (the sandbox, which may run as another uid,
    must reach the verdict file to bind it; the output directory may be
    private, and the sandbox never sees it); a failing run's log is copied
    to the output directory."""
    sub_order = {name: i for i, name in enumerate(runners)}
    ordered = sorted(units, key=lambda u: (u.k, PART_ORDER[catalog.part_of(u.test)], u.test, sub_order[u.sub]))
    jobs, unit_of = [], {}
    for u in ordered:
        runs_dir = os.path.join(work, "runs", u.sub)
        if not os.path.isdir(runs_dir):
            os.makedirs(runs_dir, mode=0o711, exist_ok=True)
            os.chmod(os.path.dirname(runs_dir), 0o711)
            os.chmod(runs_dir, 0o711)
        job = pool.Job(runners[u.sub], u.test, sharding.unit_seed(seed, u),
                       os.path.join(runs_dir, f"{u.test.replace('/', '-')}-run{u.k + 1}.log"),
                       tag=u.sub, label=u.sub if multi else "")
        jobs.append(job)
        unit_of[id(job)] = u
    return jobs, unit_of


def command(argv: list[str]) -> int:
    """tools/grade's main: main, then no signal can change the exit status."""
    status = main(argv)
    # Every report is written: a signal now must not turn the exit status into a death by signal.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    return status

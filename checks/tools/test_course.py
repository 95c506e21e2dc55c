"""Tests for grading a whole course: shards (which shard, shares, seeds),
the results file (resume after a kill), merge's refusals, the emitted job
descriptions, Wilson intervals and the rate policy, and STARVED: judged
only from what the grader measures, never something a submission can
trigger for its own runs. End to end (shards as processes, under GNU
parallel, killed and resumed, merged == one machine) is
checks/check_grading.py.
"""
from __future__ import annotations

import argparse
import importlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
from typing import Any

from raftlab import grade
from raftlab.grading import emit, merge, results, scoring, sharding
from raftlab.grading.results import RunRecord, SubRecord
from raftlab.grading.sharding import Shard, Unit
from raftlab.run import pool, run, starvation, stats
from raftlab.run.policy import OutcomeClass

TESTS = ["2A/t01_initial_election", "2A/t02_reelection", "2B/t01_basic_agree"]


class ShardTest(unittest.TestCase):
    def test_from_the_option_slurm_or_kubernetes(self) -> None:
        self.assertEqual(sharding.parse_shard("3/10", None, {}), Shard(3, 10, "--shard"))
        slurm = {"SLURM_ARRAY_TASK_ID": "5", "SLURM_ARRAY_TASK_MIN": "1", "SLURM_ARRAY_TASK_COUNT": "8"}
        self.assertEqual((sharding.parse_shard(None, None, slurm) or Shard(-1, -1)).index, 4)
        k8s = {"JOB_COMPLETION_INDEX": "2"}
        self.assertEqual((sharding.parse_shard(None, 4, k8s) or Shard(-1, -1)).count, 4)
        self.assertIsNone(sharding.parse_shard(None, None, {}))
        # the option wins over the environment
        self.assertEqual((sharding.parse_shard("0/2", None, slurm) or Shard(-1, -1)).index, 0)

    def test_mistakes_are_refused_with_a_reason(self) -> None:
        cases: list[tuple[str | None, int | None, dict[str, str]]] = [
            ("3", None, {}), ("10/10", None, {}), ("1/2", 3, {}), (None, None, {"JOB_COMPLETION_INDEX": "1"}),
            (None, 2, {}), (None, None, {"SLURM_ARRAY_TASK_ID": "1"})]
        for spec, count, env in cases:
            with self.assertRaises(sharding.ShardError):
                sharding.parse_shard(spec, count, env)

    def test_shares_cover_every_unit_once_and_are_balanced(self) -> None:
        every = sharding.units(["alice", "bob", "carol"], TESTS, 10)
        for n in (1, 2, 7, 90, 200):
            shares = [sharding.share(every, Shard(i, n)) for i in range(n)]
            flat = [u for s in shares for u in s]
            self.assertEqual(sorted(flat, key=str), sorted(every, key=str))
            self.assertLessEqual(max(map(len, shares)) - min(map(len, shares)), 1)

    def test_a_units_seed_depends_on_the_seed_and_the_unit_only(self) -> None:
        u = Unit("alice", TESTS[0], 3)
        self.assertEqual(sharding.unit_seed(7, u), sharding.unit_seed(7, Unit("alice", TESTS[0], 3)))
        seeds = {sharding.unit_seed(7, x) for x in sharding.units(["alice", "bob"], TESTS, 10)}
        self.assertEqual(len(seeds), 60)
        self.assertNotEqual(sharding.unit_seed(7, u), sharding.unit_seed(8, u))
        self.assertLess(sharding.unit_seed(7, u), 1 << 63)

    def test_the_tree_digest_follows_the_lab(self) -> None:
        d = tempfile.mkdtemp()
        for rel in ("Makefile", "lab/sync.h", "raft/raft.c"):
            os.makedirs(os.path.join(d, os.path.dirname(rel)), exist_ok=True)
            with open(os.path.join(d, rel), "w") as f:
                f.write(rel)
        before = sharding.tree_digest(d)
        with open(os.path.join(d, "raft", "raft.c"), "w") as f:
            f.write("the skeleton does not count")
        self.assertEqual(sharding.tree_digest(d), before)
        with open(os.path.join(d, "lab", "sync.h"), "a") as f:
            f.write("changed")
        self.assertNotEqual(sharding.tree_digest(d), before)


def batch(**changes: Any) -> dict[str, Any]:
    b: dict[str, Any] = {"tree": "t", "seed": 1, "runs": 2, "tests": TESTS, "points": {t: 5 for t in TESTS},
                         "policy": {"name": "all-or-nothing", "min_rate": 0.9, "bound": "lower"}, "sim": True,
                         "strategy": "random", "limits": {}, "starved_reruns": 0, "all_tests": False,
                         "submissions": [{"name": "alice", "taken_from": "raft.c", "sha256": "a"},
                                         {"name": "bob", "taken_from": "raft.c", "sha256": "b"}]}
    b.update(changes)
    return b


def outcome(unit: Unit, passed: bool, cls: Any = "", log: str = "") -> run.Outcome:
    return run.Outcome(unit.test, sharding.unit_seed(1, unit), passed, cls, "" if passed else "why",
                       wall_seconds=1.0, started=1000.0 + unit.k, log_path=log)


def write_shard(directory: str, shard: Shard, b: dict[str, Any], end: bool = True,
                fail: set[Unit] | None = None) -> str:
    path = os.path.join(directory, shard.file_name())
    w = results.Writer(path, shard, b, None)
    names = [s["name"] for s in b["submissions"]]
    mine = sharding.share(sharding.units(names, b["tests"], b["runs"]), shard)
    for name in sorted({u.sub for u in mine}):
        w.submission(SubRecord(name, name, "raft.c"))
    for u in mine:
        w.run(RunRecord(u, outcome(u, u not in (fail or set()), "LIVENESS")))
    if end:
        w.end(len(mine))
    w.close()
    return path


class ResultsFileTest(unittest.TestCase):
    def setUp(self) -> None:
        self.dir = tempfile.mkdtemp()

    def test_round_trip(self) -> None:
        u = Unit("alice", TESTS[1], 1)
        path = write_shard(self.dir, Shard(0, 1), batch(), fail={u})
        got = results.read(path)
        self.assertTrue(got.complete)
        self.assertEqual(len(got.runs), 12)
        self.assertEqual((got.runs[u].outcome.cls, got.runs[u].outcome.seed), ("LIVENESS", sharding.unit_seed(1, u)))
        self.assertEqual(got.subs["bob"].status, "OK")

    def test_a_torn_last_line_is_dropped_and_cut_off_on_resume(self) -> None:
        path = write_shard(self.dir, Shard(0, 1), batch(), end=False)
        with open(path, "ab") as f:
            f.write(b'{"type": "run", "sub": "ali')    # killed while writing
        got = results.read(path)
        self.assertEqual((len(got.runs), got.complete), (12, False))
        w = results.Writer(path, Shard(0, 1), batch(), got)
        w.end(12)
        w.close()
        again = results.read(path)
        self.assertEqual((len(again.runs), again.complete), (12, True))

    def test_not_a_results_file(self) -> None:
        path = os.path.join(self.dir, "x.jsonl")
        for text in ("", '{"type": "run"}\n', '{"type": "header", "schema": "raftlab-grade-results", '
                     '"version": 99}\n'):
            with open(path, "w") as f:
                f.write(text)
            with self.assertRaises(results.ResultsError):
                results.read(path)


class MergeTest(unittest.TestCase):
    def setUp(self) -> None:
        self.dir = tempfile.mkdtemp()

    def shards(self) -> list[results.ShardFile]:
        return [results.read(p) for p in merge.find([self.dir])]

    def test_complete_shards_merge(self) -> None:
        for i in range(3):
            write_shard(self.dir, Shard(i, 3), batch())
        shards = self.shards()
        self.assertEqual(merge.check(shards, False), [])
        subs, runs = merge.combine(shards)
        self.assertEqual(([s.name for s in subs], len(runs)), (["alice", "bob"], 12))

    def test_missing_and_unfinished_shards_are_named(self) -> None:
        write_shard(self.dir, Shard(0, 4), batch())
        write_shard(self.dir, Shard(2, 4), batch(), end=False)
        with self.assertRaises(merge.MergeError) as ctx:
            merge.check(self.shards(), False)
        self.assertIn("missing shard(s) 1, 3 of 4", str(ctx.exception))
        self.assertIn("unfinished shard(s): 2 (3 of 3 runs", str(ctx.exception))
        self.assertEqual(len(merge.check(self.shards(), True)), 2)   # --allow-incomplete: warnings

    def test_different_gradings_are_refused_saying_how(self) -> None:
        changes: list[tuple[dict[str, Any], str]] = [
            ({"seed": 2}, "seed (1 against 2)"), ({"tree": "u"}, "lab tree"),
            ({"points": {t: 4 for t in TESTS}}, "the points (2A/t01_initial_election: 5 against 4"),
            ({"policy": {"name": "proportional", "min_rate": 0.9, "bound": "lower"}}, "policy"),
            ({"submissions": [{"name": "alice", "taken_from": "raft.c", "sha256": "X"},
                              {"name": "bob", "taken_from": "raft.c", "sha256": "b"}]}, "raft.c (alice changed)")]
        for change, words in changes:
            shutil.rmtree(self.dir)
            os.makedirs(self.dir)
            write_shard(self.dir, Shard(0, 2), batch())
            write_shard(self.dir, Shard(1, 2), batch(**change))
            with self.assertRaises(merge.MergeError) as ctx:
                merge.check(self.shards(), True)
            self.assertIn("different gradings", str(ctx.exception))
            self.assertIn(words, str(ctx.exception))

    def test_the_same_shard_twice_or_other_splits_are_refused(self) -> None:
        a, b = os.path.join(self.dir, "a"), os.path.join(self.dir, "b")
        os.makedirs(a)
        os.makedirs(b)
        write_shard(a, Shard(0, 2), batch())
        write_shard(b, Shard(0, 2), batch())
        with self.assertRaises(merge.MergeError):
            merge.check(self.shards(), True)
        shutil.rmtree(b)
        os.makedirs(b)
        write_shard(b, Shard(1, 3), batch())
        with self.assertRaises(merge.MergeError) as ctx:
            merge.check(self.shards(), True)
        self.assertIn("different splits", str(ctx.exception))

    def test_merged_grades_are_one_machines(self) -> None:
        fail = {Unit("bob", TESTS[2], 1)}
        for i in range(5):
            write_shard(self.dir, Shard(i, 5), batch(), fail=fail)
        subs, runs = merge.combine(self.shards())
        one = os.path.join(self.dir, "one")
        os.makedirs(one)
        whole, = [results.read(write_shard(one, Shard(0, 1), batch(), fail=fail))]
        a = grade.make_grades(batch(), subs, runs, False)
        b = grade.make_grades(batch(), list(whole.subs.values()), list(whole.runs.values()), False)
        self.assertEqual([(g.name, g.score, [(r.stats.passes, [o.seed for o in r.stats.failures]) for r in g.rows])
                          for g in a],
                         [(g.name, g.score, [(r.stats.passes, [o.seed for o in r.stats.failures]) for r in g.rows])
                          for g in b])
        self.assertEqual([g.score for g in a], [15, 10])


class RateTest(unittest.TestCase):
    def test_wilson(self) -> None:
        low, high = stats.wilson(10, 10)
        self.assertAlmostEqual(low, 0.7225, places=3)
        self.assertEqual(high, 1.0)
        low, high = stats.wilson(5, 10)
        self.assertAlmostEqual(low, 0.2366, places=3)
        self.assertAlmostEqual(high, 0.7634, places=3)
        self.assertEqual(stats.wilson(0, 0), (0.0, 1.0))

    def tstats(self, passes: int, runs: int, safety: int = 0) -> stats.TestStats:
        s = stats.TestStats("t")
        for i in range(runs):
            cls: Any = "" if i < passes else ("SAFETY" if i < passes + safety else "LIVENESS")
            s.add(run.Outcome("t", i, i < passes, cls, "", wall_seconds=1))
        return s

    def test_rate_policy_on_the_bounds(self) -> None:
        self.assertEqual(scoring.score(self.tstats(40, 40), 5, "rate", 0.9, "lower"), 5)
        self.assertEqual(scoring.score(self.tstats(38, 40), 5, "rate", 0.9, "lower"), 0)    # 95% [83–99]
        self.assertEqual(scoring.score(self.tstats(9, 10), 5, "rate", 0.9, "upper"), 5)     # [60–98]
        self.assertEqual(scoring.score(self.tstats(6, 10), 5, "rate", 0.9, "upper"), 0)     # [31–83]
        self.assertEqual(scoring.score(self.tstats(39, 40, safety=1), 5, "rate", 0.5, "upper"), 0)

    def test_a_rate_no_run_count_can_reach_is_refused(self) -> None:
        self.assertEqual(scoring.runs_needed(0.9), 35)
        self.assertIn("--runs 35", scoring.check_rule("rate", 10, 0.9, "lower") or "")
        self.assertIsNone(scoring.check_rule("rate", 35, 0.9, "lower"))
        self.assertIsNone(scoring.check_rule("rate", 10, 0.9, "upper"))

    def test_the_report_line_splits_the_classes(self) -> None:
        s = self.tstats(7, 10, safety=1)
        self.assertEqual(s.rate_text(), "70% [40–89]")
        self.assertEqual(s.split_text(("SAFETY",), True), "SAFETY×1")
        self.assertEqual(s.split_text(("LIVENESS", "PERF", "HANG"), True), "LIVENESS×2")


class StarvedTest(unittest.TestCase):
    """The judgement, and that no submission can make its own runs STARVED."""
    starving = starvation.Evidence(probe_delay=0.4, probe_worst=0.2, other_share=0.95, sampled_cpu=0.1, covered=10)

    def test_only_a_timing_failure_with_little_cpu_on_a_starved_machine(self) -> None:
        ev = self.starving
        self.assertTrue(starvation.judge(False, "LIVENESS", 10, 0.2, ev, 2).startswith("STARVED"))
        self.assertTrue(starvation.judge(False, "HANG", 10, 0.2, ev, 2))
        kept: list[tuple[bool, OutcomeClass]] = [(True, ""), (False, "SAFETY"), (False, "CRASH"), (False, "LIMIT"),
                                                 (False, "EXIT"), (False, "RACE"), (False, "GRADER-ERROR")]
        for passed, cls in kept:
            self.assertEqual(starvation.judge(passed, cls, 10, 0.2, ev, 2), "", cls)
        self.assertEqual(starvation.judge(False, "LIVENESS", 10, 3.0, ev, 2), "")   # its own CPU explains it
        hidden = starvation.Evidence(0.4, 0.2, 0.95, sampled_cpu=5.0, covered=10)   # CPU rusage missed
        self.assertEqual(starvation.judge(False, "LIVENESS", 10, 0.2, hidden, 2), "")
        for quiet in (starvation.Evidence(0.02, 0.01, 0.95, 0.1, 10), starvation.Evidence(0.4, 0.2, 0.3, 0.1, 10),
                      starvation.Evidence(0.4, 0.2, 0.95, 0.1, covered=2)):
            self.assertEqual(starvation.judge(False, "LIVENESS", 10, 0.2, quiet, 2), "")

    def test_a_submissions_own_runs_are_never_the_load_that_starves_it(self) -> None:
        m = starvation.Monitor(cores=2)
        # Ten seconds of a saturated machine: 1.8 s of CPU per second from
        # the hostile submission's many quiet runs, 0.1 from someone else.
        for i in range(10):
            m._ticks.append(starvation.Tick(i, i + 1, 1.9, 0.0, {"hostile": 1.8, "other": 0.1}))
            m._windows.append((i, i + 1, 90, 0.4, 0.05))
        own = m._evidence("hostile", 0, 10, 0.1)
        self.assertLess(own.other_share, 0.1)
        self.assertEqual(starvation.judge(False, "LIVENESS", 10, 0.1, own, 2), "")
        # The same load starves another submission's run.
        self.assertTrue(starvation.judge(False, "LIVENESS", 10, 0.1, m._evidence("other", 0, 10, 0.1), 2))
        # A busy run (a quarter of a core or more) starves nobody into a re-run either.
        m._ticks = [starvation.Tick(i, i + 1, 1.9, 1.8, {"other": 0.1}) for i in range(10)]
        self.assertEqual(starvation.judge(False, "LIVENESS", 10, 0.1, m._evidence("other", 0, 10, 0.1), 2), "")

    def test_the_monitor_measures_a_busy_run_from_outside(self) -> None:
        """A real process tree: the CPU of a run's busy grandchild is found
        and counted from outside, whatever the machine's load."""
        m = starvation.Monitor()
        if not m.available:
            self.skipTest("no /proc")
        busy = "import time\nwhile time.process_time() < 2.0: pass"
        m.start()
        try:
            proc = subprocess.Popen([sys.executable, "-c", "import subprocess, sys; subprocess.run([sys.executable, "
                                     f"'-c', {busy!r}])"])
            start = time.monotonic()
            m.register(proc.pid, "busy")
            _, _, usage = os.wait4(proc.pid, 0)
            proc.returncode = 0
            cpu = usage.ru_utime + usage.ru_stime + 0.0
            ev = m.finish(proc.pid, start, time.monotonic(), cpu=cpu)
        finally:
            m.stop()
        self.assertGreater(cpu, 1.9)
        self.assertGreater(ev.sampled_cpu, 0.5)   # samples every second: all but the last second's
        self.assertLessEqual(ev.sampled_cpu, cpu + 0.1)
        self.assertGreater(ev.covered, 1.5)


class RerunTest(unittest.TestCase):
    def test_a_job_the_callback_sends_back_runs_again_and_counts_once(self) -> None:
        d = tempfile.mkdtemp()
        script = os.path.join(d, "t.sh")
        with open(script, "w") as f:
            f.write("#!/bin/sh\necho x >> " + os.path.join(d, "count") + "\nexit 3\n")
        os.chmod(script, 0o755)
        r = run.Runner(script, sandbox=[])
        jobs = [pool.Job(r, "2A/x_y", 1, os.path.join(d, "a.log")), pool.Job(r, "2A/x_y", 2, os.path.join(d, "b.log"))]
        sent: list[int] = []

        def rerun(job: pool.Job, o: run.Outcome) -> bool:
            if job.seed == 1 and not sent:
                sent.append(1)
                return True
            return False
        got, interrupted = pool.run_all(jobs, 2, rerun=rerun)
        self.assertFalse(interrupted)
        self.assertEqual(sorted(j.seed for j, _ in got), [1, 2])
        with open(os.path.join(d, "count")) as f:
            self.assertEqual(len(f.read().split()), 3)


class EmitTest(unittest.TestCase):
    def args(self, *extra: str) -> argparse.Namespace:
        d = tempfile.mkdtemp()
        subs = []
        for name in ("alice", "bob"):
            os.makedirs(os.path.join(d, name))
            with open(os.path.join(d, name, "raft.c"), "w") as f:
                f.write("int x;\n")
            subs.append(os.path.join(d, name))
        with open(os.path.join(d, "carol.c"), "w") as f:
            f.write("int x;\n")
        return grade.parse_args([*subs, os.path.join(d, "carol.c"), "--seed", "5", "--shards", "4", *extra])

    def test_slurm(self) -> None:
        text = emit.emit(self.args("--emit", "slurm", "--partition", "cpu"))
        self.assertIn("#SBATCH --array=0-3", text)
        self.assertIn("#SBATCH --partition=cpu", text)
        self.assertIn("--seed 5", text)
        self.assertIn(" merge ", text)
        self.assertEqual(subprocess.run(["bash", "-n"], input=text, text=True).returncode, 0)

    def test_k8s_is_a_valid_indexed_job(self) -> None:
        text = emit.emit(self.args("--emit", "k8s", "--image", "registry.example/raftlab:1"))
        try:
            yaml: Any = importlib.import_module("yaml")
        except ImportError:
            self.skipTest("python3-yaml is not installed (.ci/run installs it)")
        doc = yaml.safe_load(text)
        self.assertEqual((doc["apiVersion"], doc["kind"]), ("batch/v1", "Job"))
        spec = doc["spec"]
        self.assertEqual((spec["completionMode"], spec["completions"]), ("Indexed", 4))
        container = spec["template"]["spec"]["containers"][0]
        self.assertEqual(container["image"], "registry.example/raftlab:1")
        args = container["args"]
        self.assertEqual(args[args.index("--shard-count") + 1], "4")
        self.assertEqual(args[:3], ["/submissions/alice", "/submissions/bob", "/submissions/carol/raft.c"])
        self.assertEqual(args[args.index("--seed") + 1], "5")
        self.assertIn(spec["template"]["spec"]["restartPolicy"], ("Never", "OnFailure"))

    def test_parallel(self) -> None:
        text = emit.emit(self.args("--emit", "parallel", "--sshlogin", "2/lab1,lab2"))
        self.assertIn("parallel --jobs 1 --sshlogin 2/lab1,lab2 --basefile raftlab-grading.tar.gz", text)
        self.assertIn("--shard {}/4", text)
        self.assertIn("::: $(seq 0 3)", text)
        self.assertEqual(subprocess.run(["bash", "-n"], input=text, text=True).returncode, 0)

    def test_two_submissions_with_one_name_are_refused(self) -> None:
        a = self.args("--emit", "slurm")
        a.submissions = a.submissions + a.submissions[:1]
        with self.assertRaises(emit.EmitError):
            emit.emit(a)


if __name__ == "__main__":
    unittest.main()

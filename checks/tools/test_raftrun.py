"""Tests for raftlab.run, the runner under tools/stress and the grader.

Run from the repository root: make check-tools (PYTHONPATH=tools python3 -m
unittest discover -s checks/tools). Outcomes are classified
from canned outputs; the runner's limits, kill and sandbox are tried on
small shell scripts standing in for a test binary, so nothing here needs
a build or takes more than a few seconds.
"""
from __future__ import annotations

import json
import os
import signal
import shutil
import stat
import subprocess
import tempfile
import textwrap
import threading
import time
import unittest
from typing import Any, Sequence
from unittest import mock

from raftlab.run import catalog, limits, policy, pool, run, sandbox, stats

# What --lab-info prints (harness/harness_info.c), cut down; the tests out of order.
LAB_INFO: dict[str, Any] = {
    "schema": 1,
    "classes": [{"name": name, "meaning": "..."} for name in policy.HARNESS_CLASSES],
    "limits": dict(policy.LIMITS, watch_s=10),
    "parts": [{"name": "2A", "tests": 2, "limit_s": 360}, {"name": "2C", "tests": 2, "limit_s": 360}],
    "tests": ["2C/t06_figure8_unreliable", "2A/t01_initial_election", "2A/t02_reelection", "2C/t04_figure8"],
}
TESTS = ["2A/t01_initial_election", "2A/t02_reelection", "2C/t04_figure8", "2C/t06_figure8_unreliable"]

PASSED = "Test (2A): initial election ...\n  ... Passed --   3.1  3   60     644    0\n"
KEY = "0123456789abcdef"
VERDICT_PASS = f"VERDICT {KEY} raft2A/t01_initial_election PASS\n"
LIMITS = limits.Limits()

# What a stand-in test binary runs to pass: Criterion's runner process writes
# a record keyed with the secret the runner handed it (harness/harness_report.c).
PASS_SH = ('eval "key=\\$(cat <&$LAB_VERDICT_KEY_FD)"\n'
           'echo "VERDICT $key raft$TEST PASS" >>"$LAB_VERDICT_FILE"\n')


class CatalogTest(unittest.TestCase):
    def test_reads_the_binarys_lab_info(self) -> None:
        self.assertEqual(catalog.tests_of(catalog.parse_info(json.dumps(LAB_INFO))), TESTS)
        directory = tempfile.mkdtemp()
        binary = fake_binary(directory, f"[ \"$1\" = --lab-info ] && cat <<'EOF'\n{json.dumps(LAB_INFO)}\nEOF\n")
        self.assertEqual(catalog.list_tests(binary), TESTS)

    def test_a_binary_without_lab_info_is_an_error_that_says_so(self) -> None:
        directory = tempfile.mkdtemp()
        for body, words in (("echo 'usage: criterion'; exit 1\n", "exited with status 1"),
                            ("echo 'raft2A: 2 tests'\n", "did not print JSON"),
                            ("echo '{\"schema\": 2, \"tests\": []}'\n", "not schema 1"),
                            ("echo '{\"schema\": 1, \"tests\": [\"3A/t01\"]}'\n", "'3A/t01' is not a test")):
            with self.assertRaises(catalog.CatalogError) as caught:
                catalog.list_tests(fake_binary(directory, body))
            self.assertIn(words, str(caught.exception))
        with self.assertRaises(catalog.CatalogError):
            catalog.list_tests(os.path.join(directory, "missing"))

    def test_a_binary_whose_policy_differs_is_refused(self) -> None:
        for key, value in (("classes", [{"name": "SAFETY"}]),
                           ("limits", dict(policy.LIMITS, runner_wall_s=999))):
            with self.assertRaises(catalog.CatalogError) as caught:
                catalog.parse_info(json.dumps(dict(LAB_INFO, **{key: value})))
            self.assertIn("raftlab/run/policy.py", str(caught.exception))

    def test_selects_parts_globs_and_words(self) -> None:
        tests = TESTS
        self.assertEqual(catalog.select(tests, patterns=catalog.parse_target("2C")), tests[2:])
        self.assertEqual(catalog.select(tests, patterns=catalog.parse_target("figure8")), tests[2:])
        self.assertEqual(catalog.select(tests, patterns=catalog.parse_target("2C/t04*")), [tests[2]])
        self.assertEqual(catalog.select(tests, patterns=catalog.parse_target("2a,2C/t06_figure8_unreliable")),
                         tests[:2] + [tests[3]])
        self.assertEqual(catalog.select(tests, ["2C"], ["*t04*"]), [tests[2]])   # grade's --parts and --tests

    def test_a_typo_is_an_error_not_an_empty_run(self) -> None:
        tests = TESTS
        with self.assertRaises(catalog.SelectionError):
            catalog.select(tests, patterns=catalog.parse_target("2C/t99*"))
        with self.assertRaises(catalog.SelectionError):
            catalog.select(tests, ["2E"], None)


class ClassifyTest(unittest.TestCase):
    def classify(self, verdicts: str, rc: int = 0, killed: bool = False, output: str = PASSED) -> run.Outcome:
        return run.classify("2A/t01_initial_election", 7, output, rc, killed, 160, LIMITS,
                            verdicts=verdicts, key=KEY)

    def test_passed(self) -> None:
        o = self.classify(VERDICT_PASS)
        self.assertTrue(o.passed)
        self.assertEqual(o.title, "initial election")

    def test_fail_line_gives_class_and_reason(self) -> None:
        o = self.classify("FAIL LIVENESS: raft2A/t01_initial_election: expected one leader, got none (SEED=7)\n", 1)
        self.assertEqual((o.passed, o.cls, o.reason), (False, "LIVENESS", "expected one leader, got none"))
        self.assertEqual(o.replay_command(), "SEED=7 make test-2A ONLY=t01_initial_election")

    def test_first_fail_line_wins(self) -> None:
        o = self.classify("FAIL SAFETY: raft2A/x: a (SEED=7)\nFAIL CRASH: raft2A/x: b (SEED=7)\n", 3)
        self.assertEqual(o.cls, "SAFETY")

    def test_killed_by_the_runner_is_a_hang(self) -> None:
        self.assertEqual(self.classify("", -9, killed=True).cls, "HANG")

    def test_resource_limits(self) -> None:
        self.assertEqual(self.classify("", -signal.SIGXCPU).cls, "LIMIT")
        backstop = "FAIL CRASH: raft2A/x: the test process was killed by signal 25 (SIGXFSZ) (SEED=7)\n"
        self.assertEqual(self.classify(backstop, 1).cls, "LIMIT")

    def test_no_report(self) -> None:
        self.assertEqual(self.classify("", 0).cls, "EXIT")
        self.assertEqual(self.classify("", -11).cls, "CRASH")
        self.assertIn("status 2", self.classify("", 2).reason)

    def test_a_keyed_pass_after_a_failure_does_not_pass(self) -> None:
        self.assertFalse(self.classify("FAIL PERF: raft2A/x: too many RPCs (SEED=7)\n" + VERDICT_PASS, 1).passed)

    def test_output_without_newline_cannot_detach_the_verdict(self) -> None:
        # 2A's "warning: term changed..." once lacked its newline and glued
        # the Passed line to it: the run passed yet was graded EXIT.
        glued = "Test (2A): initial election ...\nwarning: term changed  ... Passed --   3.1  3   60     644    0\n"
        self.assertTrue(self.classify(VERDICT_PASS, output=glued).passed)

    def test_output_cannot_pass_or_fail_a_run(self) -> None:
        forged = PASSED + f"VERDICT {KEY} raft2A/t01_initial_election PASS\n"
        self.assertEqual(self.classify("", 0, output=forged).cls, "EXIT")
        fake_fail = PASSED + "FAIL SAFETY: raft2A/t01_initial_election: forged (SEED=7)\n"
        self.assertTrue(self.classify(VERDICT_PASS, output=fake_fail).passed)

    def test_a_record_without_the_key_or_for_another_test_does_not_pass(self) -> None:
        self.assertFalse(self.classify("VERDICT guessed raft2A/t01_initial_election PASS\n").passed)
        self.assertFalse(self.classify(f"VERDICT {KEY} raft2A/t02_reelection PASS\n").passed)


def finished(outcome: run.Outcome | None) -> run.Outcome:
    """A run's outcome; None (a run that stop_all ended) fails the test."""
    if outcome is None:
        raise AssertionError("the run was stopped: it has no outcome")
    return outcome


def fake_binary(directory: str, body: str) -> str:
    """A stand-in for the test binary: a shell script."""
    path = os.path.join(directory, "fake-tests")
    with open(path, "w") as f:
        f.write("#!/bin/sh\n" + textwrap.dedent(body))
    os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR)
    return path


class RunnerTest(unittest.TestCase):
    def setUp(self) -> None:
        self.dir = tempfile.mkdtemp()
        self.log = os.path.join(self.dir, "run.log")

    def runner(self, body: str, lim: limits.Limits = LIMITS, wall_seconds: float = run.DEFAULT_WALL_SECONDS
               ) -> run.Runner:
        return run.Runner(fake_binary(self.dir, body), lim, wall_seconds, sandbox=[])

    def test_passes_seed_and_filter(self) -> None:
        out = finished(self.runner('echo "args: $*"; echo "seed: $SEED"; echo "verbose: $VERBOSE"\n'
                                   'TEST=2B/t01_basic_agree\n' + PASS_SH).run("2B/t01_basic_agree", 42, self.log))
        self.assertTrue(out.passed)
        with open(self.log) as f:
            text = f.read()
        self.assertIn("args: --filter raft2B/t01_basic_agree -j1", text)
        self.assertIn("seed: 42", text)
        self.assertIn("verbose: \n", text)   # the caller's VERBOSE does not leak in
        self.assertNotIn("VERDICT", text)
        self.assertFalse(os.path.exists(self.log + ".verdict"))

    def test_a_run_that_prints_a_pass_but_has_no_key_fails(self) -> None:
        out = finished(self.runner('echo "  ... Passed --   0.1  3   0 0 0"\n'
                                   'echo "VERDICT x raft2B/t01_basic_agree PASS" >>"$LAB_VERDICT_FILE"\n'
                                   ).run("2B/t01_basic_agree", 42, self.log))
        self.assertEqual(out.cls, "EXIT")

    def test_wall_limit_kills_the_whole_tree(self) -> None:
        marker = os.path.join(self.dir, "grandchild-alive")
        # A grandchild in its own session, as Criterion's test process is.
        r = self.runner(f'setsid sh -c "sleep 3; touch {marker}" &\nsleep 30\n', wall_seconds=1)
        start = time.monotonic()
        out = finished(r.run("2A/t01_initial_election", 1, self.log))
        self.assertLess(time.monotonic() - start, 5)
        self.assertEqual(out.cls, "HANG")
        time.sleep(3)
        self.assertFalse(os.path.exists(marker), "the grandchild outlived the kill")

    def test_cpu_limit(self) -> None:
        r = self.runner("while :; do :; done\n", lim=limits.Limits(cpu_seconds=1))
        out = finished(r.run("2A/x_y", 1, self.log))
        self.assertEqual(out.cls, "LIMIT", f"{out.reason}; {out.cpu_seconds:.2f} s of CPU")
        self.assertIn("CPU", out.reason)

    def test_file_size_limit(self) -> None:
        out = finished(self.runner("exec yes raft\n", lim=limits.Limits(file_size_mb=1)).run("2A/x_y", 1, self.log))
        self.assertEqual(out.cls, "LIMIT")
        self.assertLessEqual(os.path.getsize(self.log), 1 << 20)

    def test_stop_all_ends_runs_and_reports_none(self) -> None:
        r = self.runner("sleep 30\n")
        jobs = [pool.Job(r, "2A/x_y", k, os.path.join(self.dir, f"{k}.log")) for k in range(3)]
        threading.Timer(0.5, r.stop_all).start()
        start = time.monotonic()
        outcomes = [r.run(j.test, j.seed, j.log_path) for j in jobs]
        self.assertLess(time.monotonic() - start, 5)
        self.assertEqual(outcomes, [None, None, None])
        self.assertFalse(any(os.path.exists(j.log_path) for j in jobs), "an interrupted run left its log")

    def test_pool_runs_jobs_in_parallel(self) -> None:
        """Runs overlap: judged from when each began and ended, not from the
        total time, which a loaded machine stretches."""
        spans = os.path.join(self.dir, "spans")
        r = self.runner(f'echo "$SEED begin $(date +%s%N)" >>{spans}\nsleep 1\n'
                        f'echo "$SEED end $(date +%s%N)" >>{spans}\nTEST=2A/x_y\n' + PASS_SH)
        jobs = [pool.Job(r, "2A/x_y", k, os.path.join(self.dir, f"{k}.log")) for k in range(6)]
        results, interrupted = pool.run_all(jobs, 6)
        self.assertFalse(interrupted)
        self.assertEqual(sorted(o.seed for _, o in results), list(range(6)))
        with open(spans) as f:
            marks = sorted((int(t), what == "begin") for _, what, t in (line.split() for line in f))
        in_flight = most = 0
        for _, began in marks:
            in_flight += 1 if began else -1
            most = max(most, in_flight)
        self.assertGreaterEqual(most, 2, "no two runs were ever in flight at once")


class RobustnessTest(unittest.TestCase):
    """The runner never falls over, and limits hold and report as limits."""
    def setUp(self) -> None:
        self.dir = tempfile.mkdtemp()
        self.log = os.path.join(self.dir, "run.log")

    def runner(self, body: str, lim: limits.Limits = LIMITS, wall_seconds: float = run.DEFAULT_WALL_SECONDS
               ) -> run.Runner:
        return run.Runner(fake_binary(self.dir, body), lim, wall_seconds, sandbox=[])

    def test_hard_limits_equal_soft_so_a_run_cannot_raise_them(self) -> None:
        out = finished(self.runner('echo "cpu $(ulimit -St) $(ulimit -Ht)"; '
                                   'ulimit -St unlimited 2>/dev/null || echo refused\n',
                                   lim=limits.Limits(cpu_seconds=7)).run("2A/x_y", 1, self.log))
        with open(self.log) as f:
            text = f.read()
        self.assertIn("cpu 7 7", text)
        self.assertIn("refused", text)
        self.assertFalse(out.passed)

    def test_cpu_limit_of_a_child_is_a_limit_not_a_crash(self) -> None:
        # As Criterion's test process: the busy child is killed at the hard limit, the parent exits 1.
        out = finished(self.runner("sh -c 'while :; do :; done'\nexit 1\n",
                                   lim=limits.Limits(cpu_seconds=2)).run("2A/x_y", 1, self.log))
        self.assertEqual(out.cls, "LIMIT", f"{out.reason}; {out.cpu_seconds:.2f} s of CPU")
        self.assertIn("CPU-time limit (2 s", out.reason)

    def test_a_run_that_deletes_its_log_is_a_grader_error_and_the_pool_goes_on(self) -> None:
        r = self.runner('rm -f "$(readlink /proc/$$/fd/1)"\n')
        other = tempfile.mkdtemp()
        ok = run.Runner(fake_binary(other, 'TEST=2A/x_y\n' + PASS_SH), LIMITS, sandbox=[])
        jobs = [pool.Job(r, "2A/x_y", 1, os.path.join(self.dir, "a.log")),
                pool.Job(ok, "2A/x_y", 2, os.path.join(self.dir, "b.log"))]
        results, interrupted = pool.run_all(jobs, 1)   # one at a time: dash takes fds 0-9 only
        classes = sorted((o.seed, o.cls) for _, o in results)
        self.assertEqual(classes, [(1, "GRADER-ERROR"), (2, "")])

    def test_an_enormous_log_is_read_at_a_flat_cost(self) -> None:
        with open(self.log, "wb") as f:
            f.write(b"Test (2A): initial election ...\n" + b"\n" * (20 << 20))
        start = time.monotonic()
        text = run._read_text(self.log)
        self.assertLess(len(text), 3 << 20)
        self.assertLess(time.monotonic() - start, 2)
        self.assertEqual(run.classify("2A/x_y", 1, text, 1, False, 160, LIMITS).title, "initial election")

    def test_a_sigkill_from_the_kernel_is_the_cpu_limit_whatever_rusage_reads(self) -> None:
        # The kernel charges the CPU limit by clock ticks: among threads that sleep between ticks a busy
        # loop was killed at 4 s when rusage read 2.7 s (issue 13), so the CPU used cannot decide.
        lim = limits.Limits(cpu_seconds=4)
        with open(self.log, "w") as f:
            f.write("x\n")
        for reason in ("the test process was killed by signal 9 (SIGKILL)",       # the harness's runner
                       "the test binary was killed by signal 9 (SIGKILL)"):      # classify, on a -9
            o = run.Outcome("2A/x_y", 1, False, "CRASH", reason, cpu_seconds=2.7)
            run._name_the_limit(o, lim, self.log)
            self.assertEqual(o.cls, "LIMIT")
            self.assertIn("CPU-time limit (4 s of CPU as the kernel counts it; 2.7 s by rusage)", o.reason)
        o = run.Outcome("2A/x_y", 1, False, "CRASH", "the test process was killed by signal 9 (SIGKILL)")
        run._name_the_limit(o, lim, self.log, maybe_oom=True)   # no cgroup, and the machine's OOM killer acted
        self.assertEqual(o.cls, "LIMIT")
        self.assertIn("or, as the machine's OOM killer acted during the run, its memory use", o.reason)
        for reason in ("the test process was killed by signal 15 (SIGTERM)", "the test binary was killed by signal 90"):
            o = run.Outcome("2A/x_y", 1, False, "CRASH", reason)
            run._name_the_limit(o, lim, self.log)
            self.assertEqual(o.cls, "CRASH", reason)   # any other signal stays a crash
        o = run.Outcome("2A/x_y", 1, False, "LIVENESS", "the test process was killed by signal 9 (SIGKILL)")
        run._name_the_limit(o, lim, self.log)
        self.assertEqual(o.cls, "LIVENESS")   # a harness verdict stands

    def test_memory_and_process_limits_are_named(self) -> None:
        lim = limits.Limits(address_space_gb=2, processes=100)
        for reason, words in (("lab_fatal: out of memory (malloc of 99 bytes)", "address-space limit (2 GiB)"),
                              ("pthread_create: Resource temporarily unavailable", "process limit (100")):
            o = run.Outcome("2A/x_y", 1, False, "CRASH", reason)
            run._name_the_limit(o, lim, self.log)
            self.assertEqual(o.cls, "LIMIT")
            self.assertIn(words, o.reason)
        o = run.Outcome("2A/x_y", 1, False, "LIVENESS", "out of memory, they said")
        run._name_the_limit(o, lim, self.log)
        self.assertEqual(o.cls, "LIVENESS")   # a harness verdict stands
        # The crash handler's word that the address space was at its limit (a malloc's NULL
        # dereferenced) names the address-space limit, even when touching the memory cost CPU time.
        with open(self.log, "w") as f:
            f.write("x\n")
        segv = ("SIGSEGV (segmentation fault) at address 0x0 in f (raft.c:3), thread 'tester'; out of memory: "
                "its address space had reached 2015 MiB of its 2048-MiB limit (RLIMIT_AS), so an allocation had failed")
        o = run.Outcome("2A/x_y", 1, False, "CRASH", segv, cpu_seconds=lim.cpu_seconds)
        run._name_the_limit(o, lim, self.log)
        self.assertEqual(o.cls, "LIMIT")
        self.assertTrue(o.reason.startswith("ran out of its address-space limit (2 GiB): SIGSEGV"), o.reason)
        o = run.Outcome("2A/x_y", 1, False, "CRASH", "SIGSEGV (segmentation fault) at address 0x0 in f (raft.c:3)")
        run._name_the_limit(o, lim, self.log)
        self.assertEqual(o.cls, "CRASH")   # a NULL dereference far from any limit stays a crash

    def test_the_first_signal_stops_and_later_ones_are_ignored(self) -> None:
        old = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
        try:
            pool.STOP.clear()
            pool.catch_interrupts()
            for sig in (signal.SIGINT, signal.SIGINT, signal.SIGTERM, signal.SIGINT):
                os.kill(os.getpid(), sig)
                time.sleep(0.05)
            self.assertTrue(pool.STOP.is_set())
            r = self.runner("sleep 30\n")
            start = time.monotonic()
            results, interrupted = pool.run_all([pool.Job(r, "2A/x_y", 1, self.log)], 1)
            self.assertTrue(interrupted)
            self.assertLess(time.monotonic() - start, 5)
        finally:
            pool.STOP.clear()
            signal.signal(signal.SIGINT, old[0])
            signal.signal(signal.SIGTERM, old[1])


class BubblewrapTest(unittest.TestCase):
    """The sandbox of sandbox.py, where bubblewrap works on this machine."""
    box: sandbox.Sandbox

    @classmethod
    def setUpClass(cls) -> None:
        cls.box = sandbox.detect()
        if cls.box.level != "bwrap":
            raise unittest.SkipTest(f"no bubblewrap here: {cls.box.line()}")

    def setUp(self) -> None:
        self.dir = tempfile.mkdtemp(dir="/tmp")
        os.chmod(self.dir, 0o755)
        self.log = os.path.join(self.dir, "run.log")

    def run_in_box(self, body: str, rw_extra: Sequence[sandbox.Bind] = ()) -> tuple[run.Outcome, str]:
        binary = fake_binary(self.dir, body)
        os.chmod(binary, 0o755)
        inside = "/opt/raftlab/raft-tests"

        def wrap(inner: list[str], rw: Sequence[sandbox.Bind] = ()) -> list[str]:
            return self.box.wrap([inside] + inner[1:], ro=[(binary, inside)], rw=list(rw) + list(rw_extra),
                                 as_pid_1=True)
        r = run.Runner(binary, LIMITS, sandbox=wrap)
        out = finished(r.run("2A/x_y", 1, self.log))
        with open(self.log) as f:
            return out, f.read()

    def test_a_run_passes_through_the_verdict_channel_and_sees_nothing_else(self) -> None:
        out, text = self.run_in_box(
            f'echo "uid $(id -u)"; ls {self.dir} /work /root 2>&1 | head -3; cat /proc/net/dev | tail -n +3\n'
            'ps -e -o pid= | wc -l | sed "s/^/procs /"; touch /usr/x 2>/dev/null || echo "usr read-only"\n'
            'unshare -rn true 2>/dev/null || echo "no new namespaces"\n'
            'nsenter -t 1 -n -m true 2>/dev/null || echo "no way out"\n'
            'TEST=2A/x_y\n' + PASS_SH)
        self.assertTrue(out.passed, text)
        if os.geteuid() == 0:
            self.assertIn(f"uid {sandbox.SANDBOX_UID}", text)
        self.assertIn("No such file or directory", text)
        self.assertNotIn("eth", text)
        self.assertIn("usr read-only", text)
        self.assertIn("no new namespaces", text)
        self.assertIn("no way out", text)

    def test_nothing_survives_its_run(self) -> None:
        """Two processes that would outlive the run (one in a session of its
        own) write a marker every 0.1 s to a directory bound into the box;
        the run waits until both have written, so the markers prove the
        writers ran. Once the run is over, the markers removed stay removed:
        the writers died with it."""
        mark = os.path.join(self.dir, "mark")
        os.makedirs(mark)
        os.chmod(mark, 0o777)   # the sandbox's uid (nobody, as root) writes here
        loop = "while :; do date > /mark/{0}; sleep 0.1; done"
        out, text = self.run_in_box(
            f"setsid sh -c '{loop.format('detached')}' </dev/null >/dev/null 2>&1 &\n"
            f"( {loop.format('child')} ) </dev/null >/dev/null 2>&1 &\n"
            "while [ ! -e /mark/detached ] || [ ! -e /mark/child ]; do sleep 0.05; done\n"
            "exit 0\n", rw_extra=[(mark, "/mark")])
        self.assertEqual(sorted(os.listdir(mark)), ["child", "detached"], text)   # both writers ran
        for name in os.listdir(mark):
            os.remove(os.path.join(mark, name))
        time.sleep(2)
        self.assertEqual(os.listdir(mark), [], "a process outlived its sandbox and went on writing")
        left = subprocess.run(["pgrep", "-f", "date > /mark/"], capture_output=True, text=True).stdout
        self.assertEqual(left.strip(), "", "a process outlived its sandbox")


class SandboxTest(unittest.TestCase):
    def test_without_bubblewrap_it_falls_back_and_says_why(self) -> None:
        real_which = shutil.which

        def which(name: str) -> str | None:
            return None if name == "bwrap" else real_which(name)
        with mock.patch.object(shutil, "which", which):   # as sandbox.py sees it
            box = sandbox.detect()
        self.assertIn(box.level, ("unshare-net", "none"))
        self.assertIn("bwrap is not installed", box.line())
        self.assertEqual(box.wrap(["/opt/x", "-o", "/out/y"], ro=[("/real/x", "/opt/x")], rw=[("/real/out", "/out")])
                         [-3:], ["/real/x", "-o", "/real/out/y"])
        self.assertEqual(sandbox.detect(False).line(), "sandbox: NONE (--no-sandbox); only resource limits")

    def test_network_namespace_when_available(self) -> None:
        prefix = limits.sandbox_prefix()
        if not prefix:
            self.skipTest("no network namespaces on this system")
        out = subprocess.run(prefix + ["cat", "/proc/net/dev"], capture_output=True, text=True).stdout
        interfaces = [line.split(":")[0].strip() for line in out.splitlines()[2:]]
        self.assertEqual(interfaces, ["lo"])


class StatsTest(unittest.TestCase):
    def test_table_counts_classes_and_times(self) -> None:
        outcomes = [run.Outcome("2A/a_b", 1, True, wall_seconds=2.0),
                    run.Outcome("2A/a_b", 2, False, "LIVENESS", "x", wall_seconds=4.0),
                    run.Outcome("2A/a_b", 3, False, "LIVENESS", "x", wall_seconds=3.0)]
        (s,) = stats.collect(["2A/a_b"], outcomes)
        self.assertEqual((s.passes, s.runs, s.classes_text()), (1, 3, "LIVENESS×2"))
        self.assertEqual(s.time_text(), "3.0 ± 1.0")
        self.assertIn("1/3", stats.pass_rate_table([s]))


if __name__ == "__main__":
    unittest.main()

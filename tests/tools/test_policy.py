"""The lab's policy (failure classes and limits) has one home, tests/lab_policy.h;
the test binary prints it with --lab-info. This checks that what the Python
tools use agrees with it, so a class or a limit changed on one side only
fails here instead of changing grades quietly.

Builds the reference's test binary first (make raft-bin: nothing to do when
it is up to date), so a stale binary cannot answer.
"""
import json
import os
import subprocess
import sys
import unittest

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
sys.path.insert(0, os.path.join(ROOT, "tools"))
sys.path.insert(0, os.path.join(ROOT, "grading"))

from raftrun import limits, run  # noqa: E402
from gradelib import report  # noqa: E402


def test_binary(raft):
    """The test binary of RAFT (solution or raft), built if out of date."""
    binary = subprocess.run(["make", "-s", "--no-print-directory", "print-raft-bin", f"RAFT={raft}"],
                            cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    subprocess.run(["make", "-s", "--no-print-directory", "raft-bin", f"RAFT={raft}"], cwd=ROOT,
                   check=True, stdout=subprocess.DEVNULL)
    return os.path.join(ROOT, binary)


def lab_info():
    out = subprocess.run([test_binary("solution"), "--lab-info"], capture_output=True, text=True,
                         check=True).stdout
    return json.loads(out)


class PolicyTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.info = lab_info()

    def test_every_harness_class_is_known_to_the_runner(self):
        names = [c["name"] for c in self.info["classes"]]
        self.assertEqual(len(names), 9)
        for name in names:
            self.assertIn(name, run.CLASSES, f"{name} is a class of the harness that tools/raftrun does not know")

    def test_runner_limits_match(self):
        lim = self.info["limits"]
        self.assertEqual(run.DEFAULT_WALL_SECONDS, lim["runner_wall_s"])
        self.assertEqual(limits.DEFAULT_CPU_SECONDS, lim["runner_cpu_s"])
        self.assertEqual(report.LAB_BUDGET_SECONDS, lim["lab_s"])
        # the runner's wall limit is behind every limit of the harness
        self.assertGreater(lim["runner_wall_s"], lim["suite_timeout_s"])
        self.assertGreater(lim["suite_timeout_s"], lim["test_s"] + lim["hang_grace_s"])

    def test_part_limits_follow_the_test_count(self):
        lim = self.info["limits"]
        total = 0
        for part in self.info["parts"]:
            tests = [t for t in self.info["tests"] if t.startswith(part["name"] + "/")]
            self.assertEqual(part["tests"], len(tests))
            self.assertEqual(part["limit_s"], len(tests) * lim["suite_timeout_s"] + lim["part_extra_s"])
            total += len(tests)
        self.assertEqual(total, 28)
        self.assertEqual(len(self.info["tests"]), 28)


class VerdictChannelTest(unittest.TestCase):
    """The runner reads outcomes through the real harness's verdict channel:
    a FAIL line written by the test process (which Criterion starts with no
    inherited descriptor), and the keyed PASS of Criterion's runner process."""

    def run_once(self, raft, test):
        import tempfile
        log = os.path.join(tempfile.mkdtemp(), "run.log")
        runner = run.Runner(test_binary(raft), limits.Limits(isolate_network=False), sandbox=[])
        return runner.run(test, 7, log)

    def test_a_failure_keeps_its_class_and_reason(self):
        out = self.run_once("raft", "2A/t01_initial_election")
        self.assertEqual((out.passed, out.cls), (False, "LIVENESS"), out.reason)
        self.assertIn("expected one leader, got none", out.reason)

    def test_a_pass_is_a_pass(self):
        out = self.run_once("solution", "2A/t01_initial_election")
        self.assertTrue(out.passed, f"{out.cls}: {out.reason}")


if __name__ == "__main__":
    unittest.main()

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


def lab_info():
    binary = subprocess.run(["make", "-s", "--no-print-directory", "print-raft-bin", "RAFT=solution"],
                            cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    path = os.path.join(ROOT, binary)
    subprocess.run(["make", "-s", "--no-print-directory", "raft-bin", "RAFT=solution"], cwd=ROOT,
                   check=True, stdout=subprocess.DEVNULL)
    out = subprocess.run([path, "--lab-info"], capture_output=True, text=True, check=True).stdout
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


if __name__ == "__main__":
    unittest.main()

"""The lab's policy (failure classes and limits) has one home, harness/lab_policy.h;
the test binary prints it with --lab-info. The Python tools keep their copies
in one module, raftlab/run/policy.py: this checks that every one of them
agrees with what the binary prints, so a class or a limit changed on one side
only fails here instead of changing grades quietly.

Builds the reference's test binary first (make raft-bin: nothing to do when
it is up to date), so a stale binary cannot answer.
"""
from __future__ import annotations

import os
import subprocess
import tempfile
import unittest
from typing import Any

from raftlab import grade
from raftlab.run import catalog, limits, policy, run
from raftlab.run.paths import LAB_ROOT as ROOT


def test_binary(raft: str) -> str:
    """The test binary of RAFT (solution or raft), built if out of date."""
    binary = subprocess.run(["make", "-s", "--no-print-directory", "print-raft-bin", f"RAFT={raft}"],
                            cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    subprocess.run(["make", "-s", "--no-print-directory", "raft-bin", f"RAFT={raft}"], cwd=ROOT,
                   check=True, stdout=subprocess.DEVNULL)
    return os.path.join(ROOT, binary)


class PolicyTest(unittest.TestCase):
    info: dict[str, Any]

    @classmethod
    def setUpClass(cls) -> None:
        cls.info = catalog.lab_info(test_binary("solution"))

    def test_the_classes_are_the_harness_classes_in_order(self) -> None:
        names = [c["name"] for c in self.info["classes"]]
        self.assertEqual(len(names), 9)
        self.assertEqual(tuple(names), policy.HARNESS_CLASSES,
                         "harness/lab_policy.h and raftlab/run/policy.py's HarnessClass list different classes")
        for name in policy.RUNNER_CLASSES:
            self.assertNotIn(name, names, f"{name} is the runner's own class: the harness must not use it")

    def test_every_limit_the_python_side_copies_agrees(self) -> None:
        lim = self.info["limits"]
        for key, value in policy.LIMITS.items():
            self.assertIn(key, lim, f"--lab-info has no limit {key}")
            self.assertEqual(value, lim[key],
                             f"{key}: raftlab/run/policy.py says {value}, harness/lab_policy.h {lim[key]}")

    def test_the_tools_use_the_policys_values(self) -> None:
        lim = self.info["limits"]
        self.assertEqual(run.DEFAULT_WALL_SECONDS, lim["runner_wall_s"])
        self.assertEqual(limits.DEFAULT_CPU_SECONDS, lim["runner_cpu_s"])
        self.assertEqual(limits.Limits().cpu_seconds, lim["runner_cpu_s"])
        self.assertEqual(run.Runner("/bin/true", sandbox=[]).wall_seconds, lim["runner_wall_s"])
        grade_help = " ".join(grade.build_parser().format_help().split())
        self.assertIn(f"the harness fails a test at {lim['test_s']})", grade_help)
        # the runner's wall limit is behind every limit of the harness
        self.assertGreater(lim["runner_wall_s"], lim["suite_timeout_s"])
        self.assertGreater(lim["suite_timeout_s"], lim["test_s"] + lim["hang_grace_s"])

    def test_the_parts_are_the_binarys(self) -> None:
        self.assertEqual(tuple(p["name"] for p in self.info["parts"]), policy.PARTS)
        self.assertEqual(set(grade.PART_ORDER), set(policy.PARTS))

    def test_part_limits_follow_the_test_count(self) -> None:
        lim = self.info["limits"]
        total = 0
        for part in self.info["parts"]:
            tests = [t for t in self.info["tests"] if t.startswith(part["name"] + "/")]
            self.assertEqual(part["tests"], len(tests))
            self.assertEqual(part["limit_s"], len(tests) * lim["suite_timeout_s"] + lim["part_extra_s"])
            total += len(tests)
        self.assertEqual(total, policy.ORIGINAL_TESTS + len(policy.EXTRA_TESTS))
        self.assertEqual(len(self.info["tests"]), total)

    def test_the_extra_tests_are_the_binarys(self) -> None:
        """The original 28 and the extras (named x<n>_...) are lab_policy.h's
        and policy.py's alike, and the binary holds exactly those."""
        self.assertEqual(self.info["original_tests"], policy.ORIGINAL_TESTS)
        extras = {e["test"]: e["catches"] for e in self.info["extra_tests"]}
        self.assertEqual(extras, policy.EXTRA_TESTS,
                         "harness/lab_policy.h and raftlab/run/policy.py list different extra tests")
        named_extra = [t for t in self.info["tests"] if t.split("/")[1].startswith("x")]
        self.assertEqual(sorted(named_extra), sorted(extras), "the binary's x<n>_ tests are not the extras")
        originals = [t for t in self.info["tests"] if not policy.is_extra(t)]
        self.assertEqual(len(originals), policy.ORIGINAL_TESTS)
        for test in extras:
            part = test.split("/")[0]
            self.assertGreater(test, max(t for t in originals if t.startswith(part + "/")),
                               f"{test} does not sort after its part's original tests")
            self.assertTrue(os.path.exists(os.path.join(ROOT, "checks", "faulty", extras[test] + ".patch")),
                            f"{test} catches {extras[test]}, which is no case of checks/faulty")

    def test_the_test_list_is_the_binarys(self) -> None:
        tests = catalog.list_tests(test_binary("solution"))
        self.assertEqual(sorted(tests), sorted(self.info["tests"]))
        self.assertEqual(tests[0], "2A/t01_initial_election")
        self.assertEqual(tests, catalog.list_tests(test_binary("raft")), "the skeleton and the reference differ")


class VerdictChannelTest(unittest.TestCase):
    """The runner reads outcomes through the real harness's verdict channel:
    a FAIL line written by the test process (which Criterion starts with no
    inherited descriptor), and the keyed PASS of Criterion's runner process."""

    def run_once(self, raft: str, test: str) -> run.Outcome:
        log = os.path.join(tempfile.mkdtemp(), "run.log")
        runner = run.Runner(test_binary(raft), limits.Limits(isolate_network=False), sandbox=[])
        out = runner.run(test, 7, log)
        assert out is not None
        return out

    def test_a_failure_keeps_its_class_and_reason(self) -> None:
        out = self.run_once("raft", "2A/t01_initial_election")
        self.assertEqual((out.passed, out.cls), (False, "LIVENESS"), out.reason)
        self.assertIn("expected one leader, got none", out.reason)

    def test_a_pass_is_a_pass(self) -> None:
        out = self.run_once("solution", "2A/t01_initial_election")
        self.assertTrue(out.passed, f"{out.cls}: {out.reason}")


if __name__ == "__main__":
    unittest.main()

"""A cgroup per run (raftlab.run.cgroups): its RAM and its tasks bounded,
the limit named when it acts, nothing of the run left when it ends, even
without a sandbox; and a plain fallback where the grader cannot make
cgroups. The tests that need cgroups skip, saying why, where there are none."""
from __future__ import annotations

import os
import subprocess
import tempfile
import unittest

from raftlab.run import cgroups, limits, run

from test_raftrun import fake_binary


class FallbackTest(unittest.TestCase):
    def test_not_wanted_or_unavailable_says_why_in_one_line(self) -> None:
        box, why = cgroups.detect(1024, 64, wanted=False)
        self.assertIsNone(box)
        self.assertEqual(why, "not wanted (--no-cgroups)")
        box, why = cgroups.detect(1024, 64)
        if box is None:
            self.assertTrue(why and "\n" not in why, why)
        else:
            box.close()

    def test_default_ram_shares_three_quarters_of_the_machine(self) -> None:
        self.assertGreaterEqual(cgroups.default_ram_mb(1000), cgroups.MIN_RAM_MB)
        self.assertGreaterEqual(cgroups.default_ram_mb(1), cgroups.default_ram_mb(8))


class WithCgroups(unittest.TestCase):
    """The grader's cgroups for a class of tests (128 MiB and 24 tasks a
    run), or a skip saying why there are none; all gone at the end."""
    box: cgroups.Cgroups

    @classmethod
    def setUpClass(cls) -> None:
        box, why = cgroups.detect(128, 24)
        if box is None:
            raise unittest.SkipTest(f"no cgroups for the grader here: {why}")
        cls.box = box

    @classmethod
    def tearDownClass(cls) -> None:
        cls.box.close()
        for base in cls.box.bases:
            assert not os.path.exists(base), base


class RunCgroupTest(WithCgroups):

    def setUp(self) -> None:
        self.dir = tempfile.mkdtemp()
        self.log = os.path.join(self.dir, "run.log")

    def run_it(self, body: str) -> run.Outcome:
        r = run.Runner(fake_binary(self.dir, body), limits.Limits(), sandbox=[], cgroups=self.box)
        out = r.run("2A/x_y", 1, self.log)
        assert out is not None
        return out

    def test_a_runs_cgroup_has_the_limits_the_grader_says(self) -> None:
        dirs = self.box.make()
        try:
            if self.box.version == 2:
                want = {"memory.max": str(128 << 20), "pids.max": "24"}
                if os.path.exists(os.path.join(dirs[0], "memory.swap.max")):   # swap accounted: none
                    want["memory.swap.max"] = "0"
                found = {name: _read(os.path.join(dirs[0], name)) for name in want}
            else:
                want = {"memory.limit_in_bytes": str(128 << 20), "pids.max": "24"}
                if os.path.exists(os.path.join(dirs[0], "memory.memsw.limit_in_bytes")):   # RAM and swap together
                    want["memory.memsw.limit_in_bytes"] = str(128 << 20)
                found = {name: _read(os.path.join(dirs[1] if name == "pids.max" else dirs[0], name)) for name in want}
            self.assertEqual(found, want)
        finally:
            self.box.finish(dirs)

    def test_touching_more_ram_than_the_limit_is_a_limit_named_so(self) -> None:
        out = self.run_it('exec python3 -c "b = b\'x\' * (512 << 20); print(len(b))"\n')
        self.assertEqual(out.cls, "LIMIT", out.reason)
        self.assertIn("RAM limit (128 MiB, the run's cgroup)", out.reason)

    def test_too_many_tasks_is_a_limit_named_so(self) -> None:
        out = self.run_it("for i in $(seq 60); do sleep 30 & done\nwait\nexit 3\n")
        self.assertEqual(out.cls, "LIMIT", out.reason)
        self.assertIn("limit of 24 threads and processes", out.reason)

    def test_nothing_of_a_run_is_left_even_without_a_sandbox(self) -> None:
        marker = f"raftlab-cgroup-test-{os.getpid()}"
        out = self.run_it(f"setsid sh -c 'sleep 1000; : {marker}' </dev/null >/dev/null 2>&1 &\n"
                          f"until pgrep -f {marker} >/dev/null; do sleep 0.05; done\nexit 1\n")
        self.assertFalse(out.passed)
        left = subprocess.run(["pgrep", "-f", marker], capture_output=True, text=True).stdout.split()
        self.assertEqual(left, [], "a process of the run outlived it")
        self.assertEqual([n for b in self.box.bases for n in os.listdir(b) if n.startswith("run-")], [])


def _read(path: str) -> str:
    with open(path) as f:
        return f.read().strip()


if __name__ == "__main__":
    unittest.main()

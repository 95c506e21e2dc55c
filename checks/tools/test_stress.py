"""tools/stress end to end, in simulation (fast and deterministic): the
skeleton's failing run keeps its log, its replay command and its timeline
page, and the report names all three."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import unittest

from raftlab.run.paths import LAB_ROOT as ROOT


class StressTest(unittest.TestCase):
    def test_a_failing_run_keeps_its_log_replay_and_timeline(self) -> None:
        proc = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "stress"), "2A/t01", "-n", "1",
                               "--raft", "raft", "--sim", "--fresh", "--seed", "5"],
                              cwd=ROOT, capture_output=True, text=True, timeout=600)
        self.assertEqual(proc.returncode, 1, proc.stderr[-2000:])
        out = proc.stdout
        self.assertIn("FAIL LIVENESS: raft2A/t01_initial_election: expected one leader, got none", out)
        self.assertIn("replay: make test-2A SIM=1 SIM_STRATEGY=random SEED=", out)
        log = re.search(r"log: (\S+)", out)
        page = re.search(r"timeline: (\S+)", out)
        assert log is not None and page is not None, out
        for path in (log.group(1), page.group(1)):
            self.assertTrue(os.path.exists(os.path.join(ROOT, path)), path)
        with open(os.path.join(ROOT, page.group(1))) as f:
            self.assertIn("<html", f.read(4096).lower())


if __name__ == "__main__":
    unittest.main()

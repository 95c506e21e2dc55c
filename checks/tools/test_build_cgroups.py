"""Each compile, preprocessing and link of a submission in a cgroup of its
own (raftlab.grading.building with raftlab.run.cgroups): its RAM and its
tasks bounded and named when they act, nothing it started left behind.
The grader's, so not in the handout; skips, saying why, where the grader
can make no cgroups."""
from __future__ import annotations

import os
import subprocess
import tempfile
import unittest

from raftlab.grading import building
from raftlab.run import cgroups, sandbox

from test_cgroups import WithCgroups


class BuildCgroupTest(WithCgroups):
    """Each compile and link gets a cgroup of its own too (grading/building.py)."""
    def setUp(self) -> None:
        self.dir = tempfile.mkdtemp()
        self.log = os.path.join(self.dir, "build.log")
        self.plain = sandbox.Sandbox("none", "a test of the cgroup alone")

    def step(self, script: str) -> tuple[int, str, str]:
        return building.run_sandboxed(self.plain, ["sh", "-c", script], [], [], self.dir, self.log,
                                      timeout=60, groups=self.box)

    def test_a_step_over_the_build_ram_limit_is_stopped_and_named(self) -> None:
        mb = cgroups.BUILD_RAM_MB + 512   # under the build's address space (4 GiB): only the cgroup can stop it
        _, _, stopped = self.step(f'exec python3 -c "b = b\'x\' * ({mb} << 20)"')
        self.assertEqual(stopped, f"used more than the build's RAM limit ({cgroups.BUILD_RAM_MB} MiB, its cgroup)")

    def test_a_step_over_the_build_task_limit_is_stopped_and_named(self) -> None:
        code, _, stopped = self.step(f"for i in $(seq {cgroups.BUILD_TASKS + 20}); do sleep 30 & done; wait; exit 1")
        self.assertNotEqual(code, 0)
        self.assertEqual(stopped, f"reached the build's limit of {cgroups.BUILD_TASKS} processes (its cgroup)")

    def test_nothing_a_step_started_outlives_it(self) -> None:
        marker = f"raftlab-build-cgroup-test-{os.getpid()}"
        code, _, stopped = self.step(f"(setsid sh -c 'sleep 1000; : {marker}' </dev/null >/dev/null 2>&1 &); "
                                     f"until pgrep -f {marker} >/dev/null; do sleep 0.05; done; exit 0")
        self.assertEqual((code, stopped), (0, ""))
        left = subprocess.run(["pgrep", "-f", marker], capture_output=True, text=True).stdout.split()
        self.assertEqual(left, [], "a process the step started outlived it")
        self.assertEqual([n for b in self.box.bases for n in os.listdir(b) if n.startswith("run-")], [])


if __name__ == "__main__":
    unittest.main()

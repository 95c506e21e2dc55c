"""What the grader writes and how it survives failures: the per-submission
cap on kept logs, atomic writes, an earlier grading's files removed first,
and a crash of the grader's own build step becoming that submission's
GRADER-ERROR while the batch goes on."""
from __future__ import annotations

import argparse
import os
import tempfile
import unittest
from typing import Any
from unittest import mock

from raftlab import grade
from raftlab.grading import building, outputs, submission
from raftlab.grading.results import SubRecord
from raftlab.run import run


class LogCapTest(unittest.TestCase):
    def test_failing_logs_are_kept_up_to_the_submissions_cap_and_every_run_log_removed(self) -> None:
        d = tempfile.mkdtemp()
        keeper = outputs.LogKeeper(os.path.join(d, "out"))
        cap, each = 3 << 20, 1 << 20   # a 3-MiB cap; logs of 1 MiB each (kept whole)
        kept_paths, sources = [], []
        with mock.patch.object(outputs, "SUBMISSION_LOG_CAP", cap):
            for k in range(6):
                src = os.path.join(d, f"run{k}.log")
                with open(src, "wb") as f:
                    f.write(b"x" * each)
                sources.append(src)
                o = run.Outcome("2A/t01_x", k, False, "LIVENESS", "no leader", log_path=src)
                keeper.keep_if_failed("alice", o)
                kept_paths.append(o.log_path)
            passed = os.path.join(d, "passed.log")
            with open(passed, "wb") as f:
                f.write(b"ok")
            ok = run.Outcome("2A/t01_x", 9, True, log_path=passed)
            keeper.keep_if_failed("alice", ok)
            other = os.path.join(d, "bob.log")
            with open(other, "wb") as f:
                f.write(b"y" * each)
            o = run.Outcome("2A/t01_x", 1, False, "LIVENESS", "no leader", log_path=other)
            keeper.keep_if_failed("bob", o)   # another submission's cap is its own
        self.assertEqual([bool(p) for p in kept_paths], [True] * 3 + [False] * 3)
        failures = os.path.join(d, "out", "alice", "failures")
        self.assertEqual(sum(os.path.getsize(os.path.join(failures, n)) for n in os.listdir(failures)), cap)
        self.assertTrue(all(not os.path.exists(s) for s in sources + [passed, other]))   # run logs removed
        self.assertEqual(ok.log_path, "")
        self.assertTrue(o.log_path and os.path.exists(o.log_path))

    def test_a_huge_log_is_kept_head_and_tail(self) -> None:
        d = tempfile.mkdtemp()
        src = os.path.join(d, "big.log")
        with open(src, "wb") as f:
            f.write(b"H" * 100 + b"." * (5 << 20) + b"T" * 100)
        written = outputs.copy_capped(src, os.path.join(d, "kept.log"), cap=1 << 10)
        with open(os.path.join(d, "kept.log"), "rb") as f:
            data = f.read()
        self.assertEqual(len(data), written)
        self.assertLess(written, 3 << 10)
        self.assertTrue(data.startswith(b"H" * 100) and data.endswith(b"T" * 100))
        self.assertIn(b"bytes of this log cut by the grader", data)


class AtomicWriteTest(unittest.TestCase):
    def test_a_reader_sees_the_old_file_or_the_new_one_never_a_part(self) -> None:
        d = tempfile.mkdtemp()
        path = os.path.join(d, "results.json")
        outputs.save(path, "old\n")
        seen_at_rename: list[str] = []
        real_replace = os.replace

        def replace(src: Any, dst: Any) -> None:
            with open(dst) as f:
                seen_at_rename.append(f.read())   # the target is still whole, the old one
            with open(src) as f:
                seen_at_rename.append(f.read())   # the new one is complete before it takes its place
            real_replace(src, dst)
        with mock.patch.object(os, "replace", replace):
            outputs.save(path, "new\n" * 1000)
        self.assertEqual(seen_at_rename, ["old\n", "new\n" * 1000])
        self.assertEqual(os.listdir(d), ["results.json"])

    def test_a_failed_write_leaves_the_old_file_and_no_temporary(self) -> None:
        d = tempfile.mkdtemp()
        path = os.path.join(d, "report.txt")
        outputs.save(path, "old\n")
        with mock.patch.object(os, "replace", side_effect=OSError(28, "No space left on device")):
            with self.assertRaises(OSError):
                outputs.save(path, "new\n")
        with open(path) as f:
            self.assertEqual(f.read(), "old\n")
        self.assertEqual(os.listdir(d), ["report.txt"])


class StaleTest(unittest.TestCase):
    def test_an_earlier_gradings_files_are_removed(self) -> None:
        d = tempfile.mkdtemp()
        out, js, csv_path = os.path.join(d, "out"), os.path.join(d, "json"), os.path.join(d, "grades.csv")
        args = argparse.Namespace(out=out, json=js, csv=csv_path, submissions=["alice", "bob"])
        for rel in ("out/alice/report.txt", "out/alice/failures/2A-x-SEED=1.log", "json/alice.json",
                    "out/carol/report.txt", "grades.csv"):
            os.makedirs(os.path.dirname(os.path.join(d, rel)), exist_ok=True)
            with open(os.path.join(d, rel), "w") as f:
                f.write("stale")
        outputs.remove_stale_batch(args)
        outputs.remove_stale(args, "alice")
        self.assertFalse(os.path.exists(csv_path))
        self.assertFalse(os.path.exists(os.path.join(out, "alice")))
        self.assertFalse(os.path.exists(os.path.join(js, "alice.json")))
        self.assertTrue(os.path.exists(os.path.join(out, "carol", "report.txt")))   # not this batch's name


class BuildCrashTest(unittest.TestCase):
    def test_a_crash_in_the_graders_build_step_is_that_submissions_grader_error(self) -> None:
        subs = [submission.Submission("/s/alice", "alice", b"a", "raft.c"),
                submission.Submission("/s/bob", "bob", b"b", "raft.c"),
                submission.Submission("/s/carol", "carol", b"c", "raft.c")]
        records = {s.name: SubRecord(s.name, s.path, s.taken_from) for s in subs}

        def build(box: Any, lab: Any, work: str, name: str, source: bytes, **kw: Any) -> tuple[str, float]:
            if name == "bob":
                raise KeyError("the grader's own bug")
            if name == "carol":
                raise building.Refused(["raft.c calls fork, which a Raft may not use"])
            return f"/bin/{name}", 0.0
        args = argparse.Namespace(sim=False, skip_objcheck=False)
        with mock.patch.object(building, "build", build), mock.patch.object(grade, "log"):
            binaries = grade.build_some(args, mock.Mock(), mock.Mock(), "/w", subs, records)
        self.assertEqual(binaries, {"alice": "/bin/alice"})
        self.assertEqual([records[n].status for n in ("alice", "bob", "carol")], ["OK", "GRADER-ERROR", "REFUSED"])
        self.assertIn("building it failed in the grader: KeyError", records["bob"].detail)


if __name__ == "__main__":
    unittest.main()

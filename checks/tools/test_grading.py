"""Tests for raftlab.grading: taking raft.c from a submission, points and
policy, the Gradescope document and its checker, the CSV. The whole grader
against real implementations is checks/check_grading.py (make check-grading).
"""
from __future__ import annotations

import csv
import io
import os
import re
import tarfile
import tempfile
import unittest
import zipfile

from raftlab.grading import building, gradescope, outputs, report, scoring, submission
from raftlab.run import policy as lab_policy
from raftlab.run import run, stats
from raftlab.run.paths import LAB_ROOT as ROOT
from raftlab.run.policy import OutcomeClass

TESTS = ["2A/t01_initial_election", "2A/t02_reelection", "2B/t01_basic_agree"]


def write(path: str, data: bytes = b"int x;\n") -> str:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    return path


class SubmissionTest(unittest.TestCase):
    def setUp(self) -> None:
        self.dir = tempfile.mkdtemp()

    def test_a_file_a_tree_or_a_flat_directory(self) -> None:
        f = write(os.path.join(self.dir, "alice", "raft.c"), b"alice")
        self.assertEqual((submission.load(f).name, submission.load(f).source), ("alice", b"alice"))
        write(os.path.join(self.dir, "bob", "raft", "raft.c"), b"bob")
        write(os.path.join(self.dir, "bob", "raft.c"), b"decoy")
        sub = submission.load(os.path.join(self.dir, "bob"))
        self.assertEqual((sub.name, sub.source, sub.taken_from), ("bob", b"bob", "raft/raft.c"))
        self.assertEqual(submission.load(os.path.join(self.dir, "bob", "raft", "raft.c")).name, "bob")

    def test_tarball_takes_only_the_shallowest_raft_c(self) -> None:
        path = os.path.join(self.dir, "carol.tar.gz")
        with tarfile.open(path, "w:gz") as t:
            for name, data in (("carol/raft/raft.c", b"mine"), ("carol/old/raft/raft.c", b"old"),
                               ("carol/tests/test_2a.c", b"cheat"), ("../../etc/evil", b"x")):
                info = tarfile.TarInfo(name)
                info.size = len(data)
                t.addfile(info, io.BytesIO(data))
        sub = submission.load(path)
        self.assertEqual((sub.name, sub.source, sub.taken_from), ("carol", b"mine", "carol/raft/raft.c"))
        self.assertFalse(os.path.exists(os.path.join(self.dir, "..", "..", "etc", "evil")))

    def test_links_in_archives_are_not_followed(self) -> None:
        path = os.path.join(self.dir, "dave.tar")
        with tarfile.open(path, "w") as t:
            info = tarfile.TarInfo("raft/raft.c")
            info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
            t.addfile(info)
        with self.assertRaises(submission.SubmissionError):
            submission.load(path)

    def test_a_link_anywhere_on_the_path_is_refused(self) -> None:
        secret = write(os.path.join(self.dir, "solution", "raft.c"), b"the reference")
        real = write(os.path.join(self.dir, "real", "bob", "raft.c"), b"bob")
        os.symlink(os.path.dirname(secret), os.path.join(self.dir, "alice"))   # alice -> solution/
        os.symlink(os.path.join(self.dir, "real"), os.path.join(self.dir, "home"))   # home -> real/
        for given, what in ((os.path.join(self.dir, "alice"), "the submission is a symbolic link"),
                            (os.path.join(self.dir, "alice") + "/", "the submission is a symbolic link"),
                            (os.path.join(self.dir, "alice", "raft.c"), "a directory on the way"),
                            (os.path.join(self.dir, "home", "bob"), "a directory on the way"),
                            (os.path.join(self.dir, "home", "bob", "raft.c"), "a directory on the way")):
            with self.assertRaises(submission.SubmissionError, msg=given) as ctx:
                submission.load(given)
            self.assertIn("not a regular file", str(ctx.exception))
            self.assertIn(what, str(ctx.exception))
            self.assertNotIn("\n", str(ctx.exception))
        self.assertEqual(submission.load(os.path.dirname(real)).source, b"bob")   # the real path is fine
        relative = os.path.relpath(os.path.join(self.dir, "home", "bob"))
        with self.assertRaises(submission.SubmissionError):
            submission.load(relative)

    def test_a_hard_link_is_refused(self) -> None:
        secret = write(os.path.join(self.dir, "solution", "raft.c"), b"the reference")
        for name in ("frank/raft.c", "grace/raft/raft.c"):
            os.makedirs(os.path.dirname(os.path.join(self.dir, name)), exist_ok=True)
            os.link(secret, os.path.join(self.dir, name))
            with self.assertRaises(submission.SubmissionError) as ctx:
                submission.load(os.path.join(self.dir, name.split("/")[0]))
            self.assertIn("not a regular file", str(ctx.exception))
            self.assertIn("hard links", str(ctx.exception))
        with self.assertRaises(submission.SubmissionError):
            submission.load(os.path.join(self.dir, "frank", "raft.c"))   # a bare raft.c too
        path = os.path.join(self.dir, "heidi.tar")
        with tarfile.open(path, "w") as t:
            t.add(secret, "heidi/raft/raft.c")
        os.link(path, os.path.join(self.dir, "ivan.tar"))
        with self.assertRaises(submission.SubmissionError):
            submission.load(path)   # an archive with two names is refused as well

    def test_zip(self) -> None:
        path = os.path.join(self.dir, "erin.zip")
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("erin-lab/raft/raft.c", b"zipped")
        self.assertEqual(submission.load(path).source, b"zipped")

    def test_errors_say_what_is_missing(self) -> None:
        os.makedirs(os.path.join(self.dir, "empty"))
        for bad in (os.path.join(self.dir, "empty"), os.path.join(self.dir, "nothing"),
                    write(os.path.join(self.dir, "notes.txt")), write(os.path.join(self.dir, "x.tar.gz"), b"junk")):
            with self.assertRaises(submission.SubmissionError) as ctx:
                submission.load(bad)
            self.assertIn(bad, str(ctx.exception))

    def test_names_are_unique_and_safe(self) -> None:
        subs = [submission.Submission("a", "x y"), submission.Submission("b", "x y")]
        for s in subs:
            s.name = submission.base_name(s.name + "/raft.c")
        submission.unique_names(subs)
        self.assertEqual([s.name for s in subs], ["x_y", "x_y-2"])


class RedactTest(unittest.TestCase):
    def test_what_the_compiler_quotes_of_a_forbidden_file_is_withheld(self) -> None:
        log = ("In file included from /src/raft.c:1:\n"
               "/etc/shadow:1:5: error: expected identifier before ':' token\n"
               "    1 | root:$6$secret:19000:0:99999:7:::\n"
               "      |     ^\n"
               "/etc/shadow:2:1: error: unknown type name 'daemon'\n"
               "    2 | daemon:*:19000:0:99999:7:::\n"
               "/src/raft.c:3:1: error: expected ';'\n"
               "    3 | int x\n")
        out = building.redact(log, ["/src/raft.c", "/lab/"])
        self.assertNotIn("secret", out)
        self.assertNotIn("daemon", out)
        self.assertIn("[a diagnostic in /etc/shadow, a file a submission may not include, withheld]", out)
        self.assertIn("/src/raft.c:3:1: error: expected ';'\n    3 | int x", out)


def stats_of(test: str, *outcomes: tuple[bool, OutcomeClass]) -> stats.TestStats:
    s = stats.TestStats(test)
    for passed, cls in outcomes:
        s.add(run.Outcome(test, 1, passed, cls, "why", wall_seconds=1.0))
    return s


class ScoringTest(unittest.TestCase):
    def test_all_or_nothing(self) -> None:
        self.assertEqual(scoring.score(stats_of("t", (True, ""), (True, "")), 5, "all-or-nothing"), 5)
        self.assertEqual(scoring.score(stats_of("t", (True, ""), (False, "LIVENESS")), 5, "all-or-nothing"), 0)

    def test_proportional(self) -> None:
        s = stats_of("t", (True, ""), (True, ""), (True, ""), (False, "LIVENESS"))
        self.assertEqual(scoring.score(s, 4, "proportional"), 3)

    def test_a_safety_failure_scores_zero_under_every_policy(self) -> None:
        passed: tuple[bool, OutcomeClass] = (True, "")
        runs = [passed] * 9 + [(False, "SAFETY")]
        s = stats_of("t", *runs)
        for policy in scoring.POLICIES:
            self.assertEqual(scoring.score(s, 10, policy), 0)

    def test_no_runs_no_points(self) -> None:
        self.assertEqual(scoring.score(stats.TestStats("t"), 5, "proportional"), 0)

    def test_points_file(self) -> None:
        d = tempfile.mkdtemp()
        good = write(os.path.join(d, "p.json"), b'{"_comment": "x", "2A/t01_initial_election": 5}')
        points, warnings = scoring.load_points(good, TESTS)
        self.assertEqual(points["2A/t01_initial_election"], 5)
        self.assertEqual(len(warnings), 2)   # the two tests it leaves out
        for bad in (b'{"2A/t01_initial_electoin": 5}', b'{"2A/t02_reelection": "5"}', b"{"):
            with self.assertRaises(scoring.PointsError):
                scoring.load_points(write(os.path.join(d, "bad.json"), bad), TESTS)

    def test_shipped_points_cover_every_test(self) -> None:
        """points.json names exactly the tests of tests/test_2*.c (the original
        28) and of tests/test_extra.c (raftlab's extras), 100 in all; every
        extra is worth points, as the README's Grading section says."""
        tests: list[str] = []
        for name in ("test_2a.c", "test_2b.c", "test_2c.c", "test_2d.c", "test_extra.c"):
            with open(os.path.join(ROOT, "tests", name)) as f:
                tests += [f"{m[0]}/{m[1]}" for m in re.findall(r"^Test\(raft(2[A-D]),\s*(\w+)", f.read(), re.M)]
        self.assertEqual(len(tests), lab_policy.ORIGINAL_TESTS + len(lab_policy.EXTRA_TESTS))
        self.assertEqual(sorted(t for t in tests if lab_policy.is_extra(t)), sorted(lab_policy.EXTRA_TESTS))
        points, warnings = scoring.load_points(os.path.join(ROOT, "grading", "points.json"), tests)
        self.assertEqual((sum(points.values()), warnings), (100, []))
        self.assertTrue(all(points[t] > 0 for t in lab_policy.EXTRA_TESTS))


def graded() -> report.Grade:
    g = report.Grade("alice", "alice/raft.c")
    g.rows = [report.TestRow(TESTS[0], 5, 5, stats_of(TESTS[0], (True, ""))),
              report.TestRow(TESTS[1], 5, 0, stats_of(TESTS[1], (True, ""), (False, "LIVENESS")))]
    g.wall_seconds = 12.5
    return g


class GradescopeTest(unittest.TestCase):
    def test_results_pass_the_schema_check(self) -> None:
        doc = gradescope.results(graded(), "policy")
        self.assertEqual(gradescope.problems(doc), [])
        self.assertEqual((doc["score"], doc["tests"][1]["status"]), (5, "failed"))
        self.assertIn("LIVENESS×1", doc["tests"][1]["output"])

    def test_the_check_catches_what_gradescope_rejects(self) -> None:
        self.assertTrue(gradescope.problems([]))
        for bad in ({"score": "5"}, {"tests": [{"name": "x"}]}, {"score": 1, "visibility": "public"},
                    {"score": 1, "tests": [{"score": 6, "max_score": 5}]}, {"score": 1, "colour": "x"},
                    {"score": 1, "tests": [{"score": 1, "status": "ok"}]}, {"score": True}):
            self.assertTrue(gradescope.problems(bad), bad)


class ReportTest(unittest.TestCase):
    def test_budget_flag_and_csv(self) -> None:
        g = graded()
        self.assertFalse(g.over_budget())
        g.rows[0].stats.wall = [700.0]
        self.assertTrue(g.over_budget())
        self.assertIn("OVER", g.summary_text("p"))
        path = os.path.join(tempfile.mkdtemp(), "g.csv")
        outputs.write_csv(path, [g])
        with open(path) as f:
            (row,) = list(csv.DictReader(f))
        self.assertEqual((row["score"], row["2A"], row["over_budget"], row["failed_runs"]), ("5", "5", "yes", "1"))


if __name__ == "__main__":
    unittest.main()

"""Untrusted text on its way to a terminal or a report: raftlab.run.untrusted,
and every sink of the grader that uses it (the report on stdout and in
report.txt, results.json, the CSV, refused.txt and build.log, the log
lines on stderr, the progress lines)."""
from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import os
import tempfile
import unittest

from raftlab import grade
from raftlab.grading import outputs, report
from raftlab.run import progress, run, stats
from raftlab.run.untrusted import printable

HOSTILE = "\x1b]0;owned\x07\x1b[2J\x1b[H\rALL TESTS PASSED 100/100 \x9b31m\x7f\x00"
SHOWN = "\\x1b]0;owned\\x07\\x1b[2J\\x1b[H\\x0dALL TESTS PASSED 100/100 \\x9b31m\\x7f\\x00"


def raw_controls(text: str) -> list[str]:
    return [c for c in text if (ord(c) < 32 and c not in "\n\t") or 0x7f <= ord(c) <= 0x9f]


class PrintableTest(unittest.TestCase):
    def test_controls_are_escaped_visibly_and_the_rest_kept(self) -> None:
        self.assertEqual(printable(HOSTILE), SHOWN)
        self.assertEqual(printable("a\tb\nc é € ✓ \ufffd"), "a\tb\nc é € ✓ \ufffd")

    def test_every_sink_of_the_grader(self) -> None:
        d = tempfile.mkdtemp()
        args = argparse.Namespace(out=os.path.join(d, "out"), json=os.path.join(d, "j.json"), csv=None,
                                  submissions=["x"])
        g = report.Grade("evil", "/subs/evil" + HOSTILE, taken_from="raft.c")
        g.status, g.detail = "BUILD-ERROR", "raft.c:1:2: error: #error " + HOSTILE
        failed = run.Outcome("2A/t01_x", 7, False, "CRASH", "SIGSEGV in thread '" + HOSTILE + "'")
        g.rows = [report.TestRow("2A/t01_x", 5, 0, stats.collect(["2A/t01_x"], [failed])[0])]
        stdout = io.StringIO()
        with contextlib.redirect_stdout(stdout):
            outputs.write_all(g, "policy", args)
        outputs.save(os.path.join(d, "out", "evil", "build.log"), "gcc said: " + HOSTILE)
        outputs.write_csv(os.path.join(d, "grades.csv"), [g])
        written = {"stdout": stdout.getvalue()}
        for name in ("out/evil/report.txt", "out/evil/results.json", "out/evil/build.log", "j.json", "grades.csv"):
            with open(os.path.join(d, name), newline="") as f:
                written[name] = f.read()
        for where, text in written.items():
            self.assertEqual(raw_controls(text.replace("\r\n", "\n")), [], where)
        self.assertIn(SHOWN, written["stdout"])
        self.assertIn(SHOWN, written["out/evil/build.log"])
        with open(os.path.join(d, "out/evil/results.json")) as f:
            self.assertIn(SHOWN, json.load(f)["output"])   # the document's strings, once decoded
        with open(os.path.join(d, "grades.csv"), newline="") as f:
            rows = list(csv.DictReader(f))
        self.assertEqual(len(rows), 1)   # CSV's own CR-LF kept

        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            grade.log("grade: evil: BUILD-ERROR\n" + HOSTILE)
        self.assertEqual(raw_controls(err.getvalue()), [])
        self.assertIn(SHOWN, err.getvalue())
        lines = io.StringIO()
        p = progress.Progress(1, stream=lines)
        p.advance(failed, label="evil")
        self.assertEqual(raw_controls(lines.getvalue()), [])


if __name__ == "__main__":
    unittest.main()

"""The grader's timeline pages (tools/raftlab/grading/timelines.py): what a
run leaves in its trace directory is read with care, checked, and embedded
so that no string of it can become HTML or script."""
from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import tempfile
import unittest
from typing import Any

from raftlab.grading import timelines
from raftlab.grading.outputs import LogKeeper
from raftlab.run.run import Outcome

EVIL = '</script><script>window.pwned=1</script><!--<img src=x onerror=alert(1)>&amp;\u2028'


def trace(**over: Any) -> dict[str, Any]:
    """A small trace as the harness writes it, hostile strings everywhere a run controls."""
    doc: dict[str, Any] = {
        "format": 1, "test": "raft2A/t01_initial_election", "seed": "1", "replay": "", "verdict": "PASS",
        "failClass": None, "reason": EVIL, "endAt": 5000000, "dropped": 0,
        "kinds": ["network", "check", "test"], "fates": ["replied", "request_dropped"],
        "names": ["Raft." + EVIL, "VOTE" + EVIL],
        "calls": [[0, 1, 0, 1000, 10, 20, 30, 40, 50, 0, 3]],
        "logs": [[2000, 0, 1, 0, EVIL], [2500, 1, 1, 1, "mark " + EVIL], [2600, -1, 1, 0, None]],
        "events": [[0, 0, -1, 0, None, 0, 3], [1, 100, -1, 0, "one leader " + EVIL, -1, -1, 1], [2, 0, -1, 0, EVIL]],
        "source": "log", "ownPage": EVIL,
    }
    doc.update(over)
    return doc


def failing() -> Outcome:
    return Outcome(test="2A/t01_initial_election", seed=1, passed=False, cls="LIVENESS",
                   reason="expected one leader, got none", log_path="")


class ReadTrace(unittest.TestCase):
    def setUp(self) -> None:
        self.dir = tempfile.mkdtemp()
        self.names = timelines.file_names(failing())
        self.path = os.path.join(self.dir, self.names[0])

    def tearDown(self) -> None:
        timelines.remove(self.dir)

    def test_none_when_the_run_left_none(self) -> None:
        self.assertIsNone(timelines.read_trace(self.dir, self.names))
        self.assertIsNone(timelines.read_trace(os.path.join(self.dir, "absent"), self.names))

    def test_the_expected_name_only(self) -> None:
        with open(os.path.join(self.dir, "other.json"), "w") as f:
            f.write("{}")
        self.assertIsNone(timelines.read_trace(self.dir, self.names))
        with open(os.path.join(self.dir, self.names[1]), "wb") as f:
            f.write(b"{}")
        self.assertEqual(timelines.read_trace(self.dir, self.names), b"{}")

    def test_a_symbolic_link_is_not_followed(self) -> None:
        os.symlink("/etc/passwd", self.path)
        with self.assertRaisesRegex(timelines.TraceError, "symbolic link"):
            timelines.read_trace(self.dir, self.names)

    def test_a_linked_directory_is_not_followed(self) -> None:
        inner = os.path.join(self.dir, "inner")
        os.symlink("/etc", inner)
        with self.assertRaisesRegex(timelines.TraceError, "not followed"):
            timelines.read_trace(inner, self.names)

    def test_a_fifo_does_not_block(self) -> None:
        os.mkfifo(self.path)
        with self.assertRaisesRegex(timelines.TraceError, "not a regular file"):
            timelines.read_trace(self.dir, self.names)

    def test_a_directory_in_its_place(self) -> None:
        os.mkdir(self.path)
        with self.assertRaisesRegex(timelines.TraceError, "not a regular file"):
            timelines.read_trace(self.dir, self.names)

    def test_a_hard_link_is_refused(self) -> None:
        other = os.path.join(self.dir, "x")
        with open(other, "w") as f:
            f.write("{}")
        os.link(other, self.path)
        with self.assertRaisesRegex(timelines.TraceError, "2 links"):
            timelines.read_trace(self.dir, self.names)

    def test_over_the_cap_is_not_read(self) -> None:
        with open(self.path, "wb") as f:
            f.truncate(2048)
        with self.assertRaisesRegex(timelines.TraceError, r"over the grader's 0 MiB cap"):
            timelines.read_trace(self.dir, self.names, cap=1024)

    def test_remove_whatever_the_run_did(self) -> None:
        os.mkdir(os.path.join(self.dir, "sub"))
        with open(os.path.join(self.dir, "sub", "f"), "w") as f:
            f.write("x")
        os.chmod(os.path.join(self.dir, "sub"), 0)
        os.chmod(self.dir, 0o500)
        timelines.remove(self.dir)
        self.assertFalse(os.path.lexists(self.dir))


class Check(unittest.TestCase):
    def test_hostile_strings_are_data(self) -> None:
        data = timelines.check(json.dumps(trace()).encode())
        self.assertEqual(data["logs"][0][4], EVIL)
        self.assertNotIn("source", data)   # only what the page reads of a run
        self.assertNotIn("ownPage", data)

    def test_malformed_is_one_line(self) -> None:
        bad = [b"\xff\xfe", b"[1", b'{"format": 2}', json.dumps(trace(names=[1])).encode(),
               json.dumps(trace(calls=[[0, 1, 0]])).encode(), json.dumps(trace(calls=[[99] + [0] * 10])).encode(),
               json.dumps(trace(logs=[[0, 0, 0, 0, {"x": 1}]])).encode(),
               json.dumps(trace(events=[[7, 0, -1, 0]])).encode(),
               json.dumps(trace(events=[[0, 0, -1, 0, None, 0, 1 << 20]])).encode(),
               json.dumps(trace(endAt=True)).encode(), json.dumps(trace(endAt=1 << 60)).encode(),
               b'{"format": 1, "endAt": NaN}', b"[" * 100000 + b"]" * 100000]
        for raw in bad:
            with self.assertRaises(timelines.TraceError) as ctx:
                timelines.check(raw)
            self.assertNotIn("\n", str(ctx.exception))


class Page(unittest.TestCase):
    def test_no_string_leaves_its_script_element(self) -> None:
        text = timelines.page(timelines.check(json.dumps(trace()).encode()), failing())
        start = text.index('<script type="application/json" id="timeline-data">')
        end = text.index("</script>", start)
        body = text[text.index(">", start) + 1:end]
        for bad in ("<", ">", "&", "\u2028"):
            self.assertNotIn(bad, body)
        doc = json.loads(body)
        self.assertEqual(doc["logs"][0][4], EVIL)
        # The grader's verdict, not the run's; its note; none of the run's other claims.
        self.assertEqual((doc["verdict"], doc["failClass"], doc["reason"]),
                         ("FAIL", "LIVENESS", "expected one leader, got none"))
        self.assertIn("graderNote", doc)
        self.assertNotIn("source", doc)
        # Two script elements: the data and the template's; the policy runs only the latter.
        self.assertEqual(len(re.findall(r"<script\b", text)), 2)
        script = text[text.index("<script>", end) + len("<script>"):text.rindex("</script>")]
        digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
        self.assertIn(f"script-src 'sha256-{digest}'", text[:text.index("</head>")])
        self.assertIn("default-src 'none'", text[:text.index("</head>")])


class Keeper(unittest.TestCase):
    def test_pages_beside_logs_and_notes(self) -> None:
        with tempfile.TemporaryDirectory() as d:
            keeper = LogKeeper(os.path.join(d, "out"), pages=True)
            notes = []
            for k, content in enumerate((json.dumps(trace()).encode(), b"not json", None)):
                log = os.path.join(d, f"run{k}.log")
                with open(log, "w") as f:
                    f.write("FAIL\n")
                o = failing()
                o.seed, o.log_path = k, log
                tdir = timelines.trace_dir(log)
                timelines.prepare(tdir, -1)
                if content is not None:
                    with open(os.path.join(tdir, timelines.file_names(o)[0]), "wb") as f:
                        f.write(content)
                keeper.keep_if_failed("alice", o)
                self.assertFalse(os.path.exists(tdir), "the trace directory is removed")
                notes.append((o.timeline, o.timeline_note))
            self.assertTrue(notes[0][0].endswith("out/alice/failures/2A-t01_initial_election-SEED=0.html"))
            self.assertTrue(os.path.isfile(notes[0][0]))
            self.assertRegex(notes[1][1], r"^not kept: its trace data is not valid JSON")
            self.assertRegex(notes[2][1], r"^none: the run left no trace data")

    def test_a_cap_per_submission(self) -> None:
        with tempfile.TemporaryDirectory() as d:
            keeper = timelines.PageKeeper()
            keeper.kept["alice"] = timelines.SUBMISSION_PAGE_CAP
            o = failing()
            os.mkdir(os.path.join(d, "t"))
            with open(os.path.join(d, "t", timelines.file_names(o)[0]), "w") as f:
                json.dump(trace(), f)
            keeper.keep("alice", o, os.path.join(d, "t"), os.path.join(d, "out"))
            self.assertEqual(o.timeline, "")
            self.assertIn("MiB of timeline pages is used up", o.timeline_note)


if __name__ == "__main__":
    unittest.main()

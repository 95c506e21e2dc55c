"""Tests for tools/raftlog, the debug-log pretty-printer (raftlab.raftlog).

Run from the repository root: make check-tools (PYTHONPATH=tools python3 -m
unittest discover -s tests/tools). The logic is tested in-process, on the
module; what only a real process shows (stdin, pipes, signals, exit codes) is
tested through subprocess, on the command tools/raftlog itself. sample.log is a real VERBOSE=1 capture of
raft2A/t01_initial_election against the reference solution.
"""
from __future__ import annotations

import os
import re
import select
import signal
import subprocess
import sys
import tempfile
import unittest
from typing import Any, Iterable

from raftlab import raftlog

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, "..", "..", "tools", "raftlog")
SAMPLE = os.path.join(HERE, "sample.log")
ESCAPE = "\x1b["


def render(lines: Iterable[str], **options: Any) -> list[str]:
    """All output lines for the given input lines, through one Printer."""
    options.setdefault("width", 100)
    printer = raftlog.Printer(**options)
    out: list[str] = []
    for line in lines:
        out.extend(printer.render(line + "\n"))
    return out


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    # Without PYTHONUNBUFFERED, which would hide a missing flush in the script.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    env.update(extra or {})
    return env


def run(args: list[str], stdin_text: str | None = None, env: dict[str, str] | None = None,
        timeout: float = 10) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, SCRIPT] + args, input=stdin_text,
                          capture_output=True, text=True, env=child_env(env), timeout=timeout)


def parsed(line: str) -> raftlog.Entry:
    """The Entry of a line that must be DPRINTF's."""
    entry = raftlog.parse_line(line)
    if entry is None:
        raise AssertionError(f"not a DPRINTF line: {line!r}")
    return entry


def offset(line: str) -> int:
    """Column at which the text of an output line starts, after the timestamp."""
    return len(line) - len(line[7:].lstrip(" "))


class ParseTest(unittest.TestCase):
    def test_dprintf_line(self) -> None:
        e = parsed("001234 VOTE    S2 granting vote to S0 in term 3")
        self.assertEqual(e, raftlog.Entry("001234", "VOTE", 2, "granting vote to S0 in term 3"))

    def test_whole_test_line_has_server_minus_one(self) -> None:
        e = parsed("000591 TEST    S* check_terms: term 1")
        self.assertEqual((e.topic, e.server, e.message), ("TEST", -1, "check_terms: term 1"))
        # logs written before the harness printed S* for the whole test
        self.assertEqual(parsed("000591 TEST    S-1 check_terms: term 1").server, -1)

    def test_timestamp_longer_than_six_digits(self) -> None:
        # Catches a pattern that assumes exactly six digits (after 16 minutes).
        e = parsed("12345678 APPEND  S4 sent 3 entries")
        self.assertEqual((e.time, e.server), ("12345678", 4))

    def test_topic_longer_than_padding_and_empty_message(self) -> None:
        e = parsed("000010 SNAPSHOTTING S1")
        self.assertEqual((e.topic, e.server, e.message), ("SNAPSHOTTING", 1, ""))

    def test_other_lines_are_not_dprintf(self) -> None:
        for line in ["Test (2A): initial election ...",
                     "  ... Passed --   3.1  3   41     439    0",
                     "FAIL LIVENESS: raft2A/t01_initial_election: expected one leader (SEED=1)",
                     "[====] Synthesis: Tested: 1 | Passing: 1",
                     "12 VOTE S1 too few digits for a timestamp",
                     "cc -O2 -c raft/raft.c"]:
            self.assertIsNone(raftlog.parse_line(line), line)


class LayoutTest(unittest.TestCase):
    def test_each_server_in_its_own_column(self) -> None:
        out = render(["000001 VOTE    S%d hello" % s for s in range(3)], columns=3)
        header, lines = out[0], out[1:]
        self.assertEqual(header.split(), ["S0", "S1", "S2"])
        # width 100 - 7 for the time = 93, three columns of 31.
        self.assertEqual([offset(line) for line in lines], [7, 38, 69])
        for line in lines:
            self.assertTrue(line.startswith("000001 "))
            self.assertTrue(line.endswith("VOTE   hello"))

    def test_long_message_wraps_within_its_column(self) -> None:
        words = " ".join("word%d" % i for i in range(40))
        out = render(["000002 LOG     S1 " + words], columns=3)[1:]
        self.assertGreater(len(out), 3)
        for line in out:
            self.assertLessEqual(len(line), 7 + 2 * 31, repr(line))   # inside column 1
        self.assertTrue(out[0].startswith("000002 "))
        # Continuation lines have no timestamp and line up under the message.
        self.assertTrue(all(line.startswith(" " * 7) for line in out[1:]))
        self.assertTrue(all(offset(line) == 38 + 7 for line in out[1:]))
        self.assertEqual(" ".join(line.split(None, 1)[-1] if i == 0 else line.strip()
                                  for i, line in enumerate(out)), "LOG    " + words)

    def test_make_servers_line_sets_the_columns(self) -> None:
        out = render(["000000 TEST    S* make 5 servers, seed 1",
                      "000003 TERM    S4 term 2"])
        header = next(line for line in out if "S0" in line)
        self.assertEqual(header.split(), ["S0", "S1", "S2", "S3", "S4"])
        self.assertEqual(offset(out[-1]), 7 + 4 * (93 // 5))

    def test_higher_server_adds_columns(self) -> None:
        out = render(["000001 VOTE    S0 a", "000002 VOTE    S3 b"])
        self.assertEqual(out[0].split(), ["S0", "S1", "S2"])     # the default
        self.assertEqual(out[2].split(), ["S0", "S1", "S2", "S3"])
        self.assertEqual(offset(out[3]), 7 + 3 * (93 // 4))

    def test_fixed_columns_put_extra_servers_in_the_last_labelled(self) -> None:
        out = render(["000001 VOTE    S3 b"], columns=2)
        self.assertEqual(out[0].split(), ["S0", "S1"])
        self.assertEqual(offset(out[1]), 7 + 93 // 2)
        self.assertIn("S3 VOTE", out[1])

    def test_harness_line_with_server_is_marked_in_its_column(self) -> None:
        out = render(["000001 TEST    S1 crash"], columns=3)
        self.assertEqual(out[1], "000001" + " " * 32 + "» crash")

    def test_harness_line_without_server_spans_the_width(self) -> None:
        out = render(["000591 TEST    S* check_terms: term 1"], columns=3)
        self.assertEqual(len(out), 1)
        self.assertTrue(out[0].startswith("000591 -- check_terms: term 1 ---"))
        self.assertEqual(len(out[0]), 100)

    def test_no_time(self) -> None:
        out = render(["000001 VOTE    S0 hello"], show_time=False)
        self.assertEqual(out[1], "VOTE   hello")

    def test_topic_width(self) -> None:
        self.assertEqual(render(["000001 VOTE    S0 hi"], topic_width=0)[1], "000001 hi")
        self.assertEqual(render(["000001 VOTE    S0 hi"], topic_width=8)[1], "000001 VOTE     hi")


class FilterTest(unittest.TestCase):
    LOG = ["000001 VOTE    S0 v", "000002 TIMER   S1 t", "000003 append  S2 a",
           "000004 TEST    S0 connect", "Test (2A): x ...", "other output"]

    def messages(self, **options: Any) -> list[str]:
        return [line.split()[-1] for line in render(self.LOG, **options) if line.strip()
                and not line.strip().startswith("S0")]

    def test_just_is_case_insensitive_and_keeps_test_and_other_lines(self) -> None:
        just = raftlog.split_topics(["vote,APPEND"])
        self.assertEqual(self.messages(just=just), ["v", "a", "connect", "...", "output"])

    def test_ignore_repeated_and_comma_lists(self) -> None:
        ignore = raftlog.split_topics(["Timer", "vote, append"])
        self.assertEqual(self.messages(ignore=ignore), ["connect", "...", "output"])

    def test_ignore_test_hides_harness_lines(self) -> None:
        self.assertNotIn("connect", self.messages(ignore={"TEST"}))

    def test_other_lines_pass_through_unchanged(self) -> None:
        out = render(["  raft/raft.c:12: some compiler line", "--- hang: t did not return"])
        self.assertEqual(out, ["  raft/raft.c:12: some compiler line", "--- hang: t did not return"])

    def test_no_other_hides_other_lines_but_keeps_results(self) -> None:
        out = render(["cc -c raft/raft.c", "Test (2A): x ...", "  ... Passed --   3.1  3",
                      "FAIL SAFETY: raft2B/t01: bad", "[----] noise"], show_other=False)
        self.assertEqual(out, ["", "Test (2A): x ...", "  ... Passed --   3.1  3",
                               "FAIL SAFETY: raft2B/t01: bad"])


class ColourTest(unittest.TestCase):
    def test_no_escape_codes_without_colour(self) -> None:
        with open(SAMPLE) as f:
            out = render(f.read().splitlines())
        self.assertTrue(out)
        self.assertFalse(any(ESCAPE in line for line in out))

    def test_escape_codes_with_colour(self) -> None:
        out = render(["000001 VOTE    S0 hello"], colour=True)
        self.assertEqual(out[1], "000001 \x1b[33mVOTE   hello\x1b[0m")

    def test_escape_codes_in_the_input_are_removed(self) -> None:
        self.assertEqual(render(["\x1b[32m[====]\x1b[0m done"]), ["[====] done"])

    def test_auto_colour_only_on_a_terminal_without_no_color(self) -> None:
        self.assertTrue(raftlog.use_colour("auto", True, {}))
        self.assertFalse(raftlog.use_colour("auto", False, {}))
        self.assertFalse(raftlog.use_colour("auto", True, {"NO_COLOR": "1"}))
        self.assertTrue(raftlog.use_colour("always", False, {"NO_COLOR": "1"}))
        self.assertFalse(raftlog.use_colour("never", True, {}))

    def test_conventional_topics_have_fixed_distinct_colours(self) -> None:
        self.assertEqual(raftlog.topic_colour("vote"), raftlog.topic_colour("VOTE"))
        colours = [raftlog.topic_colour(t) for t in
                   "TIMER VOTE LEAD TERM LOG APPEND COMMIT APPLY PERSIST SNAP DROP TEST".split()]
        self.assertEqual(len(set(colours)), len(colours))

    def test_unknown_topic_colour_is_stable_across_processes(self) -> None:
        # Catches choosing by hash(), which Python randomises per process.
        line = "000001 ELECTION2 S0 hi\n"
        seen = {run(["--colour", "always"], line, env={"PYTHONHASHSEED": seed}).stdout
                for seed in ("1", "2", "3")}
        self.assertEqual(len(seen), 1)
        code = raftlog.topic_colour("ELECTION2")
        self.assertIn(code, raftlog.OTHER_PALETTE)
        self.assertIn("\x1b[%sm" % code, seen.pop())


class ProcessTest(unittest.TestCase):
    def test_reads_a_file(self) -> None:
        r = run(["--width", "80", SAMPLE])
        self.assertEqual((r.returncode, r.stderr), (0, ""))
        lines = r.stdout.splitlines()
        self.assertIn("Test (2A): initial election ...", lines)
        self.assertTrue(any(line.split() == ["S0", "S1", "S2"] for line in lines))
        self.assertFalse(ESCAPE in r.stdout)        # not a tty: plain
        self.assertTrue(all(len(line) <= 80 for line in lines if re.match(r"\d{6} ", line)))

    def test_reads_stdin_and_colours_when_asked(self) -> None:
        r = run(["--colour", "always"], stdin_text="000001 VOTE    S1 hi\n")
        self.assertEqual(r.returncode, 0)
        self.assertIn("\x1b[33mVOTE   hi\x1b[0m", r.stdout)

    def test_no_color_env_and_pipe_mean_plain(self) -> None:
        r = run(["--colour", "auto"], stdin_text="000001 VOTE    S1 hi\n", env={"NO_COLOR": "1"})
        self.assertNotIn(ESCAPE, r.stdout)

    def test_missing_file_is_a_clean_error(self) -> None:
        r = run(["no/such/file.log"])
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stderr, "raftlog: no/such/file.log: No such file or directory\n")

    def test_help_shows_an_example(self) -> None:
        r = run(["--help"])
        self.assertEqual(r.returncode, 0)
        self.assertIn("VERBOSE=1 make test-2A 2>&1 | tools/raftlog", r.stdout)

    def test_broken_pipe_is_quiet(self) -> None:
        # Like `tools/raftlog big.log | head -1`.
        with tempfile.NamedTemporaryFile("w", suffix=".log") as big:
            big.write("000001 APPEND  S0 sent entries to everyone\n" * 50000)
            big.flush()
            p = subprocess.Popen([sys.executable, SCRIPT, big.name], stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, env=child_env())
            assert p.stdout is not None and p.stderr is not None
            p.stdout.readline()
            p.stdout.close()
            err = p.stderr.read()
            p.stderr.close()
            self.assertEqual((p.wait(timeout=10), err), (0, b""))

    def test_streams_line_by_line_and_ctrl_c_is_quiet(self) -> None:
        # Output must appear while the input is still open (a live test run).
        p = subprocess.Popen([sys.executable, SCRIPT], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=child_env())
        assert p.stdin is not None and p.stdout is not None and p.stderr is not None
        try:
            p.stdin.write(b"000001 VOTE    S0 first\n")
            p.stdin.flush()
            seen = b""
            while b"first" not in seen:
                ready, _, _ = select.select([p.stdout], [], [], 5)
                self.assertTrue(ready, "no output while the pipe stays open")
                seen += os.read(p.stdout.fileno(), 4096)
            p.send_signal(signal.SIGINT)
            self.assertEqual(p.wait(timeout=5), 130)
            self.assertEqual(p.stderr.read(), b"")
        finally:
            p.kill()
            p.wait()
            for f in (p.stdin, p.stdout, p.stderr):
                f.close()


if __name__ == "__main__":
    unittest.main()

"""Tests for tools/raftlog, the debug-log pretty-printer (raftlab.raftlog).

Run from the repository root: make check-tools (PYTHONPATH=tools python3 -m
unittest discover -s checks/tools). The logic is tested in-process, on the
module; what only a real process shows (stdin, pipes, signals, exit codes) is
tested through subprocess, on the command tools/raftlog itself. sample.log is a real VERBOSE=1 capture of
raft2A/t01_initial_election against the reference solution. HtmlTest: --html, the timeline page made from a
log (raftlab.timeline); make check-timeline opens such pages in a browser.
"""
from __future__ import annotations

import io
import json
import os
import re
import select
import signal
import subprocess
import sys
import tempfile
import unittest
from typing import Any, Iterable

from raftlab import raftlog, timeline

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


# A failing test as the harness prints it (harness/harness*.c), with a printf glued to a line.
FAILING = [
    "000000 TEST    S* make 3 servers, unreliable, seed 42",
    "000000 TEST    S0 disconnect", "000000 TEST    S0 start",
    "000001 TEST    S1 disconnect", "000001 TEST    S1 start",
    "000001 TEST    S2 disconnect", "000001 TEST    S2 start",
    "000002 TEST    S0 connect", "000002 TEST    S1 connect", "000002 TEST    S2 connect",
    "Test (2B): basic agreement ...",
    "000003 TEST    S* begin Test (2B): basic agreement",
    "000300 VOTE    S1 candidate in term 1",
    "000310 MARK    S1 leader of term 1",
    "000500 TEST    S1 check_one_leader: leader in term 1",
    "000510 TEST    S* check_terms: term 1",
    "000520 TEST    S2 disconnect",
    "no newline here000600 LOG     S1 <script>alert(1)</script> x",
    "000700 TEST    S* one(101): agreed at index 1",
    "000709 TEST    S0 snapshot through 9 (12 bytes)",
    "000710 TEST    S* FAIL SAFETY: server 0 applied index 1 again",
    "FAIL SAFETY: raft2B/t01_basic_agree: server 0 applied index 1 again (SEED=42) "
    "(replay: make test-2B SIM=1 SEED=42 ONLY=t01_basic_agree)",
    "timeline: /nowhere/raft2B-t01_basic_agree-SEED=42.html",
    "[FAIL] raft2B::t01_basic_agree: (0.00s)",
]


def make_page(lines: list[str] | bytes, want: str | None = None) -> tuple[dict[str, Any], timeline.Picked]:
    """The page's data, read back from the page as a browser would find it."""
    raw = lines if isinstance(lines, bytes) else "".join(line + "\n" for line in lines).encode()
    picked = timeline.pick(io.BytesIO(raw), "run.log", want)
    text = timeline.page(picked.test, "run.log")
    start = text.index('<script type="application/json" id="timeline-data">')
    body = text[text.index(">", start) + 1:text.index("</script>", start)]
    data: dict[str, Any] = json.loads(body)
    return data, picked


def events(data: dict[str, Any], kind: str) -> list[list[Any]]:
    return [e[1:] for e in data["events"] if data["kinds"][e[0]] == kind]


class HtmlTest(unittest.TestCase):
    def test_a_real_passing_log(self) -> None:
        with open(SAMPLE, "rb") as f:
            raw = f.read()
        data, picked = make_page(raw)
        # A passing test's log never names it: the title does, through the test sources.
        self.assertEqual((data["test"], data["verdict"], data["seed"]),
                         ("raft2A/t01_initial_election", "PASS", "3164057665021014474"))
        self.assertEqual((data["source"], data["calls"], data["failClass"]), ("log", [], ""))
        dprintf = [line for line in raw.decode().splitlines() if raftlog.parse_line(line)]
        self.assertEqual(len([r for r in data["logs"] if data["names"][r[2]] != "OUTPUT"]), len(dprintf))
        self.assertEqual(events(data, "network"), [[0, -1, 1, None, 0, 3]])
        self.assertEqual([e[2] for e in events(data, "connect")], [1, 3, 7])     # the connected set, as a mask
        self.assertEqual(len(events(data, "restart")), 3)
        self.assertEqual(len(events(data, "crash")), 3)
        self.assertEqual(events(data, "test"), [[8000, -1, -1, "Test (2A): initial election"]])
        self.assertEqual(events(data, "state")[0], [548000, 1, 1, None, 1])        # check_one_leader: S1 leads term 1
        self.assertEqual(data["endAt"], 3358000)
        self.assertTrue(picked.complete)

    def test_a_failing_log(self) -> None:
        data, _ = make_page(FAILING)
        self.assertEqual((data["test"], data["verdict"], data["failClass"], data["reason"], data["seed"]),
                         ("raft2B/t01_basic_agree", "FAIL", "SAFETY", "server 0 applied index 1 again", "42"))
        self.assertEqual(data["replay"], " (replay: make test-2B SIM=1 SEED=42 ONLY=t01_basic_agree)")
        self.assertEqual(data["endAt"], 710000)                  # the tester's FAIL line
        self.assertEqual(data["ownPage"], "/nowhere/raft2B-t01_basic_agree-SEED=42.html")
        self.assertEqual(events(data, "network")[0][2], 0)       # unreliable
        self.assertEqual(events(data, "disconnect")[-1][:3], [520000, 2, 3])   # S2 cut off: S0 S1 left
        rows = {(r[0], r[1], data["names"][r[2]], r[3], r[4]) for r in data["logs"]}
        self.assertIn((310000, 1, "MARK", 1, "leader of term 1"), rows)          # DANNOTATE: a mark
        # The glued printf: its own OUTPUT row, the DPRINTF line whole at its own time.
        self.assertIn((600000, 1, "LOG", 0, "<script>alert(1)</script> x"), rows)
        self.assertIn((520000, -1, "OUTPUT", 0, "no newline here"), rows)
        checks = [e for e in events(data, "check") if e[2] == 1]
        self.assertEqual([c[3] for c in checks], ["S1", "term 1", "index 1"])
        self.assertEqual(events(data, "snapshot"), [[709000, 0, 9, None, 12]])
        self.assertEqual(events(data, "apply")[0][:3], [709000, 0, 9])

    def test_the_page_is_the_template_with_safe_data(self) -> None:
        picked = timeline.pick(io.BytesIO("".join(x + "\n" for x in FAILING).encode()), "run.log", None)
        text = timeline.page(picked.test, "run.log")
        with open(timeline.TEMPLATE, encoding="utf-8") as f:
            template = f.read()
        head, tail = template.split("@TIMELINE_DATA@\n")
        self.assertTrue(text.startswith(head) and text.endswith(tail))
        # A line's "</script>" cannot end the data early.
        self.assertEqual(text.count("</script>"), template.count("</script>"))

    def test_crash_without_the_testers_fail_line(self) -> None:
        lines = FAILING[:13] + ["--- crash: SIGSEGV (segmentation fault) in thread 'x':", "    #0 handler at raft.c:1",
                                "FAIL CRASH: raft2B/t01_basic_agree: SIGSEGV at raft.c:1 (SEED=42)"]
        data, _ = make_page(lines)
        self.assertEqual((data["failClass"], data["reason"], data["replay"], data["endAt"]),
                         ("CRASH", "SIGSEGV at raft.c:1", "", 300000))
        texts = [(data["names"][r[2]], r[4]) for r in data["logs"]]
        self.assertIn(("OUTPUT", "    #0 handler at raft.c:1"), texts)
        self.assertEqual(texts[-1], ("TEST", "FAIL CRASH: SIGSEGV at raft.c:1"))   # the panel's failure row

    def test_several_tests_first_failing_or_named(self) -> None:
        passing = [x.replace("Test (2B): basic agreement", "Test (2B): RPC byte count") for x in FAILING[:13]]
        passing += ["  ... Passed --   1.0  3   10     100    0", "000900 TEST    S* end"]
        log = passing + FAILING + passing
        data, picked = make_page(log)
        self.assertEqual((data["test"], picked.complete), ("raft2B/t01_basic_agree", False))
        self.assertEqual(picked.tests_read, ["raft2B/t02_rpc_bytes", "raft2B/t01_basic_agree"])
        for name in ("t02_rpc_bytes", "2B/t02*", "raft2B/t02_rpc_bytes"):
            self.assertEqual(make_page(log, name)[0]["test"], "raft2B/t02_rpc_bytes", name)
        with self.assertRaisesRegex(timeline.LogError, r"no test 't09' in the log \(it has: raft2B/t02_rpc_bytes, "):
            make_page(log, "t09")
        # Without a failure: the first. Time going back is a new test process even without its make line.
        data, picked = make_page(passing + ["000005 VOTE    S0 from a cut log"])
        self.assertEqual((data["test"], data["verdict"], picked.tests_read[1]),
                         ("raft2B/t02_rpc_bytes", "PASS", "(a test without a name)"))

    def test_glued_digits_and_invalid_utf8(self) -> None:
        raw = (b"000100 VOTE    S0 one\n" b"caf\xc3 \xff 7000200 VOTE    S1 two \xfe\n"
               b"012345 VOTE    S2 \xe2\x82 three\n")
        data, _ = make_page(raw)
        rows = [(r[0], r[1], data["names"][r[2]], r[4]) for r in data["logs"]]
        self.assertEqual(rows, [(100000, 0, "VOTE", "one"), (100000, -1, "OUTPUT", "caf\ufffd \ufffd 7"),
                                (200000, 1, "VOTE", "two \ufffd"), (12345000, 2, "VOTE", "\ufffd three")])
        self.assertEqual(data["test"], "(a test without a name)")
        self.assertEqual(data["verdict"], "")       # the log ends before the test says how it went

    def test_empty_or_not_a_log(self) -> None:
        with self.assertRaisesRegex(timeline.LogError, "^run.log: empty"):
            make_page(b"")
        with self.assertRaisesRegex(timeline.LogError, "^run.log: no DPRINTF lines.*own page: /x.html$"):
            make_page(["Test (2A): initial election ...", "FAIL LIVENESS: raft2A/t01_x: no leader (SEED=1)",
                       "timeline: /x.html"])
        with self.assertRaisesRegex(timeline.LogError, "template"):
            timeline.page(timeline.TestLog(), "run.log", template="/nonexistent/timeline.html")

    def test_command_writes_the_page_and_keeps_the_printer(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "page.html")
            r = run(["--html", out, SAMPLE])
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertRegex(r.stdout, r"^timeline: .*page.html \(raft2A/t01_initial_election: PASS; 3 servers, "
                             r"\d+ log lines; from a log: no RPC messages\)")
            with open(out, encoding="utf-8") as f:
                self.assertIn('"source":"log"', f.read())
            r = run(["--html", out, "--test", "t01*"], stdin_text="".join(x + "\n" for x in FAILING))
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("raft2B/t01_basic_agree: FAIL SAFETY", r.stdout)
            for args, stdin, message in (([out, os.devnull], None, "empty"),
                                         ([out, SCRIPT], None, "no DPRINTF lines"),
                                         ([out, os.path.join(tmp, "none.log")], None, "No such file"),
                                         ([os.path.join(tmp, "no", "dir.html"), SAMPLE], None, "No such file"),
                                         ([out, "--test", "t9", "-"], "000001 VOTE    S0 x\n", "no test 't9'")):
                r = run(["--html"] + args, stdin_text=stdin)
                self.assertEqual((r.returncode, r.stdout), (1, ""), args)
                self.assertEqual(len(r.stderr.splitlines()), 1, r.stderr)
                self.assertIn(message, r.stderr)
        self.assertEqual(run(["--test", "t01", SAMPLE]).returncode, 2)    # --test goes with --html
        self.assertIn("VOTE", run(["--no-time", SAMPLE]).stdout)          # the printer is unchanged


if __name__ == "__main__":
    unittest.main()

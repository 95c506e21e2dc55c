"""timeline: a test's timeline page made from a saved VERBOSE=1 log.

A failing test writes its own timeline page (harness/harness_timeline.c;
README "Seeing a run"), from everything it recorded. This module writes a
page with the same template, tools/timeline/timeline.html, from what a log
holds instead (tools/raftlog --html OUT.html LOG):

- every DPRINTF line, in the log panel and on its server's lane (MARK lines,
  DANNOTATE's, as marks), and the lines printed outside DPRINTF (a bare
  printf, a crash's stack) in the panel under the topic OUTPUT;
- what the tester's own lines (topic TEST) say: the servers and the seed
  ("make 3 servers, seed …"), the title ("begin Test (2B): …"), connects and
  disconnects (the connected set follows from them), crashes and restarts
  ("crash", "start"), the network's mode, the snapshots the tester took (and
  so an apply of that index), the checks at the moment they passed, and the
  terms and leaders they observed;
- the failure, from the FAIL line: class, reason, seed and replay command.

A log holds no RPC calls, no raft_start and no other apply, and the tester
prints a check only when it passes: the data says "source": "log" and the
page says what it lacks. The data format is harness_timeline.c's (lab/trace.h
for the kinds; times in microseconds, here the log's milliseconds * 1000).

A log may hold several tests (make test-2B: one process each); LogReader
splits it at each test's "make N servers" line (or where the time goes back:
a new process), and pick() chooses one. Standard library only.
"""
from __future__ import annotations

import fnmatch
import json
import os
import re
from dataclasses import dataclass, field
from typing import BinaryIO, Iterator, Union

from raftlab.raftlog import ANSI_RE, DPRINTF_RE, PASSED_RE

# lab/trace.c's names, in lab_trace_kind's and lab_trace_fate's order.
KINDS = ["call", "log", "mark", "connect", "disconnect", "crash", "restart", "start",
         "apply", "apply_snapshot", "snapshot", "state", "check", "network", "test"]
FATES = ["replied", "request_dropped", "reply_dropped", "unreachable", "cut", "aborted"]
KIND = {name: i for i, name in enumerate(KINDS)}

# The recorder's limits (lab/trace.h, lab/debug.c's record_line): a page
# made from a log is no bigger than the one the test would have written.
MAX_EVENTS = 4 << 20
MAX_TEXT = 64 << 20
MAX_LINE = 511
OUTPUT_TOPIC = "OUTPUT"     # lines printed outside DPRINTF

HERE = os.path.dirname(os.path.abspath(__file__))
TEMPLATE = os.path.join(HERE, "..", "timeline", "timeline.html")
TEST_SOURCES = os.path.join(HERE, "..", "..", "tests")
DATA_MARKER = "@TIMELINE_DATA@"

# A DPRINTF line glued to the end of a bare printf's output (no newline):
# searched for anywhere, the topic a word, so that a message is less likely
# to look like one.
DPRINTF_INSIDE_RE = re.compile(r"(\d{6,}) ([A-Za-z_]\w*) +S(\*|-?\d+)(?: (.*))?$")
# The harness's FAIL line (harness_report.c), maybe glued to a printf's output:
# "FAIL SAFETY: raft2B/t01_basic_agree: reason (SEED=123) (replay: make …)".
# The runner's own (a test process that died unreported) may have no seed.
FAIL_LINE_RE = re.compile(r"FAIL ([A-Z][A-Z_-]*): (\w+/\w+): (.*?)(?: \(SEED=(\d+)\))?( \(replay: .*\))?$")
CRITERION_RE = re.compile(r"^\[(FAIL|PASS|SKIP|ERR|----|====|RUN |WARN)\] ?(?:(\w+)::(\w+))?")
TIMELINE_LINE_RE = re.compile(r"^timeline: (.*)$")
PAGE_NAME_RE = re.compile(r"(raft\w+?)-(t\w+?)-SEED=")
TITLE_LINE_RE = re.compile(r"^(Test \(\w+\): .*?) \.\.\.$")
SUMMARY_LINE_RE = re.compile(r"^\S+: \d+ passed, \d+ failed")

# The tester's lines (topic TEST; harness/harness*.c), by what they say.
MAKE_RE = re.compile(r"^make (\d+) servers(, unreliable)?(, snapshots)?(?:, seed (\d+))?")
BEGIN_RE = re.compile(r"^begin (.*)$")
SNAPSHOT_RE = re.compile(r"^snapshot through (-?\d+)(?: \((\d+) bytes\))?")
ONE_LEADER_RE = re.compile(r"^check_one_leader: leader in term (-?\d+)")
TERMS_RE = re.compile(r"^check_terms: term (-?\d+)")
NO_LEADER_RE = re.compile(r"^check_no_leader: none")
AGREED_RE = re.compile(r"^one\((.*)\): agreed at index (-?\d+)")
NETWORK_RE = re.compile(r"^network (reliable|unreliable)$")
REORDER_RE = re.compile(r"^long reordering (on|off)$")
TESTER_FAIL_RE = re.compile(r"^FAIL ([A-Z][A-Z_-]*): (.*)$")

Cell = Union[int, str, None]


class LogError(Exception):
    """A log no page can be made from; its message is the one line to print."""


@dataclass
class TestLog:
    """One test as a log tells it, in the page's terms."""
    name: str = ""          # suite/test, when the log says it
    title: str = ""         # "Test (2B): basic agreement"
    seed: str = ""
    replay: str = ""        # " (replay: make …)", as on the FAIL line
    verdict: str = ""       # FAIL, PASS, or "" when the log ends before the test does
    fail_class: str = ""
    reason: str = ""
    fail_ms: int = -1       # when the tester failed it
    last_ms: int = 0        # the last DPRINTF line's time
    servers: int = 0
    own_page: str = ""      # the page the test wrote itself ("timeline: PATH")
    tester_fail_line: bool = False
    topics: dict[str, int] = field(default_factory=dict)
    logs: list[list[Cell]] = field(default_factory=list)     # time, server, topic, mark, text
    events: list[list[Cell]] = field(default_factory=list)   # kind, time, server, a, text, b, c, d, t1
    dropped: int = 0
    text_bytes: int = 0
    dprintf_lines: int = 0
    # The tester's state, as its lines tell it.
    connected: set[int] = field(default_factory=set)
    incarnations: int = 0
    checks: int = 0
    reliable: int = 1
    reorder: int = 0
    roles: dict[int, tuple[int, int]] = field(default_factory=dict)   # server: (term, leader)

    # -- recording ----------------------------------------------------------------

    def room(self, text: str) -> bool:
        """Whether one more row fits in the recorder's limits (else it is counted as dropped)."""
        if len(self.logs) + len(self.events) >= MAX_EVENTS or self.text_bytes + len(text) > MAX_TEXT:
            self.dropped += 1
            return False
        self.text_bytes += len(text)
        return True

    def log(self, ms: int, server: int, topic: str, text: str) -> None:
        text = text[:MAX_LINE]
        if not self.room(text):
            return
        topic_id = self.topics.setdefault(topic, len(self.topics))
        self.logs.append([ms * 1000, server, topic_id, 1 if topic == "MARK" else 0, text])

    def event(self, kind: str, ms: int, server: int = -1, a: int = -1, text: str | None = None,
              b: int = -1, c: int = -1, d: int = -1, t1_ms: int = -1) -> None:
        if not self.room(text or ""):
            return
        rest: list[Cell] = [b, c, d, t1_ms * 1000 if t1_ms >= 0 else -1]
        while rest and rest[-1] == -1:      # as the harness writes them: trailing -1s left out
            rest.pop()
        row: list[Cell] = [KIND[kind], ms * 1000, server, a]
        if text is not None or rest:
            row.append(text)
        self.events.append(row + rest)

    def mask(self) -> int:
        return sum(1 << s for s in self.connected if 0 <= s < 31)

    def check(self, ms: int, what: str, found: str) -> None:
        """A check that passed at ms: the tester prints nothing when one begins."""
        self.event("check", ms, a=-1, text=what, d=self.checks)
        self.event("check", ms, a=1, text=found, d=self.checks, t1_ms=ms)
        self.checks += 1

    def observed(self, ms: int, seen: dict[int, tuple[int, int]]) -> None:
        """What a check saw of the servers' terms and leadership: held until the
        next check, which may not see a server (term -1: unknown from then on)."""
        for server in sorted(set(self.roles) - set(seen)):
            del self.roles[server]
            self.event("state", ms, server, -1, None, 0)
        for server, (term, leader) in sorted(seen.items()):
            if server >= 0 and self.roles.get(server) != (term, leader):
                self.roles[server] = (term, leader)
                self.event("state", ms, server, term, None, leader)

    # -- the tester's lines -----------------------------------------------------------

    def tester(self, ms: int, server: int, message: str) -> None:   # noqa: C901 (one branch a line)
        """What a TEST line says, as the harness would have recorded it."""
        m: re.Match[str] | None
        if (m := MAKE_RE.match(message)) and server < 0:
            self.servers = max(self.servers, int(m.group(1)))
            self.seed = m.group(4) or self.seed
            self.reliable = 0 if m.group(2) else 1
            self.event("network", ms, -1, self.reliable, None, self.reorder, self.servers)
        elif (m := BEGIN_RE.match(message)) and server < 0:
            self.title = m.group(1)
            self.event("test", ms, -1, -1, self.title)
        elif message == "connect":
            self.connected.add(server)
            self.event("connect", ms, server, self.mask())
        elif message == "disconnect":
            self.connected.discard(server)
            self.event("disconnect", ms, server, self.mask())
        elif message == "crash":
            self.event("crash", ms, server)
            self.roles.pop(server, None)
        elif message == "start":
            self.incarnations += 1
            self.event("restart", ms, server, self.incarnations)
            self.roles.pop(server, None)
        elif m := SNAPSHOT_RE.match(message):
            # The tester snapshots right after the server applied that index.
            self.event("apply", ms, server, int(m.group(1)), "(the command: not in the log)")
            self.event("snapshot", ms, server, int(m.group(1)), None, int(m.group(2) or -1))
        elif m := ONE_LEADER_RE.match(message):
            self.check(ms, "one leader", f"S{server}")
            self.observed(ms, {server: (int(m.group(1)), 1)})
        elif m := TERMS_RE.match(message):
            term = int(m.group(1))
            self.check(ms, "servers agree on term", f"term {term}")
            # Every connected server is in that term; a leader of it stays one (one leader a term).
            self.observed(ms, {s: (term, 1 if self.roles.get(s) == (term, 1) else 0)
                               for s in self.connected} if term >= 0 else {})
        elif NO_LEADER_RE.match(message):
            self.check(ms, "no leader among connected servers", "none")
            self.observed(ms, {})
        elif m := AGREED_RE.match(message):
            self.check(ms, f"agreement on {m.group(1)}", f"index {m.group(2)}")
        elif m := NETWORK_RE.match(message):
            self.reliable = 1 if m.group(1) == "reliable" else 0
            self.event("network", ms, -1, self.reliable, None, self.reorder, self.servers)
        elif m := REORDER_RE.match(message):
            self.reorder = 1 if m.group(1) == "on" else 0
            self.event("network", ms, -1, self.reliable, None, self.reorder, self.servers)
        elif (m := TESTER_FAIL_RE.match(message)) and server < 0:
            self.tester_fail_line = True
            self.verdict = "FAIL"
            self.fail_ms = ms
            self.fail_class = self.fail_class or m.group(1)
            self.reason = self.reason or m.group(2)

    # -- other lines ------------------------------------------------------------------

    def other(self, line: str) -> None:
        """A line not DPRINTF's: the harness's and the runner's, or anything printed."""
        m: re.Match[str] | None
        if m := FAIL_LINE_RE.search(line):
            before = line[:m.start()]
            if before.strip():
                self.log(self.last_ms, -1, OUTPUT_TOPIC, before)
            self.verdict = "FAIL"
            self.fail_class, self.name, self.reason = m.group(1), m.group(2), m.group(3)
            self.seed = m.group(4) or self.seed
            self.replay = m.group(5) or ""
            if self.fail_ms < 0:
                self.fail_ms = self.last_ms
        elif m := TITLE_LINE_RE.match(line):
            self.title = self.title or m.group(1)
        elif PASSED_RE.match(line):
            self.verdict = self.verdict or "PASS"
        elif m := CRITERION_RE.match(line):
            if m.group(1) in ("FAIL", "PASS") and m.group(2):
                self.name = self.name or f"{m.group(2)}/{m.group(3)}"
                self.verdict = self.verdict or m.group(1)
        elif m := TIMELINE_LINE_RE.match(line):
            self.own_page = m.group(1)
            if (p := PAGE_NAME_RE.search(os.path.basename(self.own_page))) and not self.name:
                self.name = f"{p.group(1)}/{p.group(2)}"
        elif SUMMARY_LINE_RE.match(line) or not line.strip():
            pass
        else:
            self.log(self.last_ms, -1, OUTPUT_TOPIC, line)

    # -- the page's data ---------------------------------------------------------------

    def label(self) -> str:
        return self.name or self.title or "(a test without a name)"

    def data(self, log_name: str) -> dict[str, object]:
        """The page's data (harness_timeline.c's out_data, plus where it came from)."""
        failed = self.verdict == "FAIL"
        logs = self.logs
        if failed and not self.tester_fail_line:
            # A crash's FAIL line is not DPRINTF's: the panel shows it as the harness's would.
            logs = logs + [[self.fail_ms * 1000, -1, self.topics.get("TEST", len(self.topics)), 0,
                            f"FAIL {self.fail_class}: {self.reason}"]]
            self.topics.setdefault("TEST", len(self.topics))
        end_ms = self.fail_ms if failed and self.fail_ms >= 0 else self.last_ms
        return {
            "format": 1, "test": self.label(), "seed": self.seed, "replay": self.replay,
            "verdict": self.verdict, "failClass": self.fail_class if failed else "",
            "reason": self.reason if failed else "", "endAt": end_ms * 1000, "dropped": self.dropped,
            "kinds": KINDS, "fates": FATES, "names": list(self.topics), "calls": [], "logs": logs,
            "events": self.events, "source": "log", "logName": log_name, "ownPage": self.own_page,
        }


class LogReader:
    """Reads a log line by line, and gives each test as soon as its lines end."""

    def __init__(self) -> None:
        self.current: TestLog | None = None
        self.prev_ms = -1
        self.lines = 0
        self.dprintf_lines = 0
        self.own_pages: list[str] = []

    def feed(self, raw: bytes) -> TestLog | None:
        """One line; returns the test it ended, if it began the next one."""
        self.lines += 1
        # errors="replace": a stray byte from a crashing test must not stop the reader.
        line = ANSI_RE.sub("", raw.decode("utf-8", errors="replace").rstrip("\r\n"))
        prefix, parsed = "", DPRINTF_RE.match(line)
        if parsed is None and (inside := DPRINTF_INSIDE_RE.search(line)):
            # Glued behind a printf without its newline. Which digits are the
            # time: as many as the last line's (at least six, as %06lld prints).
            digits = inside.group(1)
            keep = min(len(digits), max(6, len(str(self.prev_ms))))
            prefix = line[:inside.start()] + digits[:-keep]
            line = digits[-keep:] + line[inside.start(1) + len(digits):]
            parsed = DPRINTF_RE.match(line)
        if parsed is None:
            if TIMELINE_LINE_RE.match(line):
                self.own_pages.append(line.split(" ", 1)[1])
            if self.current is not None:
                self.current.other(line)
            return None
        ms_text, topic, who, message = parsed.groups()
        ms, server, message = int(ms_text), (-1 if who in ("*", "-1") else int(who)), message or ""
        ended = None
        starts = topic == "TEST" and server < 0 and MAKE_RE.match(message) is not None
        if self.current is None or ms < self.prev_ms or starts:
            ended, self.current = self.current, TestLog()
        test = self.current
        if prefix.strip():
            test.log(test.last_ms, -1, OUTPUT_TOPIC, prefix)
        self.prev_ms = ms
        self.dprintf_lines += 1
        test.dprintf_lines += 1
        test.last_ms = ms
        test.servers = max(test.servers, server + 1)
        test.log(ms, server, topic, message)
        if topic == "TEST":
            test.tester(ms, server, message)
        return ended

    def finish(self) -> TestLog | None:
        test, self.current = self.current, None
        return test


def read_lines(source: BinaryIO) -> Iterator[bytes]:
    for raw in iter(source.readline, b""):
        yield raw


def matches(test: TestLog, pattern: str) -> bool:
    """--test: the whole name (raft2B/t01_basic_agree), without its suite
    (t01_basic_agree), the part and test (2B/t01_basic_agree); globs too."""
    name = test.name
    if not name:
        return fnmatch.fnmatchcase(test.title, pattern)
    short = name.split("/", 1)[-1]
    forms = {name, short, name[4:] if name.startswith("raft") else name}
    return any(fnmatch.fnmatchcase(f, pattern) for f in forms)


@dataclass
class Picked:
    test: TestLog
    tests_read: list[str]       # the labels of the tests read (up to the one picked)
    complete: bool              # the whole log was read
    own_pages: list[str]


def pick(source: BinaryIO, log_name: str, want: str | None,
         titles: dict[str, str] | None = None) -> Picked:
    """The test to draw: the first named want, else the first that failed,
    else the first. Reads no further than it must (a pipe may go on)."""
    reader = LogReader()
    first: TestLog | None = None
    labels: list[str] = []
    found: TestLog | None = None
    names = titles if titles is not None else test_names_by_title()

    def consider(test: TestLog | None) -> bool:
        nonlocal first, found
        if test is None:
            return False
        if not test.name and test.title in names:
            test.name = names[test.title]
        labels.append(test.label())
        if first is None:
            first = test
        if (want is not None and matches(test, want)) or (want is None and test.verdict == "FAIL"):
            found = test
            return True
        return False

    done = False
    for raw in read_lines(source):
        if consider(reader.feed(raw)):
            done = True
            break
    if not done:
        consider(reader.finish())
    if reader.lines == 0:
        raise LogError(f"{log_name}: empty: no log to make a page from")
    if reader.dprintf_lines == 0:
        hint = f"; the test wrote its own page: {reader.own_pages[0]}" if reader.own_pages else ""
        raise LogError(f"{log_name}: no DPRINTF lines: not a VERBOSE=1 log of a test "
                       f"(save one with: VERBOSE=1 make test-2A > run.log 2>&1){hint}")
    if want is not None and found is None:
        raise LogError(f"{log_name}: no test {want!r} in the log (it has: {', '.join(labels)})")
    chosen = found or first
    assert chosen is not None
    return Picked(chosen, labels, not done, reader.own_pages)


def test_names_by_title(sources: str = TEST_SOURCES) -> dict[str, str]:
    """"Test (2A): initial election" -> "raft2A/t01_initial_election", from the
    test sources beside the tools: a passing test's log never names it."""
    names: dict[str, str] = {}
    try:
        files = sorted(f for f in os.listdir(sources) if re.match(r"test_\w+\.c$", f))
    except OSError:
        return names
    for f in files:
        try:
            with open(os.path.join(sources, f), encoding="utf-8", errors="replace") as src:
                text = src.read()
        except OSError:
            continue
        for block in re.split(r"(?m)^(?=Test\()", text):
            head = re.match(r"Test\((\w+),\s*(\w+)", block)
            title = re.search(r'"(Test \(\w+\): [^"]*)"', block)
            if head and title:
                names.setdefault(title.group(1), f"{head.group(1)}/{head.group(2)}")
    return names


# -- the page ---------------------------------------------------------------------------

def json_text(value: object) -> str:
    """JSON that is safe inside a <script> element, as the harness writes it."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def data_text(data: dict[str, object]) -> str:
    """The data, one row a line like harness_timeline.c's."""
    parts = []
    for key, value in data.items():
        if key in ("calls", "logs", "events") and isinstance(value, list):
            rows = ",\n".join(json_text(row) for row in value)
            parts.append(f"{json_text(key)}:[" + ("\n" + rows if rows else "") + "]")
        else:
            parts.append(f"{json_text(key)}:{json_text(value)}")
    return "{" + ",\n".join(parts) + "}\n"


def read_template(path: str = TEMPLATE) -> tuple[str, str]:
    """The template before and after its data line."""
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines(keepends=True)
    except OSError as e:
        raise LogError(f"cannot read the page's template {os.path.normpath(path)}: {e.strerror}") from e
    at = [i for i, line in enumerate(lines) if DATA_MARKER in line]
    if len(at) != 1:
        raise LogError(f"{os.path.normpath(path)}: expected one {DATA_MARKER} line, found {len(at)}")
    return "".join(lines[:at[0]]), "".join(lines[at[0] + 1:])


def page(test: TestLog, log_name: str, template: str = TEMPLATE) -> str:
    head, tail = read_template(template)
    return head + data_text(test.data(log_name)) + tail

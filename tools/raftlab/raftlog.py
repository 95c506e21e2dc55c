"""raftlog: pretty-print raftlab's debug log, one column per server.

Reads the lines that DPRINTF prints when VERBOSE=1 (see lab/debug.h),

    001234 VOTE    S2 granting vote to S0 in term 3

and lays them out with the timestamp at the left, each server's lines in its
own column and a colour per topic, so that what each server did, and when,
can be read across. The tester's own events (topic TEST) stand apart, and
every other line (test names, Passed, FAIL, hang dumps) is passed through.
Reads a file or stdin line by line, so it also works on a live pipe:

    VERBOSE=1 make test-2A ONLY='t02*' 2>&1 | tools/raftlog

With --html OUT.html it writes the test's timeline page instead, the page a
failing test writes itself, made from what the log holds (raftlab.timeline):

    tools/raftlog --html page.html run.log

Standard library only. Run `tools/raftlog --help` for the options. This is
the module behind the command tools/raftlog (raftlab.raftlog.main).
"""
from __future__ import annotations

import argparse
import io
import os
import re
import shutil
import sys
import textwrap
import zlib
from typing import Iterable, Mapping, NamedTuple, TextIO

# "%06lld %-7.64s S%d <message>": at least six digits of milliseconds, a bare
# word padded with spaces, S and a server number (S* for the whole test; S-1 in older logs).
DPRINTF_RE = re.compile(r"^(\d{6,}) (\S+) +S(\*|-?\d+)(?: (.*))?$")
MAKE_SERVERS_RE = re.compile(r"^make (\d+) servers")
ANSI_RE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")

# Lines that are not DPRINTF but say how a test went: shown even with
# --no-other, because without them a student cannot tell tests apart.
TEST_TITLE_RE = re.compile(r"^Test \(")
PASSED_RE = re.compile(r"^\s*\.\.\. Passed")
FAIL_RE = re.compile(r"^FAIL ")
SUMMARY_RE = re.compile(r"^\S+: \d+ passed, \d+ failed")
HANG_RE = re.compile(r"^--- ")

DEFAULT_SERVERS = 3     # before a "make N servers" line says otherwise
PIPE_WIDTH = 100        # width when stdout is not a terminal
MIN_COLUMN = 12         # below this a column holds too few words to read


class Entry(NamedTuple):
    """One DPRINTF line."""
    time: str       # milliseconds since the test began, as printed ("001234")
    topic: str
    server: int     # -1: the whole test (S*)
    message: str


# ANSI SGR codes. The conventional topics keep the same colour in every run
# so that students learn them; related topics get related colours.
TOPIC_COLOURS = {
    "TIMER": "36",      # cyan
    "VOTE": "33",       # yellow
    "LEAD": "1;32",     # bold green
    "TERM": "35",       # magenta
    "LOG": "34",        # blue
    "APPEND": "94",     # bright blue
    "COMMIT": "32",     # green
    "APPLY": "92",      # bright green
    "PERSIST": "95",    # bright magenta
    "SNAP": "96",       # bright cyan
    "DROP": "31",       # red
    "TEST": "1",        # bold, the terminal's own colour
}
OTHER_PALETTE = ["91", "93", "31;1", "33;1", "36;1", "35;1", "34;1", "90"]
HARNESS_STYLE = "1"
FAIL_STYLE = "1;31"
TITLE_STYLE = "1;7"
PASSED_STYLE = "1;32"
HANG_STYLE = "1;33"


def parse_line(line: str) -> Entry | None:
    """An Entry for a DPRINTF line, None for any other line."""
    m = DPRINTF_RE.match(line)
    if m is None:
        return None
    time, topic, server, message = m.groups()
    return Entry(time, topic, -1 if server in ("*", "-1") else int(server), message or "")


def topic_colour(topic: str) -> str:
    """The SGR code for a topic: fixed for the conventional ones, else a hash.

    crc32, not hash(): Python randomises str hashes per process, and a
    student's own topic should keep its colour from one run to the next.
    """
    topic = topic.upper()
    if topic in TOPIC_COLOURS:
        return TOPIC_COLOURS[topic]
    return OTHER_PALETTE[zlib.crc32(topic.encode()) % len(OTHER_PALETTE)]


def split_topics(values: Iterable[str] | None) -> set[str]:
    """--just/--ignore values (repeated, comma lists) as a set of upper-case topics."""
    topics: set[str] = set()
    for value in values or []:
        topics.update(t.strip().upper() for t in value.split(",") if t.strip())
    return topics


def use_colour(choice: str, is_tty: bool, environ: Mapping[str, str]) -> bool:
    """Whether to emit escape codes for --colour always|never|auto."""
    if choice == "always":
        return True
    if choice == "never":
        return False
    # auto: only on a terminal that can show them, and not when the user
    # has asked every program for no colour (https://no-color.org).
    return is_tty and not environ.get("NO_COLOR") and environ.get("TERM") != "dumb"


class Printer:
    """Turns input lines into output lines; keeps the column layout between them."""

    def __init__(self, columns: int | None = None, width: int = PIPE_WIDTH, colour: bool = False,
                 topic_width: int = 6, show_time: bool = True, show_other: bool = True,
                 just: Iterable[str] = (), ignore: Iterable[str] = ()) -> None:
        self.fixed = columns is not None    # -c given: never change the count
        self.servers = columns or DEFAULT_SERVERS
        self.width = width
        self.colour = colour
        self.topic_width = topic_width
        self.show_time = show_time
        self.show_other = show_other
        self.just = set(just)
        self.ignore = set(ignore)
        self.time_width = 6
        self.need_header = True

    # Layout

    def margin(self) -> int:
        """Characters left of the first column: the timestamp and a space."""
        return self.time_width + 1 if self.show_time else 0

    def column_width(self) -> int:
        """Width of one server's column, including the space that separates it."""
        return max((self.width - self.margin()) // self.servers, MIN_COLUMN)

    def column_of(self, server: int) -> int:
        return min(server, self.servers - 1)

    def learn_servers(self, entry: Entry) -> None:
        """Adjust the column count to what the log says (unless -c fixed it)."""
        m = MAKE_SERVERS_RE.match(entry.message) if entry.topic == "TEST" else None
        if m:
            # Each test starts with this line: a fresh header helps even if the
            # count is unchanged.
            self.need_header = True
            if not self.fixed and int(m.group(1)) > 0:
                self.servers = int(m.group(1))
        elif not self.fixed and entry.server >= self.servers:
            self.servers = entry.server + 1
            self.need_header = True

    # Filters

    def wanted(self, topic: str) -> bool:
        topic = topic.upper()
        if topic in self.ignore:
            return False
        # The tester's events give the context for everything else.
        return topic == "TEST" or not self.just or topic in self.just

    # Rendering

    def style(self, code: str, text: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if self.colour and text else text

    def stamp(self, time: str, first: bool) -> str:
        """The left margin of one output line: the time on the first line only."""
        if not self.show_time:
            return ""
        return (time if first else "").ljust(self.time_width) + " "

    def header(self) -> str:
        col = self.column_width()
        names = "".join(f"S{i}".ljust(col) for i in range(self.servers)).rstrip()
        return " " * self.margin() + self.style("1;4", names)

    def render(self, raw: str) -> list[str]:
        """The output lines (without newlines) for one input line."""
        line = ANSI_RE.sub("", raw.rstrip("\r\n"))
        entry = parse_line(line)
        if entry is None:
            return self.render_other(line)
        if len(entry.time) > self.time_width:     # after 16 min: columns shift right
            self.time_width = len(entry.time)
            self.need_header = True
        self.learn_servers(entry)
        if not self.wanted(entry.topic):
            return []
        if entry.server < 0:
            return self.render_wide(entry)
        out = []
        if self.need_header:
            out.append(self.header())
            self.need_header = False
        return out + self.render_cell(entry)

    def render_cell(self, entry: Entry) -> list[str]:
        """A server's line, wrapped inside its column."""
        col = self.column_of(entry.server)
        if entry.topic == "TEST":
            label, code = "» ", HARNESS_STYLE     # the tester acted on this server
        else:
            label, code = self.label(entry.topic), topic_colour(entry.topic)
        if entry.server != col:
            label = f"S{entry.server} " + label   # overflow into the last column
        lines = wrap(label + entry.message, self.column_width() - 1, len(label))
        indent = " " * (col * self.column_width())
        return [self.stamp(entry.time, i == 0) + indent + self.style(code, text)
                for i, text in enumerate(lines)]

    def render_wide(self, entry: Entry) -> list[str]:
        """A line about no one server (S*): across the full width."""
        room = self.width - self.margin()
        if entry.topic != "TEST":
            label = self.label(entry.topic)
            lines = wrap(label + entry.message, room, len(label))
            return [self.stamp(entry.time, i == 0) + self.style(topic_colour(entry.topic), t)
                    for i, t in enumerate(lines)]
        failed = entry.message.startswith(("FAIL", "failure"))
        code = FAIL_STYLE if failed else HARNESS_STYLE
        rule = "─" if self.colour else "-"
        lines = wrap(entry.message, room - 3, 0)
        out = []
        for i, text in enumerate(lines):
            if i == 0:
                # A rule to the right edge marks the tester's timeline.
                text = f"{rule * 2} {text} ".ljust(room, rule)
            else:
                text = "   " + text
            out.append(self.stamp(entry.time, i == 0) + self.style(code, text))
        return out

    def render_other(self, line: str) -> list[str]:
        """A line that is not DPRINTF's: passed through, the important ones marked."""
        if TEST_TITLE_RE.match(line):
            # A new test: a blank line and a banner, easy to find when scrolling.
            return ["", self.style(TITLE_STYLE, line)]
        if FAIL_RE.match(line):
            return [self.style(FAIL_STYLE, line)]
        if PASSED_RE.match(line) or SUMMARY_RE.match(line):
            return [self.style(PASSED_STYLE, line)]
        if not self.show_other:
            return []
        if HANG_RE.match(line):
            return [self.style(HANG_STYLE, line)]
        return [line]

    def label(self, topic: str) -> str:
        return topic.ljust(self.topic_width) + " " if self.topic_width > 0 else ""


def wrap(text: str, width: int, indent: int) -> list[str]:
    """text in lines of at most width, continuation lines indented by indent.

    The indent lines wrapped words up under the message rather than the
    topic, but only while that leaves most of the column for words.
    """
    width = max(width, 1)
    subsequent = " " * indent if indent <= width // 2 else ""
    lines = textwrap.wrap(text, width=width, subsequent_indent=subsequent,
                          break_on_hyphens=False)
    return lines or [text.rstrip()]


HELP_EPILOG = """\
examples:
  VERBOSE=1 make test-2A 2>&1 | tools/raftlog
  VERBOSE=1 make test-2B ONLY='t03*' 2>&1 | tools/raftlog --just vote,lead,append
  tools/raftlog -c 5 --ignore timer saved.log | less -R
  tools/raftlog --html page.html saved.log          # then open page.html
  tools/raftlog --html page.html --test t02_reelection saved.log

Columns: one per server. Without -c, each test's "make N servers" line sets
the count (3 until one is seen), and a server numbered beyond the count adds
columns. With -c N, servers N and above share the last column, labelled.
Lines marked » are the tester's actions on that server (connect, crash...);
lines ruled across the width are the tester's own events (begin, check_...,
FAIL). Lines that are not DPRINTF's are passed through unchanged.

--html OUT.html writes the timeline page of one test of the log (the first
that failed, or --test's) with the template tools/timeline/timeline.html:
every DPRINTF line, and what the tester's lines say (connects, crashes,
checks, terms and leaders, the failure). A log holds no RPC messages: the
page says so. The page a failing test writes itself (its path follows the
FAIL line) has them.
"""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="raftlog", description="Pretty-print a raftlab debug log (VERBOSE=1) "
        "with one column per server and a colour per topic.",
        epilog=HELP_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("file", nargs="?", default="-", help="log file to read (default: stdin)")
    p.add_argument("-c", "--columns", type=positive, metavar="N",
                   help="number of servers (default: from the log)")
    p.add_argument("--just", action="append", metavar="TOPIC[,TOPIC]",
                   help="show only these topics (and the tester's TEST lines)")
    p.add_argument("--ignore", action="append", metavar="TOPIC[,TOPIC]",
                   help="hide these topics (TEST too, if named)")
    p.add_argument("--no-other", action="store_true",
                   help="hide lines that are not DPRINTF's, except test titles, "
                   "Passed and FAIL")
    p.add_argument("--colour", "--color", choices=["always", "never", "auto"],
                   default="auto", help="ANSI colours (default auto: on a terminal, "
                   "unless NO_COLOR is set)")
    p.add_argument("-w", "--width", type=positive, metavar="N",
                   help=f"output width (default: the terminal's, or {PIPE_WIDTH} when piped)")
    p.add_argument("--topic-width", type=int, default=6, metavar="N",
                   help="pad topics to N characters; 0 hides them (colour only)")
    p.add_argument("--no-time", action="store_true", help="leave out the timestamps")
    p.add_argument("--html", metavar="OUT.html",
                   help="write the timeline page of a test of the log to OUT.html (- for stdout) "
                   "instead of printing the log")
    p.add_argument("--test", metavar="NAME",
                   help="with --html: the test to draw (t02_reelection, 2A/t02*, raft2A/t02_reelection); "
                   "default: the first that failed, else the first")
    args = p.parse_args(argv)
    if args.test is not None and args.html is None:
        p.error("--test goes with --html")
    return args


def positive(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive: {text}")
    return value


def output_width(args: argparse.Namespace, is_tty: bool) -> int:
    if args.width:
        return int(args.width)
    if is_tty:
        return shutil.get_terminal_size((PIPE_WIDTH, 24)).columns
    return PIPE_WIDTH


def open_input(name: str) -> TextIO:
    # errors="replace": a stray byte from a crashing test must not stop the reader.
    if name == "-":
        return io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", errors="replace")
    return open(name, encoding="utf-8", errors="replace")


def write_html(args: argparse.Namespace) -> int:
    """--html: the timeline page of one test of the log (raftlab.timeline)."""
    from raftlab import timeline    # only here: the printer starts without it
    name = "stdin" if args.file == "-" else args.file
    try:
        with (open(args.file, "rb") if args.file != "-" else os.fdopen(os.dup(0), "rb")) as source:
            picked = timeline.pick(source, name, args.test)
        text = timeline.page(picked.test, os.path.basename(name))
    except OSError as e:
        print(f"raftlog: {name}: {e.strerror}", file=sys.stderr)
        return 1
    except timeline.LogError as e:
        print(f"raftlog: {e}", file=sys.stderr)
        return 1
    try:
        if args.html == "-":
            sys.stdout.buffer.write(text.encode("utf-8"))
            return 0
        with open(args.html, "w", encoding="utf-8") as out:
            out.write(text)
    except OSError as e:
        print(f"raftlog: {args.html}: {e.strerror}", file=sys.stderr)
        return 1
    test = picked.test
    verdict = f"FAIL {test.fail_class}" if test.verdict == "FAIL" else test.verdict or "no verdict in the log"
    print(f"timeline: {args.html} ({test.label()}: {verdict}; {test.servers} servers, "
          f"{len(test.logs)} log lines; from a log: no RPC messages)")
    read = len(picked.tests_read)
    if args.test is None and (read > 1 or not picked.complete):
        # Reading stops at the test after the one chosen: there are more.
        count = str(read) if picked.complete else f"at least {read + 1}"
        which = "the first that failed" if test.verdict == "FAIL" else "the first (none failed)"
        print(f"raftlog: the log holds {count} tests; the page is of {which}; --test NAME for another")
    if test.own_page and os.path.exists(test.own_page):
        print(f"raftlog: the test's own page, with its messages: {test.own_page}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.html is not None:
        return write_html(args)
    is_tty = sys.stdout.isatty()
    try:
        source = open_input(args.file)
    except OSError as e:
        print(f"raftlog: {args.file}: {e.strerror}", file=sys.stderr)
        return 1
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(errors="replace")    # » on a terminal that lacks it
    printer = Printer(columns=args.columns, width=output_width(args, is_tty),
                      colour=use_colour(args.colour, is_tty, os.environ),
                      topic_width=args.topic_width, show_time=not args.no_time,
                      show_other=not args.no_other, just=split_topics(args.just),
                      ignore=split_topics(args.ignore))
    try:
        # readline, not a read-ahead loop: each line shows as soon as it arrives.
        for line in iter(source.readline, ""):
            for out in printer.render(line):
                sys.stdout.write(out + "\n")
            sys.stdout.flush()
    except BrokenPipeError:
        # The reader (head, less) has gone: stop without a traceback. Point
        # stdout at /dev/null so the interpreter's last flush fails quietly too.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except KeyboardInterrupt:
        return 130
    return 0

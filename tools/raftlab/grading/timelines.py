"""The timeline page of a failing graded run, made by the grader.

A graded run is the submission's code: everything it writes is the
student's. So the run writes only the data a page embeds (the harness with
LAB_TIMELINE_DATA=1: "<test>-SEED=<seed>[-sim].json") into a directory of
its own, bound writable into the sandbox; the grader reads that one file
name there, with care (no link followed, a regular file with one link, at
most TRACE_CAP bytes), checks its shape, and writes the page itself from its
own copy of the template (tools/timeline/timeline.html), the data
re-serialised so that no string can end the <script> element it sits in,
and a Content-Security-Policy that lets only the template's own script run
and the page fetch nothing. The verdict, class and reason on the page are
the grader's, not the run's. Anything wrong is that run's note ("timeline:
not kept: ..."), never the batch's.
"""
from __future__ import annotations

import base64
import errno
import hashlib
import json
import os
import shutil
import stat
from typing import Any

from .. import timeline as timeline_mod
from ..run.run import Outcome

TRACE_CAP = 16 << 20               # bytes of a run's trace data the grader reads
SUBMISSION_PAGE_CAP = 64 << 20     # bytes of pages kept per submission
MAX_SERVER = 63                    # the harness traces at most 64 servers; -1 is the tester
MAX_INT = 1 << 53                  # what JavaScript holds exactly
TRACE_INSIDE = "/run/raftlab-timeline"   # where the sandbox sees the run's trace directory
NOTE = ("Made by the grader from the events this run recorded. The run is the submission's code: its log lines, "
        "marks and method names are its own text, shown as text. The verdict, class and reason are the grader's.")


class TraceError(Exception):
    """Why a run's trace data cannot make a page (one line)."""


def trace_dir(log_path: str) -> str:
    """The directory a run writes its trace data into, beside its log."""
    return log_path + ".trace"


def file_names(outcome: Outcome) -> list[str]:
    """The names the harness gives a run's trace data (real time, simulation)."""
    part, name = outcome.test.split("/", 1)
    stem = f"raft{part}-{name}-SEED={outcome.seed}"
    return [stem + ".json", stem + "-sim.json"]


def prepare(directory: str, owner: int) -> None:
    """A fresh, empty trace directory, writable by the sandbox's uid."""
    remove(directory)
    os.mkdir(directory, 0o700)
    if owner >= 0:
        os.chown(directory, owner, owner)


def remove(directory: str) -> None:
    """Removes a run's trace directory, whatever the run did to it."""
    if not os.path.lexists(directory):
        return
    if os.path.islink(directory) or not os.path.isdir(directory):
        os.remove(directory)
        return
    try:
        os.chmod(directory, 0o700)
    except OSError:
        pass

    def retry(func: Any, path: str, _exc: Any) -> None:
        try:
            os.chmod(os.path.dirname(path), 0o700)
            func(path)
        except OSError:
            pass
    shutil.rmtree(directory, onerror=retry)


def read_trace(directory: str, names: list[str], cap: int = TRACE_CAP) -> bytes | None:
    """The run's trace data: the first of names in directory, opened
    without following links, a regular file with one link and at most cap
    bytes. None when the run left none; TraceError when it is not fit."""
    try:
        dfd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as err:
        if err.errno == errno.ENOENT:
            return None
        raise TraceError(f"its trace directory cannot be opened ({err.strerror}): not followed")
    try:
        for name in names:
            try:
                fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dfd)
            except OSError as err:
                if err.errno == errno.ENOENT:
                    continue
                if err.errno == errno.ELOOP:
                    raise TraceError(f"{name} is a symbolic link: not followed")
                raise TraceError(f"{name} cannot be opened: {err.strerror}")
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                os.close(fd)
                raise TraceError(f"{name} is not a regular file")
            with os.fdopen(fd, "rb") as f:
                if st.st_nlink != 1:
                    raise TraceError(f"{name} has {st.st_nlink} links: not read")
                if st.st_size > cap:
                    raise TraceError(f"its trace data is {st.st_size / 2**20:.1f} MiB, over the grader's "
                                     f"{cap >> 20} MiB cap")
                data = f.read(cap + 1)
                if len(data) > cap:
                    raise TraceError(f"its trace data grew over the grader's {cap >> 20} MiB cap while read")
                return data
        return None
    finally:
        os.close(dfd)


def _int(v: object, lo: int = -MAX_INT, hi: int = MAX_INT) -> bool:
    return type(v) is int and lo <= v <= hi


def _strings(v: object) -> bool:
    return isinstance(v, list) and all(isinstance(s, str) for s in v)


def _reject(_: str) -> Any:
    raise ValueError("NaN or Infinity")


def check(raw: bytes) -> dict[str, Any]:
    """The trace data, parsed and checked against the shape the harness
    writes (harness/harness_timeline.c); raises TraceError saying what is
    wrong. Only the fields the page reads are kept."""
    try:
        doc = json.loads(raw.decode("utf-8"), parse_constant=_reject)
    except UnicodeDecodeError:
        raise TraceError("its trace data is not UTF-8")
    except (ValueError, RecursionError) as err:
        raise TraceError(f"its trace data is not valid JSON ({str(err)[:80]})")
    if not isinstance(doc, dict) or doc.get("format") != 1:
        raise TraceError("its trace data is not a timeline of format 1")
    for key in ("kinds", "fates", "names"):
        if not _strings(doc.get(key)):
            raise TraceError(f"its trace data's {key} is not a list of strings")
    for key in ("endAt", "dropped"):
        if not _int(doc.get(key)):
            raise TraceError(f"its trace data's {key} is not an integer")
    calls, logs, events = doc.get("calls"), doc.get("logs"), doc.get("events")
    if not (isinstance(calls, list) and isinstance(logs, list) and isinstance(events, list)):
        raise TraceError("its trace data lacks calls, logs or events")
    _check_rows(doc["kinds"], doc["fates"], calls, logs, events)
    return {k: doc[k] for k in ("endAt", "dropped", "kinds", "fates", "names", "calls", "logs", "events")}


def _check_rows(kinds: list[str], fates: list[str], calls: list[Any], logs: list[Any], events: list[Any]) -> None:
    """Each row of the three arrays as the harness writes it, or TraceError."""
    network = kinds.index("network") if "network" in kinds else -1
    for i, c in enumerate(calls):
        if not (isinstance(c, list) and len(c) == 11 and all(_int(v) for v in c)
                and _int(c[0], -1, MAX_SERVER) and _int(c[1], -1, MAX_SERVER) and _int(c[9], 0, len(fates) - 1)):
            raise TraceError(f"its trace data's call {i} is malformed")
    for i, entry in enumerate(logs):
        if not (isinstance(entry, list) and len(entry) == 5 and all(_int(v) for v in entry[:4])
                and _int(entry[1], -1, MAX_SERVER) and (entry[4] is None or isinstance(entry[4], str))):
            raise TraceError(f"its trace data's log line {i} is malformed")
    for i, e in enumerate(events):
        ok = (isinstance(e, list) and 4 <= len(e) <= 9 and all(_int(v) for v in e[:4])
              and _int(e[0], 0, len(kinds) - 1) and _int(e[2], -1, MAX_SERVER)
              and (len(e) < 5 or e[4] is None or isinstance(e[4], str)) and all(_int(v) for v in e[5:]))
        if ok and e[0] == network and len(e) > 6:
            ok = _int(e[6], 0, MAX_SERVER + 1)
        if not ok:
            raise TraceError(f"its trace data's event {i} is malformed")


def script_text(value: object) -> str:
    """JSON that no string can break out of inside a <script> element:
    ASCII only, and '<', '>' and '&' as \\u escapes (so no '</script', no
    '<!--'), no NaN."""
    text = json.dumps(value, ensure_ascii=True, separators=(",", ":"), allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def csp(tail: str) -> str:
    """A policy that runs only the template's own script (by its hash) and
    loads nothing: a meta element for the page's head."""
    start = tail.index("<script>") + len("<script>")
    body = tail[start: tail.index("</script>", start)]
    digest = base64.b64encode(hashlib.sha256(body.encode("utf-8")).digest()).decode()
    return ('<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
            f"script-src 'sha256-{digest}'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; "
            "form-action 'none'\">\n")


def page(data: dict[str, Any], outcome: Outcome, template: str = timeline_mod.TEMPLATE) -> str:
    """The page: the grader's template, the checked data, the grader's verdict."""
    head, tail = timeline_mod.read_template(template)
    at = head.index("<head>") + len("<head>\n")
    head = head[:at] + csp(tail) + head[at:]
    doc: dict[str, Any] = {
        "format": 1, "test": "raft" + outcome.test, "seed": str(outcome.seed),
        "replay": f" (replay: {outcome.replay})" if outcome.replay else "",
        "verdict": "FAIL", "failClass": outcome.cls, "reason": outcome.reason, "graderNote": NOTE, **data}
    parts = []
    for key, value in doc.items():
        if key in ("calls", "logs", "events"):
            rows = ",\n".join(script_text(row) for row in value)
            parts.append(f"{script_text(key)}:[" + ("\n" + rows if rows else "") + "]")
        else:
            parts.append(f"{script_text(key)}:{script_text(value)}")
    return head + "{" + ",\n".join(parts) + "}\n" + tail


class PageKeeper:
    """Makes the page of each failing run from its trace data, beside its
    kept log, up to SUBMISSION_PAGE_CAP per submission. Never raises: what
    goes wrong is the outcome's timeline_note."""

    def __init__(self, template: str = timeline_mod.TEMPLATE) -> None:
        self.template = template
        self.kept: dict[str, int] = {}   # submission -> bytes of pages kept

    def keep(self, tag: str, outcome: Outcome, directory: str, dest_dir: str) -> None:
        try:
            raw = read_trace(directory, file_names(outcome))
            if raw is None:
                outcome.timeline_note = ("none: the run left no trace data (killed, or ended before the "
                                         "harness wrote it)")
                return
            used = self.kept.get(tag, 0)
            if used >= SUBMISSION_PAGE_CAP:
                outcome.timeline_note = (f"not kept: this submission's {SUBMISSION_PAGE_CAP >> 20} MiB of "
                                         "timeline pages is used up")
                return
            text = page(check(raw), outcome, self.template)
            dest = os.path.join(dest_dir, f"{outcome.test.replace('/', '-')}-SEED={outcome.seed}.html")
            from .outputs import save
            save(dest, text)
            self.kept[tag] = used + len(text)
            outcome.timeline = dest
        except TraceError as err:
            outcome.timeline_note = f"not kept: {err}"
        except Exception as err:   # the grader's own fault: this run's note, never the batch's
            outcome.timeline_note = f"not kept: the grader failed making it: {type(err).__name__}: {err}"

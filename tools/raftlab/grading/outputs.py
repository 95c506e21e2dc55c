"""What the grader writes, and how: every report, results.json and CSV
written atomically (a temporary file beside it, then os.replace), the
stale ones of an earlier grading removed before anything runs, failing
logs kept with caps (a log's head and tail; a total per submission).
Everything printed or saved here goes through untrusted.printable: no
control character of a submission's text reaches a terminal or a report
(the kept logs are the runs' own output, kept as they were written)."""
from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import tempfile
from typing import Any, Sequence

from ..run.run import Outcome
from ..run.untrusted import printable
from . import gradescope, report, timelines

LOG_KEEP_CAP = 1 << 20            # bytes of a failing log's head, and of its tail, kept
SUBMISSION_LOG_CAP = 32 << 20     # bytes of failing logs kept per submission


def save(path: str, text: str) -> None:
    """Writes text to path atomically: readers see the old file or the new one;
    its control characters but newline, tab and CSV's CR-LF made printable."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=directory)
    try:
        with os.fdopen(fd, "w", newline="") as f:
            f.write("\r\n".join(printable(part) for part in text.split("\r\n")))
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.lexists(tmp):
            os.remove(tmp)
        raise


def _remove(path: str) -> None:
    if os.path.islink(path) or os.path.isfile(path):
        os.remove(path)
    elif os.path.isdir(path):
        shutil.rmtree(path, ignore_errors=True)


def json_path(args: argparse.Namespace, name: str) -> str | None:
    if not args.json:
        return None
    return os.path.join(args.json, name + ".json") if len(args.submissions) > 1 else args.json


def remove_stale_batch(args: argparse.Namespace) -> None:
    """The batch's CSV (and a single results.json) of an earlier grading."""
    for path in (args.csv, args.json if len(args.submissions) == 1 else None):
        if path and (os.path.isfile(path) or os.path.islink(path)):
            os.remove(path)


def remove_stale(args: argparse.Namespace, name: str) -> None:
    """A submission's files of an earlier grading: its directory, its JSON."""
    _remove(os.path.join(args.out, name))
    path = json_path(args, name)
    if path and len(args.submissions) > 1:
        _remove(path)


def write_all(grade: report.Grade, policy_text: str, args: argparse.Namespace) -> None:
    out_dir = os.path.join(args.out, grade.name)
    text = printable(report.text_report(grade, policy_text, out_dir))
    print(text, flush=True)
    save(os.path.join(out_dir, "report.txt"), text + "\n")
    body = json.dumps(_printable_doc(gradescope.results(grade, policy_text, out_dir)), indent=2) + "\n"
    save(os.path.join(out_dir, "results.json"), body)
    path = json_path(args, grade.name)
    if path:
        save(path, body)
    shutil.rmtree(os.path.join(out_dir, "runs"), ignore_errors=True)   # every log was kept or removed


def _printable_doc(doc: Any) -> Any:
    """A JSON document with every string printable (JSON would escape a
    control character, but whoever reads the document gets it back)."""
    if isinstance(doc, str):
        return printable(doc)
    if isinstance(doc, list):
        return [_printable_doc(x) for x in doc]
    if isinstance(doc, dict):
        return {k: _printable_doc(v) for k, v in doc.items()}
    return doc


def write_csv(path: str, grades: Sequence[report.Grade]) -> None:
    buf = io.StringIO(newline="")
    report.write_csv_to(buf, grades)
    save(path, buf.getvalue())


class LogKeeper:
    """Keeps the log of each failing run (head and tail), up to a total per
    submission, and with pages, its timeline page beside it (made by the
    grader: timelines.py); removes the others and every run's trace data.
    Never raises: a log it cannot keep is said so in the outcome's log path,
    a page in its timeline_note, and the run's verdict stands."""

    def __init__(self, out: str, pages: bool = False) -> None:
        self.out = out
        self.kept: dict[str, int] = {}   # submission -> bytes kept
        self.pages = timelines.PageKeeper() if pages else None

    def keep_if_failed(self, tag: str, outcome: Outcome) -> None:
        path = outcome.log_path
        try:
            if self.pages is not None and path and not outcome.passed:
                self.pages.keep(tag, outcome, timelines.trace_dir(path), os.path.join(self.out, tag, "failures"))
        finally:
            self._keep_log(tag, outcome, path)
            if self.pages is not None and path:
                try:
                    timelines.remove(timelines.trace_dir(path))
                except OSError:
                    pass

    def _keep_log(self, tag: str, outcome: Outcome, path: str) -> None:
        try:
            if outcome.passed:
                outcome.log_path = ""
                return
            used = self.kept.get(tag, 0)
            if used >= SUBMISSION_LOG_CAP:
                outcome.log_path = ""
                return
            failures = os.path.join(self.out, tag, "failures")
            os.makedirs(failures, exist_ok=True)
            kept = os.path.join(failures, f"{outcome.test.replace('/', '-')}-SEED={outcome.seed}.log")
            self.kept[tag] = used + copy_capped(path, kept)
            outcome.log_path = kept
        except OSError as err:
            outcome.log_path = ""
            outcome.reason += f" [its log could not be kept: {err.strerror}]"
        finally:
            try:
                if path and os.path.lexists(path):
                    os.remove(path)
            except OSError:
                pass


def copy_capped(src: str, dest: str, cap: int = LOG_KEEP_CAP) -> int:
    """Copies src's head and tail (cap bytes each) to dest; returns the
    bytes written. Reads at most 2 × cap bytes whatever src's size."""
    fd = os.open(src, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(fd, "rb") as f, open(dest, "wb") as out:
        size = os.fstat(f.fileno()).st_size
        if size <= 2 * cap:
            data = f.read(2 * cap)
            out.write(data)
            return len(data)
        head = f.read(cap)
        f.seek(size - cap)
        tail = f.read(cap)
        note = f"\n[... {size - 2 * cap} bytes of this log cut by the grader ...]\n".encode()
        out.write(head + note + tail)
        return len(head) + len(note) + len(tail)

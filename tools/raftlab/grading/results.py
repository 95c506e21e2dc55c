"""A shard's results file: JSON Lines, one JSON object per line, written
as the grading goes (appended, flushed and synced line by line: a shard
killed at any moment keeps every run it finished; a torn last line is
ignored and cut off when the shard resumes).

  {"type": "header", "schema": "raftlab-grade-results", "version": 1,
   "shard": {"index": I, "count": N}, "batch": {...}, "host": ..., "started": ...}
      batch: what every shard of one grading must share, and merge checks:
      tree (SHA-256 of the lab and the grader), seed, runs, tests, points,
      policy, sim, strategy, limits, starved_reruns, submissions ([{name,
      sha256, taken_from}] in the batch's order; sha256 "" for one without
      a raft.c)
  {"type": "submission", "name", "path", "taken_from", "status", "detail",
   "files": {"refused.txt" or "build.log": text}}
      one per submission of the shard's share (and every NO-SOURCE one)
  {"type": "run", "sub", "test", "k", "seed", "passed", "cls", "reason",
   "wall", "cpu", "title", "replay", "started", "log", "starved": [...],
   "starved_counted", "machine", "timeline", "timeline_note"}
      one per finished unit; log: the kept log of a failing run, relative
      to the file's directory; timeline: its timeline page, the same way
      ("" when none; timeline_note says why); starved: why each earlier attempt was
      judged STARVED and run again; starved_counted: this last attempt was
      starved too, but the re-runs were used up, so it counts as it ended;
      machine: what the grader measured of the machine during a failed run
  {"type": "end", "runs": n, "finished": ...}
      the shard finished its whole share
"""
from __future__ import annotations

import datetime
import json
import os
import socket
from dataclasses import dataclass, field
from typing import Any, cast

from ..run.policy import OutcomeClass
from ..run.run import Outcome
from .sharding import Shard, Unit

SCHEMA, VERSION = "raftlab-grade-results", 1


class ResultsError(Exception):
    pass


@dataclass
class RunRecord:
    unit: Unit
    outcome: Outcome
    starved: list[str] = field(default_factory=list)   # the re-run attempts' reasons
    starved_counted: bool = False


@dataclass
class SubRecord:
    name: str
    path: str
    taken_from: str = ""
    status: str = "OK"
    detail: str = ""
    files: dict[str, str] = field(default_factory=dict)


@dataclass
class ShardFile:
    path: str
    shard: Shard
    batch: dict[str, Any]
    subs: dict[str, SubRecord] = field(default_factory=dict)
    runs: dict[Unit, RunRecord] = field(default_factory=dict)
    complete: bool = False
    host: str = ""
    good_bytes: int = 0      # the length of the file's whole lines


def now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def run_to_json(r: RunRecord, log: str, page: str = "") -> dict[str, Any]:
    o = r.outcome
    return {"type": "run", "sub": r.unit.sub, "test": r.unit.test, "k": r.unit.k, "seed": o.seed,
            "passed": o.passed, "cls": o.cls, "reason": o.reason, "wall": round(o.wall_seconds, 3),
            "cpu": round(o.cpu_seconds, 3), "title": o.title, "replay": o.replay, "started": round(o.started, 3),
            "log": log, "starved": r.starved, "starved_counted": r.starved_counted, "machine": o.machine,
            "timeline": page, "timeline_note": o.timeline_note}


def run_from_json(d: dict[str, Any], base: str) -> RunRecord:
    unit = Unit(str(d["sub"]), str(d["test"]), int(d["k"]))
    o = Outcome(test=unit.test, seed=int(d["seed"]), passed=bool(d["passed"]), cls=cast(OutcomeClass, d["cls"]),
                reason=str(d["reason"]), wall_seconds=float(d["wall"]), cpu_seconds=float(d["cpu"]),
                title=str(d["title"]), replay=str(d["replay"]), started=float(d["started"]),
                log_path=os.path.join(base, d["log"]) if d["log"] else "", machine=str(d.get("machine", "")),
                timeline=os.path.join(base, d["timeline"]) if d.get("timeline") else "",
                timeline_note=str(d.get("timeline_note", "")))
    return RunRecord(unit, o, [str(s) for s in d.get("starved", [])], bool(d.get("starved_counted", False)))


def sub_to_json(s: SubRecord) -> dict[str, Any]:
    return {"type": "submission", "name": s.name, "path": s.path, "taken_from": s.taken_from, "status": s.status,
            "detail": s.detail, "files": s.files}


def read(path: str) -> ShardFile:
    """A results file; raises ResultsError when it is not one (or of
    another version). A torn last line (a shard killed while writing it)
    is left out."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as err:
        raise ResultsError(f"{path}: {err.strerror}")
    base = os.path.dirname(os.path.abspath(path))
    lines = data.split(b"\n")
    good = 0
    result: ShardFile | None = None
    for i, raw in enumerate(lines):
        if i == len(lines) - 1:
            break   # after the last newline: empty, or a torn line
        try:
            d = json.loads(raw)
        except ValueError:
            if i == len(lines) - 2 and not lines[-1]:
                break   # a torn line that happens to end the file
            raise ResultsError(f"{path}: line {i + 1} is not JSON")
        if result is None:
            if not isinstance(d, dict) or d.get("type") != "header" or d.get("schema") != SCHEMA:
                raise ResultsError(f"{path}: not a raftlab grading results file")
            if d.get("version") != VERSION:
                raise ResultsError(f"{path}: results version {d.get('version')}, this grader reads {VERSION}")
            result = ShardFile(path, Shard(int(d["shard"]["index"]), int(d["shard"]["count"])), d["batch"],
                               host=str(d.get("host", "")))
        elif d.get("type") == "submission":
            result.subs[d["name"]] = SubRecord(d["name"], d["path"], d["taken_from"], d["status"], d["detail"],
                                               dict(d.get("files", {})))
        elif d.get("type") == "run":
            rec = run_from_json(d, base)
            result.runs[rec.unit] = rec
        elif d.get("type") == "end":
            result.complete = True
        good += len(raw) + 1
    if result is None:
        raise ResultsError(f"{path}: empty (a shard that never started?)")
    result.good_bytes = good
    return result


class Writer:
    """Appends records to a shard's results file, each line synced."""

    def __init__(self, path: str, shard: Shard, batch: dict[str, Any], resume: ShardFile | None) -> None:
        self.path = path
        self.dir = os.path.dirname(os.path.abspath(path))
        os.makedirs(self.dir, exist_ok=True)
        if resume is not None:
            with open(path, "r+b") as f:
                f.truncate(resume.good_bytes)
            self.f = open(path, "ab")
        else:
            tmp = path + ".tmp"
            with open(tmp, "wb") as f:
                f.write(self._line({"type": "header", "schema": SCHEMA, "version": VERSION,
                                    "shard": {"index": shard.index, "count": shard.count}, "batch": batch,
                                    "host": socket.gethostname(), "started": now()}))
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
            self.f = open(path, "ab")

    @staticmethod
    def _line(d: dict[str, Any]) -> bytes:
        return (json.dumps(d, separators=(",", ":"), ensure_ascii=False) + "\n").encode()

    def write(self, d: dict[str, Any]) -> None:
        self.f.write(self._line(d))
        self.f.flush()
        os.fsync(self.f.fileno())

    def run(self, r: RunRecord) -> None:
        log = os.path.relpath(r.outcome.log_path, self.dir) if r.outcome.log_path else ""
        page = os.path.relpath(r.outcome.timeline, self.dir) if r.outcome.timeline else ""
        self.write(run_to_json(r, log, page))

    def submission(self, s: SubRecord) -> None:
        self.write(sub_to_json(s))

    def end(self, runs: int) -> None:
        self.write({"type": "end", "runs": runs, "finished": now()})

    def close(self) -> None:
        self.f.close()


def logs_dir(path: str) -> str:
    """Where a shard keeps its failing runs' logs: beside its results file."""
    return path[: -len(".jsonl")] + ".logs" if path.endswith(".jsonl") else path + ".logs"

"""Splitting a grading into shards: which shard this is, the work units
and each one's share and seed, and the fingerprint of what is graded.

A unit is one run of one test of one submission: (submission, test, k),
k = 0 … runs-1. Its seed comes from the grading's --seed and the unit alone
(a hash), so a unit has the same seed whichever shard runs it and however
many shards there are. The units, in a fixed order (submission by
submission in the batch's order, then run by run, then test by test), are
cut into N contiguous shares whose sizes differ by one at most: a shard
builds only the few submissions its share holds, and a share holds whole
rounds of the lab where it can, so shares take about the same time.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from typing import Mapping, Sequence


class ShardError(Exception):
    pass


@dataclass(frozen=True)
class Shard:
    index: int
    count: int
    source: str = "--shard"     # where index and count came from

    @property
    def whole(self) -> bool:
        return self.count == 1

    def file_name(self) -> str:
        return f"shard-{self.index:04d}-of-{self.count:04d}.jsonl"


@dataclass(frozen=True)
class Unit:
    sub: str
    test: str
    k: int


def parse_shard(spec: str | None, count: int | None, env: Mapping[str, str]) -> Shard | None:
    """This process's shard: --shard I/N; else Slurm's array variables
    (SLURM_ARRAY_TASK_ID minus SLURM_ARRAY_TASK_MIN, of
    SLURM_ARRAY_TASK_COUNT); else a Kubernetes indexed Job's
    JOB_COMPLETION_INDEX, of --shard-count; else None (the whole batch)."""
    if spec:
        try:
            i_text, n_text = spec.split("/")
            index, total = int(i_text), int(n_text)
        except ValueError:
            raise ShardError(f"--shard {spec}: expected I/N, e.g. 3/10 (shards are numbered from 0)")
        if count is not None and count != total:
            raise ShardError(f"--shard {spec} and --shard-count {count} disagree")
        return _checked(Shard(index, total, "--shard"))
    if env.get("SLURM_ARRAY_TASK_ID"):
        try:
            task = int(env["SLURM_ARRAY_TASK_ID"]) - int(env.get("SLURM_ARRAY_TASK_MIN") or 0)
            total = count if count is not None else int(env["SLURM_ARRAY_TASK_COUNT"])
        except (KeyError, ValueError):
            raise ShardError("SLURM_ARRAY_TASK_ID is set, but not SLURM_ARRAY_TASK_COUNT (or --shard-count): "
                             "how many shards are there?")
        return _checked(Shard(task, total, "SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT"))
    if env.get("JOB_COMPLETION_INDEX"):
        if count is None:
            raise ShardError("JOB_COMPLETION_INDEX is set (a Kubernetes indexed Job): give the Job's completions "
                             "as --shard-count N")
        try:
            index = int(env["JOB_COMPLETION_INDEX"])
        except ValueError:
            raise ShardError(f"JOB_COMPLETION_INDEX={env['JOB_COMPLETION_INDEX']!r} is not a number")
        return _checked(Shard(index, count, "JOB_COMPLETION_INDEX, --shard-count"))
    if count is not None:
        raise ShardError("--shard-count without --shard, SLURM_ARRAY_TASK_ID or JOB_COMPLETION_INDEX")
    return None


def _checked(shard: Shard) -> Shard:
    if shard.count < 1 or not 0 <= shard.index < shard.count:
        raise ShardError(f"shard {shard.index}/{shard.count} (from {shard.source}): the index must be "
                         f"0 … count-1 and the count at least 1")
    return shard


def units(subs: Sequence[str], tests: Sequence[str], runs: int) -> list[Unit]:
    """Every unit of a grading, in the fixed order shares are cut from."""
    return [Unit(s, t, k) for s in subs for k in range(runs) for t in tests]


def share(all_units: Sequence[Unit], shard: Shard) -> list[Unit]:
    """Shard index's contiguous share of all_units."""
    n = len(all_units)
    return list(all_units[shard.index * n // shard.count:(shard.index + 1) * n // shard.count])


def unit_seed(seed: int, unit: Unit) -> int:
    """The unit's seed: 63 bits of SHA-256 over the grading's seed and the unit."""
    digest = hashlib.sha256(f"raftlab-grade\0{seed}\0{unit.sub}\0{unit.test}\0{unit.k}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


# What identifies the lab a grading ran: the framework, the harness, the
# tests, the Makefile and the grader (raft/raft.c, the skeleton, is not used).
TREE_DIRS = ("lab", "labrpc", "persister", "applych", "raft", "harness", "harness/support", "tests", "tools/raftlab",
             "tools/raftlab/run",
             "tools/raftlab/grading")
TREE_SUFFIXES = (".c", ".h", ".py", ".txt")


def tree_digest(root: str) -> str:
    """SHA-256 of the files that make the lab and the grader (names and bytes)."""
    h = hashlib.sha256()
    paths = ["Makefile"]
    for d in TREE_DIRS:
        full = os.path.join(root, d)
        if os.path.isdir(full):
            paths += [os.path.join(d, n) for n in sorted(os.listdir(full))
                      if n.endswith(TREE_SUFFIXES) and os.path.isfile(os.path.join(full, n))]
    for rel in sorted(set(paths) - {"raft/raft.c"}):
        with open(os.path.join(root, rel), "rb") as f:
            data = f.read()
        h.update(f"{rel}\0{len(data)}\0".encode() + data)
    return h.hexdigest()

"""grade merge DIR…: the shards' results files (shard-I-of-N.jsonl, found
in the directories given and below them) combined into exactly what one
machine grading the whole batch writes: each submission's report.txt,
results.json, refused.txt or build.log and failing logs under --out, the
reports on standard output, --json and --csv.

It refuses, saying which files and how they differ, shards of different
gradings (the lab tree, the seed, the runs, the tests, the points, the
policy, the limits, the submissions), of different shard counts, or the
same shard twice; and it names the shards that are missing or did not
finish (--allow-incomplete merges them anyway: the submissions they
leave short are INCOMPLETE).
"""
from __future__ import annotations

import argparse
import glob
import os
import sys
from typing import Any, Sequence

from ..run.paths import LAB_ROOT as ROOT
from . import outputs, results, sharding
from .results import RunRecord, ShardFile, SubRecord
from .sharding import Unit


class MergeError(Exception):
    pass


FIELDS = {
    "tree": "lab tree (the framework, tests or grader differ: grade every shard with the same tree)",
    "seed": "seed", "runs": "runs per test", "tests": "tests", "points": "points",
    "policy": "scoring policy", "sim": "mode (simulation or real time)", "strategy": "simulation strategy",
    "limits": "limits", "starved_reruns": "STARVED re-runs", "all_tests": "tests",
    "submissions": "submissions (names or raft.c contents)",
}


def batch_difference(a: dict[str, Any], b: dict[str, Any]) -> str:
    """How two gradings differ, in words ("" when they do not)."""
    for key in sorted(set(a) | set(b)):
        if a.get(key) != b.get(key):
            what = FIELDS.get(key, key)
            if key == "tree":
                return f"the {what}"
            if key == "submissions":
                names_a = [s["name"] for s in a.get(key, [])]
                names_b = [s["name"] for s in b.get(key, [])]
                if names_a != names_b:
                    return f"the submissions ({', '.join(names_a[:5])}… against {', '.join(names_b[:5])}…)"
                changed = [x["name"] for x, y in zip(a[key], b[key]) if x != y]
                return f"the submissions' raft.c ({', '.join(changed[:5])} changed)"
            if key == "points":
                pa, pb = a.get(key, {}), b.get(key, {})
                diff = [t for t in sorted(set(pa) | set(pb)) if pa.get(t) != pb.get(t)]
                return f"the points ({', '.join(f'{t}: {pa.get(t)} against {pb.get(t)}' for t in diff[:3])})"
            return f"the {what} ({_short(a.get(key))} against {_short(b.get(key))})"
    return ""


def _short(v: object) -> str:
    text = str(v)
    return text if len(text) <= 80 else text[:77] + "..."


def find(dirs: Sequence[str]) -> list[str]:
    paths: list[str] = []
    for d in dirs:
        if os.path.isfile(d):
            paths.append(d)
        elif os.path.isdir(d):
            paths += sorted(glob.glob(os.path.join(d, "**", "shard-*-of-*.jsonl"), recursive=True))
        else:
            raise MergeError(f"{d}: no such file or directory")
    if not paths:
        raise MergeError(f"no shard-*-of-*.jsonl results file in {', '.join(dirs)}")
    return sorted(set(os.path.abspath(p) for p in paths))


def share_sizes(batch: dict[str, Any], count: int) -> list[int]:
    names = [s["name"] for s in batch["submissions"] if s["sha256"]]
    every = sharding.units(names, batch["tests"], batch["runs"])
    return [len(sharding.share(every, sharding.Shard(i, count))) for i in range(count)]


def check(shards: Sequence[ShardFile], allow_incomplete: bool) -> list[str]:
    """Raises MergeError when the shards cannot be merged; returns the
    warnings of an incomplete merge that allow_incomplete permits."""
    first = shards[0]
    for s in shards[1:]:
        if s.shard.count != first.shard.count:
            raise MergeError(f"{s.path} is shard {s.shard.index} of {s.shard.count}, {first.path} of "
                             f"{first.shard.count}: shards of different splits")
        why = batch_difference(first.batch, s.batch)
        if why:
            raise MergeError(f"{s.path} and {first.path} are from different gradings: {why}")
    count = first.shard.count
    seen: dict[int, str] = {}
    for s in shards:
        if s.shard.index in seen:
            raise MergeError(f"shard {s.shard.index} of {count} twice: {seen[s.shard.index]} and {s.path} "
                             "(keep one)")
        seen[s.shard.index] = s.path
    problems = []
    missing = [i for i in range(count) if i not in seen]
    if missing:
        problems.append(f"missing shard(s) {', '.join(map(str, missing))} of {count} "
                        f"(no {', '.join(sharding.Shard(i, count).file_name() for i in missing[:5])})")
    sizes = share_sizes(first.batch, count)
    unfinished = [s for s in shards if not s.complete]
    if unfinished:
        problems.append("unfinished shard(s): " + "; ".join(
            f"{s.shard.index} ({len(s.runs)} of {sizes[s.shard.index]} runs, {s.path})"
            for s in sorted(unfinished, key=lambda s: s.shard.index))
            + ": run them again (each resumes where it stopped)")
    if problems and not allow_incomplete:
        raise MergeError("; ".join(problems) + " (or merge with --allow-incomplete: INCOMPLETE reports)")
    return problems


def combine(shards: Sequence[ShardFile]) -> tuple[list[SubRecord], list[RunRecord]]:
    """The batch's submissions, in its order, and every run recorded."""
    batch = shards[0].batch
    runs: dict[Unit, RunRecord] = {}
    for s in shards:
        for unit, run in s.runs.items():
            if unit in runs:
                raise MergeError(f"{unit.sub} {unit.test} run {unit.k + 1} is in two shards' results")
            runs[unit] = run
    subs = []
    for entry in batch["submissions"]:
        name = entry["name"]
        seen = [(s.shard.index, s.subs[name]) for s in shards if name in s.subs]
        if not seen:
            rec = SubRecord(name, "", entry["taken_from"], "INCOMPLETE",
                            "its shard(s) are missing: none of its runs is here")
        else:
            rec = seen[0][1]
            verdicts = {(r.status, r.detail) for _, r in seen}
            if len(verdicts) > 1:
                rec = SubRecord(rec.name, rec.path, rec.taken_from, "GRADER-ERROR",
                                "its shards disagree on building it: " + "; ".join(
                                    f"shard {i}: {r.status}" for i, r in seen) + ": grade it again")
        subs.append(rec)
    return subs, list(runs.values())


def build_parser() -> argparse.ArgumentParser:
    doc = (__doc__ or "").split("\n\n")
    ap = argparse.ArgumentParser(prog="grading/grade merge", description=doc[0],
                                 epilog="\n\n".join(doc[1:]), formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dirs", nargs="+", metavar="DIR", help="directories (or files) holding the shards' results")
    ap.add_argument("--out", default=os.path.join(ROOT, "build", "grade"),
                    help="where each submission's report, results.json and failing logs go (default build/grade)")
    ap.add_argument("--json", metavar="PATH", help="Gradescope results.json (a directory of NAME.json for a batch)")
    ap.add_argument("--csv", metavar="FILE", help="one row per submission")
    ap.add_argument("--allow-incomplete", action="store_true",
                    help="merge even when shards are missing or unfinished (their submissions: INCOMPLETE)")
    return ap


def main(argv: list[str]) -> int:
    from .. import grade
    args = build_parser().parse_args(argv)
    try:
        shards = [results.read(p) for p in find(args.dirs)]
        warnings = check(shards, args.allow_incomplete)
        subs, runs = combine(shards)
    except (MergeError, results.ResultsError) as err:
        print(f"grade merge: {err}", file=sys.stderr)
        return 2
    for w in warnings:
        print(f"grade merge: warning: {w}", file=sys.stderr)
    batch = shards[0].batch
    args.submissions = [s.name for s in subs]   # what outputs.json_path counts
    if args.json and len(subs) > 1 and os.path.isfile(args.json):
        print("grade merge: --json must be a directory when merging several submissions", file=sys.stderr)
        return 2
    print(f"grade merge: {len(shards)} shard(s) of {shards[0].shard.count}, {len(runs)} runs, "
          f"{len(subs)} submission(s), seed {batch['seed']}", file=sys.stderr)
    outputs.remove_stale_batch(args)
    grades = grade.make_grades(batch, subs, runs, incomplete=False)
    grade.write_reports(grades, grade.policy_text(batch), args, copy_logs=True,
                        files={s.name: s.files for s in subs})
    return 0

#!/usr/bin/env python3
"""check_grading.py: grading/grade grades what it is given as it should.

First batch (one pool, one run of every test each):
  solution   solution/raft.c                         full marks
  tamperer   a tarball of the skeleton with a 2A suite rewritten to pass
             and a Makefile that skips the tests     0, every test LIVENESS
                                                     (only raft.c is taken)
  segv       checks/faulty/segv_in_handler            0, every test CRASH
  exit       checks/faulty/exit_in_start              2A's points; every
                                                     other test EXIT
  broken     a raft.c with a syntax error            BUILD-ERROR, 0
Then every results.json passes the Gradescope schema check, the CSV has a
row per submission, the stale files planted before it (a failing log, a
report, a JSON, the CSV) are gone, and the checker itself rejects a
malformed document.

Second batch: the hostile corpus (checks/hostile/: each .c case and the
trees of trees.py) with the reference, one run of one test each, small
CPU, file and address-space limits (4 s, 16 MiB, 2 GiB): each case's status, score and reason as its header
says, the reference's full marks, no process and no file left behind.
Then the escape batch (checks/hostile/escape/, with bubblewrap only):
hostile code graded with the object check off (grade's test-only
--skip-objcheck-for-testing), so that the sandbox itself is tested: a
detached process, reading and writing the lab tree, kill(-1), raised
limits, the network; nothing may get out. After every batch the lab
tree (the grader's Python, solution/, the Makefile, ...) is byte for
byte what it was. Third: SIGINT three times during a grading: the reports are written, once.
Then grade --sim; then a course in shards (course_check): the same
grading in one process, in 3 shards as separate processes, in 3 shards
under GNU parallel, and in 2 shards one of which is killed half-way and
resumed: every merge writes what the one process wrote (scores, pass
counts, failure seeds, the reports and the CSV but for times); merge
names a missing shard; the emitted Kubernetes Job is valid YAML with an
indexed Job's fields (and passes kubectl's client-side dry run where
kubectl works offline); the emitted Slurm and parallel scripts parse.
Usage: PYTHONPATH=tools checks/check_grading.py [--jobs J] [--only course|hostile|escape]
(about 5 minutes on 2 cores; make check-grading sets PYTHONPATH)
"""
from __future__ import annotations

import csv
import glob
import hashlib
import io
import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from typing import Any, Literal

from hostile import trees   # checks/hostile/trees.py: this file's directory, tests/, is on sys.path
from raftlab.grading import gradescope
from raftlab.run import sandbox
from raftlab.run import policy
from raftlab.run.paths import LAB_ROOT as ROOT

GRADE = os.path.join(ROOT, "grading", "grade")   # a link to tools/grade, run as instructors run it
failures: list[str] = []


def check(cond: bool, what: str) -> None:
    if not cond:
        failures.append(what)
        print(f"check_grading: FAILED: {what}", file=sys.stderr)


def patched(name: str, work: str) -> str:
    out = os.path.join(work, name)
    os.makedirs(out)
    with open(os.path.join(ROOT, "checks/faulty", name + ".patch")) as patch:
        subprocess.run(["patch", "-s", "-o", os.path.join(out, "raft.c"), os.path.join(ROOT, "solution/raft.c")],
                       stdin=patch, check=True)
    return out


def tamper_tarball(work: str) -> str:
    """The skeleton, with tests that would pass anything."""
    path = os.path.join(work, "tamperer.tar.gz")
    fake_suite = b'#include <criterion/criterion.h>\nTest(raft2A, t01_initial_election) { cr_assert(1); }\n'
    with tarfile.open(path, "w:gz") as t:
        t.add(os.path.join(ROOT, "raft/raft.c"), "tamperer/raft/raft.c")
        for name, data in (("tamperer/tests/test_2a.c", fake_suite),
                           ("tamperer/Makefile", b"test-2A:\n\ttrue\n")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return path


def main() -> int:
    jobs = sys.argv[sys.argv.index("--jobs") + 1] if "--jobs" in sys.argv else "4"
    work = tempfile.mkdtemp(prefix="check-grading-")
    before = tree_digest()
    only = sys.argv[sys.argv.index("--only") + 1] if "--only" in sys.argv else ""
    if only:   # one part: course, hostile or escape
        if only == "course":
            course_check(work)
        elif only == "hostile":
            hostile_batch(work, jobs)
        elif only == "escape":
            escape_batch(work, jobs)
        else:
            raise SystemExit(f"--only {only}: one of course, hostile, escape")
        check_tree(before, f"after --only {only}")
        if failures:
            print(f"check_grading: {len(failures)} problem(s); work files kept in {work}", file=sys.stderr)
            return 1
        shutil.rmtree(work, ignore_errors=True)
        return 0
    solution = os.path.join(work, "solution")
    os.makedirs(solution)
    shutil.copyfile(os.path.join(ROOT, "solution/raft.c"), os.path.join(solution, "raft.c"))
    segv, exit_ = patched("segv_in_handler", work), patched("exit_in_start", work)
    os.rename(segv, os.path.join(work, "segv"))
    os.rename(exit_, os.path.join(work, "exit"))
    broken = os.path.join(work, "broken.c")
    with open(broken, "w") as f:
        f.write('#include "raft/raft.h"\nint raft_this_is_not_c(void) { return 0 }\n')
    subs = [solution, tamper_tarball(work), os.path.join(work, "segv"), os.path.join(work, "exit"), broken]
    out, json_dir, csv_path = (os.path.join(work, d) for d in ("out", "json", "grades.csv"))
    stale = [os.path.join(out, "segv", "failures", "2A-t01_initial_election-SEED=1.log"),
             os.path.join(out, "solution", "report.txt"), os.path.join(json_dir, "exit.json"), csv_path]
    for path in stale:   # an earlier grading's files: removed first, never mixed in
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write("STALE\n")
    start = time.monotonic()
    proc = subprocess.run([sys.executable, GRADE, *subs, "--runs", "1",
                           "--jobs", jobs, "--out", out, "--json", json_dir, "--csv", csv_path, "--seed", "1"],
                          capture_output=True, text=True)
    took = time.monotonic() - start
    check(proc.returncode == 0, f"grade exited {proc.returncode}: {proc.stderr[-2000:]}")

    docs: dict[str, Any] = {}
    for name in ("solution", "tamperer", "segv", "exit", "broken"):
        path = os.path.join(json_dir, name + ".json")
        check(os.path.exists(path), f"no {path}")
        if os.path.exists(path):
            check(gradescope.check_file(path) == [], f"{path}: {gradescope.check_file(path)}")
            with open(path) as f:
                docs[name] = json.load(f)
    if len(docs) == 5:
        check_scores(docs)
    with open(csv_path) as f:
        rows = {r["submission"]: r for r in csv.DictReader(f)}
    check(set(rows) == set(docs), f"CSV rows {sorted(rows)}")
    for name, row in rows.items():
        print(f"  {name}: {row['status']}, {row['score']}/{row['max_score']} points, "
              f"{row['failed_runs']} of {row['runs']} runs failed")
    check(rows.get("broken", {}).get("status") == "BUILD-ERROR", "CSV: broken is not BUILD-ERROR")
    for path in stale:
        if os.path.exists(path):
            with open(path) as f:
                check("STALE" not in f.read(), f"{path}: an earlier grading's file was not removed")
    check(gradescope.problems({"score": "ten", "tests": [{"score": 3, "max_score": 2, "visibility": "public"}],
                               "colour": 1}) != [], "the schema check accepted a malformed document")
    first_failures = len(failures)
    if first_failures:
        print(proc.stdout)
    else:
        print(f"check_grading: the grader graded 5 submissions as expected in {took:.0f} s "
              f"(reference full marks; skeleton 0, LIVENESS; CRASH; EXIT; BUILD-ERROR; JSON and CSV valid)")
    check_tree(before, "after the first batch")
    hostile_batch(work, jobs)
    check_tree(before, "after the hostile batch")
    escape_batch(work, jobs)
    check_tree(before, "after the escape batch")
    interrupt_check(work)
    sim_check(work, jobs)
    course_check(work)
    check_tree(before, "at the end")
    if failures:
        print(f"check_grading: {len(failures)} problem(s); work files kept in {work}", file=sys.stderr)
        return 1
    subprocess.run(["rm", "-rf", work])
    return 0


def sim_check(work: str, jobs: str) -> None:
    """grade --sim: the reference keeps full marks, a failure's report line
    carries its replay command, and a raft.c that sleeps with usleep is
    REFUSED (simulation could not replay it), naming the call."""
    sim = os.path.join(work, "sim")
    subs = {name: os.path.join(sim, name) for name in ("reference", "skeleton", "usleep")}
    for name, path in subs.items():
        os.makedirs(path)
        shutil.copyfile(os.path.join(ROOT, "raft/raft.c" if name == "skeleton" else "solution/raft.c"),
                        os.path.join(path, "raft.c"))
    usleep_c = os.path.join(subs["usleep"], "raft.c")
    with open(usleep_c) as f:
        text = f.read()
    assert "\nvoid raft_kill(raft *rf)\n{\n" in text, "solution/raft.c: raft_kill moved"
    with open(usleep_c, "w") as f:
        f.write("#include <unistd.h>\n" + text.replace("\nvoid raft_kill(raft *rf)\n{\n",
                                                       "\nvoid raft_kill(raft *rf)\n{\n    usleep(1);\n"))
    out, json_dir = os.path.join(sim, "out"), os.path.join(sim, "json")
    proc = subprocess.run([sys.executable, GRADE, *subs.values(), "--sim", "--parts", "2A", "--runs", "2",
                           "--jobs", jobs, "--out", out, "--json", json_dir, "--seed", "1"],
                          capture_output=True, text=True)
    check(proc.returncode == 0, f"grade --sim exited {proc.returncode}: {proc.stderr[-2000:]}")
    docs = {}
    for name in subs:
        path = os.path.join(json_dir, name + ".json")
        check(os.path.exists(path), f"grade --sim: no {path}")
        if os.path.exists(path):
            with open(path) as f:
                docs[name] = json.load(f)
    if len(docs) != len(subs):
        return
    check(docs["reference"]["score"] == 15, f"grade --sim: the reference scored {docs['reference']['score']}/15")
    check(docs["skeleton"]["score"] == 0, f"grade --sim: the skeleton scored {docs['skeleton']['score']}")
    with open(os.path.join(out, "skeleton", "report.txt")) as f:
        report_text = f.read()
    check("replay: make test-2A SIM=1" in report_text, "grade --sim: no replay command beside the skeleton's failures")
    with open(os.path.join(out, "usleep", "refused.txt")) as f:
        refused = f.read()
    check(docs["usleep"]["score"] == 0 and "calls usleep(), which simulation mode (SIM=1) cannot schedule or "
          "replay: use lab_sleep_ms" in refused, f"grade --sim: a raft.c calling usleep was not refused: {refused}")
    if not failures:
        print("check_grading: grade --sim: reference 15/15, skeleton 0 with replay commands, usleep REFUSED")


# ---- a course in shards ------------------------------------------------------

TIMES = re.compile(r"\d+(?:\.\d+)? ± \d+(?:\.\d+)?|\d+(?:\.\d+)? s per run|took \d+ s on average|"
                   r"\d+(?:\.\d+)?$")


def comparable(out: str, csv_path: str) -> dict[str, Any]:
    """What a grading wrote, less its times and its output directory: each
    report.txt and results.json, and the CSV."""
    got: dict[str, Any] = {}
    for report_path in sorted(glob.glob(os.path.join(out, "*", "report.txt"))):
        name = os.path.basename(os.path.dirname(report_path))
        with open(report_path) as f:
            text = f.read().replace(out, "<out>").replace(os.path.relpath(out), "<out>")
        with open(os.path.join(out, name, "results.json")) as f:
            doc = json.load(f)
        got[name] = {
            "report": [TIMES.sub("<t>", line).rstrip() for line in text.splitlines()],
            "score": doc["score"],
            "tests": [(t["name"], t["score"], t["status"], TIMES.sub("<t>", t["output"])) for t in doc["tests"]],
            "logs": sorted(os.listdir(os.path.join(out, name, "failures")))
            if os.path.isdir(os.path.join(out, name, "failures")) else [],
        }
    with open(csv_path) as f:
        got["csv"] = [{k: v for k, v in row.items() if k not in ("lab_seconds", "path")} for row in csv.DictReader(f)]
    return got


def run_grade(args: list[str], timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, GRADE, *args], capture_output=True, text=True, timeout=timeout)


def course_check(work: str) -> None:
    """One grading in one process, in shards as processes, under GNU
    parallel, and killed and resumed: every merge is the one process's."""
    before = len(failures)
    start = time.monotonic()
    d = os.path.join(work, "course")
    subs = []
    for name, src in (("reference", "solution/raft.c"), ("skeleton", "raft/raft.c")):
        os.makedirs(os.path.join(d, name))
        shutil.copyfile(os.path.join(ROOT, src), os.path.join(d, name, "raft.c"))
        subs.append(os.path.join(d, name))
    shutil.copyfile(os.path.join(ROOT, "solution/raft.c"), os.path.join(d, "bare.c"))
    subs.append(os.path.join(d, "bare.c"))
    common = [*subs, "--sim", "--parts", "2A", "--runs", "3", "--seed", "5"]

    one = run_grade([*common, "--jobs", "2", "--out", os.path.join(d, "one"), "--csv", os.path.join(d, "one.csv")])
    check(one.returncode == 0, f"course: one process: exit {one.returncode}: {one.stderr[-1500:]}")
    expected = comparable(os.path.join(d, "one"), os.path.join(d, "one.csv"))
    check(expected.get("reference", {}).get("score") == 15 and expected.get("skeleton", {}).get("score") == 0
          and len([f for f in expected.get("skeleton", {}).get("logs", []) if f.endswith(".log")]) == 9
          and len([f for f in expected.get("skeleton", {}).get("logs", []) if f.endswith(".html")]) == 9,
          f"course: one process: unexpected grades {[(k, v['score']) for k, v in expected.items() if k != 'csv']}")

    def merged(name: str, dirs: list[str], extra: list[str] | None = None) -> subprocess.CompletedProcess[str]:
        out, csv_path = os.path.join(d, name + "-out"), os.path.join(d, name + ".csv")
        proc = run_grade(["merge", *dirs, "--out", out, "--csv", csv_path, *(extra or [])])
        if proc.returncode == 0:
            got = comparable(out, csv_path)
            for key in sorted(set(got) | set(expected)):
                check(got.get(key) == expected.get(key),
                      f"course: {name}: {key} differs from one process's:\n{got.get(key)}\n{expected.get(key)}")
        return proc

    # Three shards, three processes at once.
    res = os.path.join(d, "shards")
    procs = [subprocess.Popen([sys.executable, GRADE, *common, "--jobs", "1", "--shard", f"{i}/3", "--results", res],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(3)]
    for i, p in enumerate(procs):
        _, err = p.communicate(timeout=600)
        check(p.returncode == 0, f"course: shard {i}/3 exited {p.returncode}: {err[-1500:]}")
    m = merged("shards", [res])
    check(m.returncode == 0, f"course: merge of 3 shards: exit {m.returncode}: {m.stderr[-1500:]}")
    gone = os.path.join(res, "shard-0001-of-0003.jsonl")
    os.rename(gone, gone + ".away")
    m = run_grade(["merge", res, "--out", os.path.join(d, "missing-out")])
    check(m.returncode == 2 and "missing shard(s) 1 of 3" in m.stderr,
          f"course: merge without shard 1: exit {m.returncode}: {m.stderr[-800:]}")

    # The same under GNU parallel (Debian's parallel: .ci/run installs it).
    if shutil.which("parallel"):
        res_p = os.path.join(d, "parallel")
        cmd = ["parallel", "--will-cite", "--jobs", "3", "--halt", "now,fail=1", sys.executable, GRADE, *common,
               "--jobs", "1", "--shard", "{}/3", "--results", res_p + "/{}", ":::", "0", "1", "2"]
        par = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        check(par.returncode == 0, f"course: GNU parallel: exit {par.returncode}: {par.stderr[-1500:]}")
        m = merged("parallel", [os.path.join(res_p, str(i)) for i in range(3)])
        check(m.returncode == 0, f"course: merge of GNU parallel's shards: exit {m.returncode}: {m.stderr[-1500:]}")
    else:
        print("check_grading: course: GNU parallel is not installed (apt-get install parallel): its check skipped")

    # Shard 0 of 2 killed (SIGKILL, the whole grader) half-way, then resumed.
    res_k = os.path.join(d, "killed")
    path = os.path.join(res_k, "shard-0000-of-0002.jsonl")
    victim = subprocess.Popen([sys.executable, GRADE, *common, "--jobs", "1", "--shard", "0/2", "--results", res_k],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.monotonic() + 300
    finished = 0
    while time.monotonic() < deadline and victim.poll() is None:
        if os.path.exists(path):
            with open(path) as f:
                finished = f.read().count('"type":"run"')
            if finished >= 4:
                break
        time.sleep(0.05)
    os.killpg(victim.pid, signal.SIGKILL)
    _, err = victim.communicate()
    wd = grader_work_dir(err)
    if wd:
        shutil.rmtree(wd, ignore_errors=True)   # a killed grader cannot remove its own
    with open(path) as f:
        kept = f.read().count('"type":"run"')
    check(4 <= kept < 13, f"course: the killed shard kept {kept} runs (expected 4 to 12 of 13)")
    resumed = run_grade([*common, "--jobs", "2", "--shard", "0/2", "--results", res_k])
    check(resumed.returncode == 0 and f"{kept} already done" in resumed.stderr,
          f"course: the resumed shard did not skip its {kept} finished runs: {resumed.stderr[-1500:]}")
    other = run_grade([*common, "--jobs", "2", "--shard", "1/2", "--results", res_k])
    check(other.returncode == 0, f"course: shard 1/2: exit {other.returncode}: {other.stderr[-1500:]}")
    m = merged("killed", [res_k])
    check(m.returncode == 0, f"course: merge after a kill and a resume: exit {m.returncode}: {m.stderr[-1500:]}")

    emit_check(d, subs)
    if len(failures) == before:
        print(f"check_grading: a course in shards in {time.monotonic() - start:.0f} s: one process, 3 shards as "
              "processes, 3 under GNU parallel, 2 with one killed (SIGKILL) after "
              f"{kept} runs and resumed: every merge writes what one process wrote; a missing shard named; "
              "emitted job descriptions valid")


def emit_check(d: str, subs: list[str]) -> None:
    """The emitted Kubernetes Job: YAML with an indexed Job's fields, and
    kubectl's client-side dry run where it works without a cluster."""
    k8s = run_grade([*subs, "--emit", "k8s", "--shards", "3", "--seed", "5", "--runs", "3"])
    check(k8s.returncode == 0, f"course: --emit k8s: {k8s.stderr[-800:]}")
    try:
        import yaml  # noqa: F401  (python3-yaml, which .ci/run installs)
        doc = yaml.safe_load(k8s.stdout)
        spec = doc["spec"]
        container = spec["template"]["spec"]["containers"][0]
        check(doc["kind"] == "Job" and spec["completionMode"] == "Indexed" and spec["completions"] == 3
              and "--shard-count" in container["args"], f"course: --emit k8s: not an indexed Job of 3: {doc}")
    except ImportError:
        print("check_grading: course: python3-yaml is not installed: the YAML check skipped")
    if shutil.which("kubectl"):
        path = os.path.join(d, "job.yaml")
        with open(path, "w") as f:
            f.write(k8s.stdout)
        dry = subprocess.run(["kubectl", "create", "--dry-run=client", "--validate=false", "-o", "json", "-f", path],
                             capture_output=True, text=True, timeout=60)
        if dry.returncode == 0:
            check('"completionMode": "Indexed"' in dry.stdout, f"course: kubectl dry run: {dry.stdout[:500]}")
            print("check_grading: course: kubectl create --dry-run=client accepted the Job")
        else:
            print("check_grading: course: kubectl cannot dry-run without a cluster here (its client-side dry run "
                  "still asks the server for the API's groups): skipped")
    for kind in ("slurm", "parallel"):
        p = run_grade([*subs, "--emit", kind, "--shards", "3", "--seed", "5"])
        syntax = subprocess.run(["bash", "-n"], input=p.stdout, text=True, capture_output=True)
        check(p.returncode == 0 and syntax.returncode == 0, f"course: --emit {kind}: {p.stderr}{syntax.stderr}")


# ---- the hostile corpus ------------------------------------------------------

HOSTILE = os.path.join(ROOT, "checks", "hostile")
STUB = """
#include <stdlib.h>
#include "raft/raft.h"
struct raft { int me; };
raft *raft_make(labrpc_end **peers, int npeers, int me, persister *ps, applych *ch)
{
    (void)peers; (void)npeers; (void)ps; (void)ch;
    hostile_make();
    raft *rf = calloc(1, sizeof *rf);
    rf->me = me;
    return rf;
}
void raft_register_service(raft *rf, labrpc_server *srv) { (void)rf; (void)srv; }
bool raft_start(raft *rf, const void *command, size_t len, int *index, int *term)
{
    (void)rf; (void)command; (void)len; *index = -1; *term = 0;
    return false;
}
void raft_get_state(raft *rf, int *term, bool *is_leader) { (void)rf; *term = 0; *is_leader = false; }
void raft_snapshot(raft *rf, int index, const void *snapshot, size_t len)
{
    (void)rf; (void)index; (void)snapshot; (void)len;
}
void raft_kill(raft *rf) { free(rf); }
"""
EXPECT = re.compile(r"^// expect: ([A-Z|-]+)(?: (0|full))?(?: /(.*)/)?\s*$")
HOSTILE_TEST = "2A/t01_initial_election"
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")   # C0 but newline and tab, DEL, C1
# --ram-limit above the address space: memory_hog must meet its address-space limit first, whatever RAM the
# machine has (the default RAM limit shares the machine's), even where transparent huge pages make every
# MiB it touches cost 2 MiB.
HOSTILE_LIMITS = ["--cpu-limit", "4", "--file-limit", "16", "--memory-limit", "2", "--ram-limit", "4096",
                  "--build-timeout", "40"]


def c_cases(source_dir: str, d: str, subst: dict[str, str]) -> list[tuple[str, str | None, str, trees.Expect]]:
    """[(path, name, what, (statuses, score, regex))] for every .c case of
    source_dir, written under d with its placeholders (subst) replaced."""
    cases: list[tuple[str, str | None, str, trees.Expect]] = []
    with open(os.path.join(ROOT, "raft", "raft.c"), "rb") as f:
        skeleton = f.read()
    os.makedirs(d)
    for path in sorted(glob.glob(os.path.join(source_dir, "*.c"))):
        with open(path, "rb") as f:
            text = f.read()
        head = text.decode("utf-8", "replace").splitlines()[:3]
        what = head[0].split(":", 1)[1].strip()
        base = head[1].split(":", 1)[1].strip()
        m = EXPECT.match(head[2])
        if m is None:
            raise SystemExit(f"{path}: its third line is not '// expect: STATUS[|STATUS] [0|full] [/regex/]'")
        score: Literal[0, "full"] | None = 0 if m.group(2) == "0" else "full" if m.group(2) == "full" else None
        expect: trees.Expect = (set(m.group(1).split("|")), score, m.group(3))
        for key, value in subst.items():
            text = text.replace(key.encode(), value.encode())
        if base == "skeleton":
            text = b'#include <stdio.h>\n' + text + b"\n" + skeleton
        elif base == "stub":
            text = text + STUB.encode()
        name = os.path.basename(path)[:-2]
        with open(os.path.join(d, name + ".c"), "wb") as f:
            f.write(text)
        cases.append((os.path.join(d, name + ".c"), name, what, expect))
    return cases


def hostile_cases(work: str) -> list[tuple[str, str | None, str, trees.Expect]]:
    """[(path, name, what, (statuses, score, regex))] for every case."""
    d = os.path.join(work, "hostile")
    cases = c_cases(HOSTILE, d, {"@ROOT@": ROOT})
    reference = os.path.join(d, "reference.c")
    with open(os.path.join(ROOT, "solution", "raft.c"), "rb") as f, open(reference, "wb") as g:
        g.write(f.read())
    cases.append((reference, "reference", "the reference, in the same batch", ({"OK"}, "full", None)))
    for path, expect in trees.make(os.path.join(work, "trees"), ROOT, reference):
        cases.append((path, None, os.path.basename(path), expect))
    return cases


def grader_work_dir(stderr: str) -> str | None:
    m = re.search(r"^grade: work directory (\S+)", stderr, re.M)
    return m.group(1) if m else None


def our_processes(work: str, stderr: str) -> list[str]:
    """Processes of this check's gradings still alive: any whose command
    names this check's directory or the grader's work directory (every
    sandbox's bwrap does; what runs inside dies with its bwrap)."""
    marks = [work] + [d for d in [grader_work_dir(stderr)] if d]
    out = subprocess.run(["ps", "-e", "-o", "pid=,args="], capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if any(m in line for m in marks) and "ps -e" not in line
            and int(line.split()[0]) != os.getpid()]


class Batch:
    """What grading a batch of cases left: the grader's process, its CSV rows by path, where it wrote."""
    def __init__(self, proc: subprocess.CompletedProcess[str], by_path: dict[str, dict[str, str]], out: str,
                 json_dir: str, took: float, level: str, summary: dict[str, list[str]]) -> None:
        self.proc, self.by_path, self.out, self.json_dir = proc, by_path, out, json_dir
        self.took, self.level, self.summary = took, level, summary


def grade_cases(work: str, tag: str, cases: list[tuple[str, str | None, str, trees.Expect]], jobs: str,
                extra: list[str]) -> Batch:
    """Grades the cases in one batch and checks each outcome against its
    expectation, and that the batch left no process, work directory or stray file."""
    out, json_dir, csv_path = (os.path.join(work, tag + d) for d in ("-out", "-json", ".csv"))
    start = time.monotonic()
    proc = subprocess.run([sys.executable, GRADE, *[c[0] for c in cases],
                           "--tests", HOSTILE_TEST, "--runs", "1", "--jobs", jobs, "--out", out,
                           "--json", json_dir, "--csv", csv_path, "--seed", "1", *HOSTILE_LIMITS, *extra],
                          capture_output=True, text=True, timeout=900)
    took = time.monotonic() - start
    check(proc.returncode == 0, f"{tag} batch: grade exited {proc.returncode}: {proc.stderr[-3000:]}")
    check(re.search(r"^grade: (cgroups v[12]: each run gets|no cgroup per run \(.+\): a run's RAM is bounded only)",
                    proc.stderr, re.M) is not None, f"{tag} batch: the grader did not say whether runs get cgroups")
    level = next((line for line in proc.stderr.splitlines() if line.startswith("grade: sandbox:")), "grade: sandbox: ?")
    with open(csv_path) as f:
        rows = list(csv.DictReader(f))
    check(len(rows) == len(cases), f"{tag} batch: {len(rows)} CSV rows for {len(cases)} submissions")
    by_path = {r["path"]: r for r in rows}
    summary: dict[str, list[str]] = {}
    # Only a machine starved from outside (the grader's probe late by 15 % or more overall) may re-run them.
    late = re.search(r"the machine during the runs: the probe overslept its 10-ms sleeps by (\d+)%", proc.stderr)
    machine_starved = late is not None and int(late.group(1)) >= 15
    for path, name, what, (statuses, score, regex) in cases:
        row = by_path.get(path)
        if row is None:
            check(False, f"{tag}: {what}: no row in the CSV")
            continue
        doc_path = os.path.join(json_dir, row["submission"] + ".json")
        text = ""
        if os.path.exists(doc_path):
            with open(doc_path) as f:
                doc = json.load(f)
            check(gradescope.problems(doc) == [], f"{tag}: {row['submission']}: results.json is invalid")
            text = doc["output"] + "\n" + "\n".join(t["output"] for t in doc["tests"])
        else:
            check(False, f"{tag}: {row['submission']}: no results.json")
        label = name or row["submission"]
        ok = row["status"] in statuses
        if score == "full":
            ok = ok and float(row["score"]) == float(row["max_score"]) > 0
        elif score == 0:
            ok = ok and float(row["score"]) == 0
        if regex:
            ok = ok and re.search(regex, text) is not None
        first = next((line for line in text.splitlines() if line.startswith(row["status"] + ":")), "")
        check(ok, f"{tag}: {label} ({what}): got {row['status']} {row['score']}/{row['max_score']}, "
                  f"expected {'|'.join(sorted(statuses))} {score} /{regex}/:\n{text[:1200]}")
        if label in ("busy_loop", "starve_itself") and not machine_starved:   # burning CPU buys no STARVED re-run
            check(row["starved_reruns"] == "0", f"hostile: {label}: {row['starved_reruns']} STARVED re-run(s)")
        summary.setdefault(row["status"], []).append(label)
        print(f"  {tag} {label}: {row['status']} {row['score']}/{row['max_score']}"
              f"{'  ' + first[len(row['status']) + 2:][:150] if first else ''}")
    time.sleep(1)
    left = our_processes(work, proc.stderr)
    check(not left, f"{tag} batch: processes left behind: {left}")
    wd = grader_work_dir(proc.stderr)
    check(wd is not None and not os.path.exists(wd), f"{tag} batch: the grader left its work directory {wd}")
    stray = [p for p in glob.glob(os.path.join(out, "*", "*")) if os.path.basename(p) not in
             ("report.txt", "results.json", "failures", "build.log", "refused.txt")]
    check(not stray, f"{tag} batch: unexpected files in the output: {stray[:5]}")
    for kept in glob.glob(os.path.join(out, "*", "failures", "*.log")):
        check(os.path.getsize(kept) <= (2 << 20) + 200, f"{kept}: a kept log over its cap")
    # No control character of a submission's text reaches the grader's output or a report.
    written = {"stdout": proc.stdout, "stderr": proc.stderr}
    for path in [csv_path] + [p for p in glob.glob(os.path.join(out, "*", "*")) if os.path.isfile(p)]:
        with open(path, encoding="utf-8", errors="replace") as f:
            written[path] = f.read()
    for where, text in written.items():
        raw = CONTROL.search(text)
        check(raw is None, f"{tag} batch: a raw control character {raw.group()!r} in {where}" if raw else "")
    return Batch(proc, by_path, out, json_dir, took, level, summary)


def hostile_batch(work: str, jobs: str) -> None:
    cases = hostile_cases(work)
    b = grade_cases(work, "hostile", cases, jobs, [])
    check(not os.path.exists("/tmp/raftlab-hostile-escaped"), "a tar member escaped to /tmp")
    timeline_checks(cases, b.by_path, b.json_dir, b.out)
    print(f"check_grading: {len(cases)} hostile submissions in one batch in {b.took:.0f} s "
          f"({b.level[len('grade: '):]}): " + "; ".join(f"{k} {len(v)}" for k, v in sorted(b.summary.items())))


ESCAPE = os.path.join(HOSTILE, "escape")
# What the lab tree must keep byte for byte through every batch: the grader, the reference, the build.
TREE = ("Makefile", "solution", "tools", "grading", "lab", "labrpc", "persister", "applych", "raft", "harness",
        "tests", "checks")


def tree_digest() -> dict[str, str]:
    """{path: sha256} of every file of the lab tree that a grading must not change (Python's own
    __pycache__ aside: importing the grader writes it)."""
    found = {}
    for top in TREE:
        full = os.path.join(ROOT, top)
        paths = [full] if os.path.isfile(full) else []
        for here, dirs, files in os.walk(full):
            dirs[:] = [d for d in dirs if d != "__pycache__"]
            paths += [os.path.join(here, f) for f in files]
        for path in paths:
            with open(path, "rb") as f:
                found[os.path.relpath(path, ROOT)] = hashlib.sha256(f.read()).hexdigest()
    return found


def check_tree(before: dict[str, str], when: str) -> None:
    now = tree_digest()
    changed = sorted(k for k in set(before) | set(now) if before.get(k) != now.get(k))
    check(not changed, f"{when}: the lab tree changed: {changed[:10]}")


class Listener:
    """A TCP port on the host's loopback and an abstract Unix socket that
    no sandboxed run may reach: every connection is counted."""
    def __init__(self) -> None:
        self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.tcp.bind(("127.0.0.1", 0))
        self.tcp.listen(16)
        self.port = self.tcp.getsockname()[1]
        self.name = f"raftlab-escape-{os.getpid()}-{self.port}"
        self.unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.unix.bind("\0" + self.name)
        self.unix.listen(16)
        self.connections: list[str] = []
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while not self.done.is_set():
            ready, _, _ = select.select([self.tcp, self.unix], [], [], 0.2)
            for sock in ready:
                conn, _ = sock.accept()
                self.connections.append("tcp" if sock is self.tcp else "unix")
                conn.close()

    def close(self) -> None:
        self.done.set()
        self.thread.join()
        self.tcp.close()
        self.unix.close()


def escape_batch(work: str, jobs: str) -> None:
    """The sandbox itself, with hostile code the object check would refuse
    (grade's test-only --skip-objcheck-for-testing): each case of
    checks/hostile/escape/ tries to get out (a detached process that
    rewrites the results, reading and writing the lab tree, killing
    processes, raising its limits, the network) and must get what its
    header says; nothing it tried may have worked: no file in the escape
    directory, no 'ESCAPED:' line in any log, the check's canary process
    alive, no connection to the listener, every results.json the grader's,
    the reference's full marks. Only with bubblewrap: at a lesser level
    there is no sandbox to test, and a kill(-1) as root would reach the
    machine."""
    box = sandbox.detect()
    if box.level != "bwrap":
        print(f"check_grading: escape batch skipped: the sandbox here is not bubblewrap ({box.line()})")
        return
    escape_dir = os.path.join(work, "escape-marks")
    os.makedirs(escape_dir)
    os.chmod(escape_dir, 0o777)   # writable by the sandbox's uid, were it visible
    canary = subprocess.Popen(["sleep", "3600"])
    listener = Listener()
    out = os.path.join(work, "escape-out")
    try:
        cases = c_cases(ESCAPE, os.path.join(work, "escape"),
                        {"@ROOT@": ROOT, "@ESCAPE@": escape_dir, "@OUT@": out, "@CANARY@": str(canary.pid),
                         "@CHECK_PID@": str(os.getpid()),
                         "@PORT@": str(listener.port), "@ABSTRACT@": listener.name})
        reference = os.path.join(work, "escape", "reference.c")
        shutil.copyfile(os.path.join(ROOT, "solution", "raft.c"), reference)
        cases.append((reference, "reference", "the reference, in the same batch", ({"OK"}, "full", None)))
        b = grade_cases(work, "escape", cases, jobs, ["--skip-objcheck-for-testing"])
        time.sleep(2)   # a survivor would rewrite every 0.1 s
    finally:
        listener.close()
        alive = canary.poll() is None
        canary.kill()
        canary.wait()
    check("grade: WARNING: THE OBJECT CHECK WAS OFF" in b.proc.stderr,
          "escape batch: no warning that the check was off")
    check(alive, "escape batch: the check's canary process was killed")
    check(os.listdir(escape_dir) == [], f"escape batch: files written outside the sandbox: {os.listdir(escape_dir)}")
    check(listener.connections == [], f"escape batch: connections from the sandbox: {listener.connections}")
    for path in glob.glob(os.path.join(out, "*", "failures", "*.log")):
        with open(path, encoding="utf-8", errors="replace") as f:
            escaped = [line for line in f if line.startswith("ESCAPED:")]
        check(not escaped, f"escape batch: {path}: {escaped[:3]}")
    for path in glob.glob(os.path.join(out, "*", "results.json")):
        with open(path) as f:
            text = f.read()
        check(gradescope.check_file(path) == [] and "THE OBJECT CHECK WAS OFF" in text,
              f"escape batch: {path} is not the grader's: {text[:300]}")
        with open(os.path.join(os.path.dirname(path), "report.txt")) as f:
            check("ALL TESTS PASSED" not in f.read(), f"escape batch: {path}'s report was rewritten")
    print(f"check_grading: {len(cases)} escape attempts in the sandbox, the object check off, in {b.took:.0f} s "
          f"({b.level[len('grade: '):]}): " + "; ".join(f"{k} {len(v)}" for k, v in sorted(b.summary.items()))
          + "; nothing got out")


TIMELINE = re.compile(r"^// timeline: (page|none)(?: /(.*)/)?\s*$")


def timeline_expectations() -> dict[str, tuple[str, str | None]]:
    """{case: (page or none, regex)} from the cases' optional fourth header
    line: a page must be kept (and its data, decoded, match the regex), or
    none, with a note that matches it."""
    found = {}
    for path in glob.glob(os.path.join(HOSTILE, "*.c")):
        with open(path, encoding="utf-8", errors="replace") as f:
            head = [f.readline() for _ in range(4)]
        m = TIMELINE.match(head[3])
        if m:
            found[os.path.basename(path)[:-2]] = (m.group(1), m.group(2))
    return found


def page_problems(path: str, pattern: str | None) -> list[str]:
    """What is unsafe about a kept page: data that is not inert inside its
    script element, a script element of the run's, no hash-only policy."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    start = text.find('<script type="application/json" id="timeline-data">')
    end = text.find("</script>", start)
    body = text[text.find(">", start) + 1:end]
    problems = []
    if start < 0 or any(c in body for c in "<>&"):
        problems.append("the data holds a raw '<', '>' or '&'")
    if len(re.findall(r"(?i)<script\b", text)) != 2:
        problems.append(f"{len(re.findall(r'(?i)<script', text))} script elements, not 2")
    if not re.search(r"script-src 'sha256-[A-Za-z0-9+/=]+'", text[:text.find("</head>")]):
        problems.append("no hash-only Content-Security-Policy in its head")
    try:
        data = json.loads(body)
    except ValueError:
        return problems + ["its data is not JSON"]
    if data.get("verdict") != "FAIL" or not data.get("graderNote"):
        problems.append("not the grader's verdict and note")
    if pattern and not re.search(pattern, json.dumps(data, ensure_ascii=False)):
        problems.append(f"its data does not hold /{pattern}/")
    return problems


def timeline_checks(cases: list[tuple[str, str | None, str, trees.Expect]], by_path: dict[str, dict[str, str]],
                    json_dir: str, out: str) -> None:
    """The timeline cases get what their header says; every page kept in the
    batch is safe and under its cap."""
    expected = timeline_expectations()
    for path, name, what, _ in cases:
        if name not in expected or path not in by_path:
            continue
        kind, pattern = expected[name]
        with open(os.path.join(json_dir, by_path[path]["submission"] + ".json")) as f:
            doc = json.load(f)
        fails = [e for t in doc["tests"] for e in t.get("extra_data", {}).get("failures", [])]
        first = fails[0] if fails else {}
        page = os.path.join(out, by_path[path]["submission"], first["timeline"]) if first.get("timeline") else ""
        if kind == "page":
            check(bool(page) and os.path.isfile(page), f"hostile: {name} ({what}): no timeline page kept: {first}")
            if page and os.path.isfile(page):
                problems = page_problems(page, pattern)
                check(not problems, f"hostile: {name}: its page {page}: {'; '.join(problems)}")
        else:
            note = first.get("timeline_note", "")
            check(not page and re.search(pattern or "", note) is not None,
                  f"hostile: {name} ({what}): expected no page and a note /{pattern}/, got {first}")
        print(f"  hostile {name}: timeline {'page ' + os.path.basename(page) if page else first.get('timeline_note')}")
    pages = glob.glob(os.path.join(out, "*", "failures", "*.html"))
    for page in pages:
        check(os.path.getsize(page) <= (16 << 20) + (1 << 20), f"{page}: a kept page over its cap")
        problems = page_problems(page, None)
        check(not problems, f"{page}: {'; '.join(problems)}")
    print(f"check_grading: {len(pages)} timeline page(s) kept in the hostile batch, each safe and under its cap")


def interrupt_check(work: str) -> None:
    """Three SIGINTs once a run has finished: the grader stops, writes one
    report (INCOMPLETE, the finished runs counted), and exits 1."""
    out = os.path.join(work, "interrupted")
    ref = os.path.join(work, "hostile", "reference.c")
    before = len(failures)
    proc = subprocess.Popen([sys.executable, GRADE, ref, "--parts", "2A",
                             "--runs", "3", "--jobs", "2", "--out", out, "--seed", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stderr_lines = []
    assert proc.stderr is not None
    for line in proc.stderr:   # progress lines: wait for the first finished run
        stderr_lines.append(line)
        if re.match(r"^[1-9]\d*/9 runs", line):
            break
    for _ in range(3):
        proc.send_signal(signal.SIGINT)
        time.sleep(0.1)
    stdout, rest = proc.communicate(timeout=120)
    stderr = "".join(stderr_lines) + rest
    check(proc.returncode == 1, f"interrupted grading exited {proc.returncode}: {stderr[-1500:]}")
    path = os.path.join(out, "reference", "results.json")
    check(os.path.exists(path) and gradescope.check_file(path) == [], f"interrupted grading: no valid {path}")
    if os.path.exists(path):
        with open(path) as f:
            doc = json.load(f)
        check(doc["score"] > 0, f"interrupted grading: the finished runs did not count: {doc['output']}")
    check(stdout.count("=== reference") == 1 and "INCOMPLETE" in stdout,
          f"interrupted grading: not one INCOMPLETE report:\n{stdout[-1500:]}")
    time.sleep(1)
    left = our_processes(work, stderr)
    check(not left, f"interrupted grading left processes: {left}")
    wd = grader_work_dir(stderr)
    check(wd is not None and not os.path.exists(wd), f"interrupted grading left its work directory {wd}")
    if len(failures) == before:
        print("check_grading: three SIGINTs during a grading: it stopped, wrote one INCOMPLETE report "
              "(the finished runs counted), exited 1, left no process")


def classes(doc: dict[str, Any]) -> dict[str, str]:
    """{test name: its output's first line} for a results.json."""
    return {t["name"]: t["output"] for t in doc["tests"]}


def check_scores(docs: dict[str, Any]) -> None:
    sol = docs["solution"]
    want = policy.ORIGINAL_TESTS + len(policy.EXTRA_TESTS)
    check(len(sol["tests"]) == want,
          f"solution: {len(sol['tests'])} tests, not {want} (the original 28 and the extras)")
    check(sol["score"] == sum(t["max_score"] for t in sol["tests"]) and sol["score"] > 0,
          f"solution: {sol['score']} points, not full marks:\n{sol['output']}")
    for name, cls in (("tamperer", "LIVENESS"), ("segv", "CRASH")):
        check(docs[name]["score"] == 0, f"{name}: {docs[name]['score']} points, not 0")
        wrong = [n for n, o in classes(docs[name]).items() if f"failures: {cls}×1" not in o]
        check(not wrong, f"{name}: not {cls}: {wrong}")
    ex = docs["exit"]
    for t in ex["tests"]:
        if t["name"].startswith("2A"):
            check(t["score"] == t["max_score"], f"exit: {t['name']} did not pass: {t['output']}")
        else:
            check(t["score"] == 0 and "failures: EXIT×1" in t["output"], f"exit: {t['name']}: {t['output']}")
    br = docs["broken"]
    check(br["score"] == 0 and "BUILD-ERROR" in br["output"] and "error" in br["output"],
          f"broken: {br['output'][:500]}")


if __name__ == "__main__":
    sys.exit(main())

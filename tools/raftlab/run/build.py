"""Building a raft.c into the lab's test binary, with the lab's own Makefile
and flags (warnings are errors, as for the students).

The file is copied into build/submissions/<name>/raft.c and built with
RAFT=<that directory>: everything but that one file is this tree's own
framework and harness, and the framework's objects are shared by every
submission.
"""
from __future__ import annotations

import os
import re
import subprocess


class BuildError(Exception):
    def __init__(self, summary: str, log: str) -> None:
        super().__init__(summary)
        self.summary = summary
        self.log = log


def stage(root: str, name: str, source_bytes: bytes) -> str:
    """Writes the submission's raft.c under build/submissions/<name>/;
    returns the directory, relative to root (what RAFT= takes)."""
    rel = os.path.join("build", "submissions", name)
    os.makedirs(os.path.join(root, rel), exist_ok=True)
    path = os.path.join(root, rel, "raft.c")
    old = None
    if os.path.exists(path):
        with open(path, "rb") as f:
            old = f.read()
    if old != source_bytes:   # keep the object when nothing changed
        with open(path, "wb") as f:
            f.write(source_bytes)
    return rel


def build(root: str, raft_dir: str, env_overrides: dict[str, str] | None = None, jobs: int = 2) -> str:
    """make the test binary of RAFT=raft_dir; returns its absolute path.
    Raises BuildError with the compiler's first errors."""
    env = dict(os.environ)
    for var in ("SAN", "VALGRIND", "CC", "CFLAGS", "RAFT"):
        env.pop(var, None)   # the lab's own default build, whatever the caller's shell has
    env.update(env_overrides or {})
    args = ["make", "--no-print-directory", "-C", root, f"RAFT={raft_dir}"]
    proc = subprocess.run(args + [f"-j{jobs}", "raft-bin"], capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        log = proc.stdout + proc.stderr
        raise BuildError(first_errors(log), log)
    path = subprocess.run(args + ["-s", "print-raft-bin"], capture_output=True, text=True,
                          env=env, check=True).stdout.strip()
    return os.path.join(root, path)


def unreplayable(root: str, raft_dir: str) -> str:
    """What simulation cannot replay in RAFT=raft_dir's raft.c (make
    check-raft SIM=1: tools/check-raft --sim), as it said it; "" if nothing."""
    proc = subprocess.run(["make", "--no-print-directory", "-s", "-C", root, f"RAFT={raft_dir}", "SIM=1",
                           "check-raft"], capture_output=True, text=True)
    if proc.returncode == 0:
        return ""
    return "\n".join(line for line in (proc.stdout + proc.stderr).splitlines() if line.startswith("check-raft:"))


def first_errors(log: str, limit: int = 12) -> str:
    """The compiler's first error lines (with their context lines), or the
    log's last lines when no line looks like an error."""
    lines = log.splitlines()
    for i, line in enumerate(lines):
        if re.search(r"\b(error|fatal error|undefined reference|multiple definition)\b", line):
            return "\n".join(lines[i:i + limit])
    return "\n".join(lines[-limit:])

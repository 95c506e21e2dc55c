"""Building submissions: the trusted parts once, each raft.c in the sandbox.

  prepare_lab   make raft-bin RAFT=raft (the framework, the harness and the
                skeleton's test binary: the trusted one the test list comes
                from); the lab's flags and objects from make print-raft-build;
                the lab's public headers copied to a directory of their own
  build         one submission: compile raft.c in the sandbox (a view of the
                headers and of that one file, nothing else), with a timeout
                and limits (CPU, memory, file size), stdin /dev/null; check
                raft.o, its headers and its preprocessed source
                (raftlab.run.objcheck); link it, in the sandbox too, with the
                trusted objects. Raises BuildError or Refused.
Everything a sandbox wrote is taken only if it is a regular file (never a
link), and copied before use.
"""
from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import stat
import subprocess
import time

from typing import Sequence

from ..run import cgroups, limits as limits_mod, objcheck
from ..run.sandbox import Bind, Sandbox

BUILD_TIMEOUT = 120              # seconds for one compile or link
BUILD_LIMITS = limits_mod.Limits(cpu_seconds=60, address_space_gb=4, file_size_mb=64, processes=4096)
OUTPUT_CAP = 64 << 10            # bytes of compiler output kept (head and tail)
OBJECT_CAP = 64 << 20            # largest raft.o, raft.i or test binary taken
LAB_DIRS = objcheck.LAB_HEADER_DIRS
IN_LAB, IN_SRC, IN_OUT, IN_OBJ, IN_CHECKED = "/lab", "/src", "/out", "/obj", "/in"
# The compiler's whole environment: nothing of the grader's (an error
# message quoting it would reach the student).
BUILD_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "HOME": "/tmp"}


class BuildError(Exception):
    def __init__(self, summary: str, log: str = "") -> None:
        super().__init__(summary)
        self.summary, self.log = summary, log


class Refused(Exception):
    """raft.o breaks a rule: problems, one line each."""
    def __init__(self, problems: list[str]) -> None:
        super().__init__(problems[0])
        self.problems = problems


class Lab:
    """What prepare_lab found: flags, objects, the trusted binary, headers."""
    def __init__(self, root: str, flags: dict[str, list[str]], trusted_binary: str, headers: str,
                 objdir: str) -> None:
        self.root, self.flags, self.trusted_binary, self.headers = root, flags, trusted_binary, headers
        self.objdir = objdir   # the objects the link needs, readable by the sandbox's uid


def _make(root: str, args: list[str], timeout: float = 1800) -> tuple[int, str]:
    env = dict(os.environ)
    for var in ("SAN", "VALGRIND", "CC", "CFLAGS", "RAFT", "LDFLAGS", "LDLIBS", "RAFT_CPPFLAGS"):
        env.pop(var, None)
    proc = subprocess.run(["make", "--no-print-directory", "-C", root] + args, capture_output=True,
                          stdin=subprocess.DEVNULL, env=env, timeout=timeout)
    return proc.returncode, (proc.stdout + proc.stderr).decode("utf-8", "replace")


def prepare_lab(root: str, work: str) -> Lab:
    """Builds the trusted parts; raises BuildError when the lab itself does not build."""
    code, log = _make(root, ["-j2", "RAFT=raft", "raft-bin"])
    if code != 0:
        raise BuildError("the lab itself does not build (make raft-bin RAFT=raft)", log)
    code, out = _make(root, ["-s", "RAFT=raft", "print-raft-build"])
    code2, binary = _make(root, ["-s", "RAFT=raft", "print-raft-bin"])
    if code or code2:
        raise BuildError("make print-raft-build failed", out + binary)
    flags: dict[str, list[str]] = {}
    for line in out.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            flags[key] = shlex.split(value)
    # The objects the link needs, copied where the sandbox's uid can read them.
    objdir = _private_dir(os.path.join(work, "obj"))
    for rel in flags["OBJS"]:
        dest = os.path.join(objdir, rel)
        os.makedirs(os.path.dirname(dest), mode=0o755, exist_ok=True)
        shutil.copyfile(os.path.join(root, rel), dest)
        os.chmod(dest, 0o644)
    for here, dirs, _ in os.walk(objdir):
        for d in dirs:
            os.chmod(os.path.join(here, d), 0o755)
    headers = os.path.join(work, "lab")
    for d in LAB_DIRS:
        os.makedirs(os.path.join(headers, d), exist_ok=True)
        for name in sorted(os.listdir(os.path.join(root, d))):
            full = os.path.join(root, d, name)
            if name.endswith(".h") and not name.endswith("_internal.h") and os.path.isfile(full):
                shutil.copyfile(full, os.path.join(headers, d, name))
                os.chmod(os.path.join(headers, d, name), 0o644)
        os.chmod(os.path.join(headers, d), 0o755)
    os.chmod(headers, 0o755)
    return Lab(root, flags, os.path.join(root, binary.strip()), headers, objdir)


def _private_dir(path: str, owner: int = -1) -> str:
    os.makedirs(path, exist_ok=True)
    os.chmod(path, 0o755)
    if owner >= 0:
        os.chown(path, owner, owner)
    return path


def capped(data: bytes, cap: int = OUTPUT_CAP) -> str:
    """Head and tail of data (bytes) as text, decoded with replacement."""
    if len(data) > cap:
        data = data[: cap // 2] + b"\n[... %d bytes cut ...]\n" % (len(data) - cap) + data[-cap // 2:]
    return data.decode("utf-8", "replace")


def read_capped(path: str, cap: int = OUTPUT_CAP) -> str:
    """A file's head and tail, at a cost that does not grow with its size."""
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size <= cap:
                return f.read(cap).decode("utf-8", "replace")
            head = f.read(cap // 2)
            f.seek(size - cap // 2)
            tail = f.read(cap // 2)
    except OSError as err:
        return f"[cannot read {path}: {err}]"
    return (head.decode("utf-8", "replace") + f"\n[... {size - cap} bytes cut ...]\n"
            + tail.decode("utf-8", "replace"))


def run_sandboxed(box: Sandbox, argv: Sequence[str], ro: Sequence[Bind], rw: Sequence[Bind], cwd: str, log_path: str,
                  timeout: float | None = None, limits: limits_mod.Limits = BUILD_LIMITS,
                  groups: cgroups.Cgroups | None = None) -> tuple[int, str, str]:
    """Runs argv in the sandbox with limits and a timeout, output to
    log_path; returns (exit status, output head and tail, what stopped it).
    groups: where the step gets a cgroup of its own (RAM and tasks of all
    its processes together; whatever it left is killed at its end)."""
    timeout = timeout or BUILD_TIMEOUT
    dirs: list[str] = []
    if groups is not None:
        try:
            dirs = groups.make(cgroups.BUILD_RAM_MB, cgroups.BUILD_TASKS)
        except OSError:
            dirs = []   # the resource limits still hold
    procs = groups.procs_files(dirs) if groups is not None and dirs else []
    cmd = limits.command_prefix(procs) + box.wrap(argv, ro, rw, cwd, devices=False, proc=False)
    real_cwd = box.outside_cwd(cwd, ro, rw)
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                cwd=real_cwd, start_new_session=True, env=BUILD_ENV)
        stopped = ""
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            stopped = f"took more than {timeout} s (the build's time limit)"
            limits_mod.kill_tree(proc.pid)
            proc.wait()
        limits_mod.kill_tree(proc.pid)   # anything it left behind
    oom, tasks = groups.finish(dirs) if groups is not None and dirs else (False, False)
    code = proc.returncode
    if not stopped and oom:
        stopped = f"used more than the build's RAM limit ({cgroups.BUILD_RAM_MB} MiB, its cgroup)"
    elif not stopped and tasks and code != 0:
        stopped = f"reached the build's limit of {cgroups.BUILD_TASKS} processes (its cgroup)"
    elif not stopped and code == -signal.SIGXCPU:
        stopped = f"used the build's whole CPU-time limit ({limits.cpu_seconds} s)"
    elif not stopped and code == -signal.SIGXFSZ:
        stopped = f"wrote more than the build's file-size limit ({limits.file_size_mb} MiB)"
    elif not stopped and code in (-signal.SIGKILL,):
        stopped = "was killed (the build's limits)"
    return code, read_capped(log_path), stopped


def take_file(path: str, dest: str, cap: int = OBJECT_CAP) -> str:
    """Copies a file a sandbox wrote, only when it is a regular file (not a
    link) no larger than cap; returns dest, or raises BuildError."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0))
    except OSError as err:
        raise BuildError(f"{os.path.basename(path)}: {err.strerror}")
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise BuildError(f"{os.path.basename(path)} is not a regular file")
        if st.st_size > cap:
            raise BuildError(f"{os.path.basename(path)} is larger than {cap >> 20} MiB")
        with os.fdopen(fd, "rb") as src, open(dest, "wb") as dst:
            fd = -1
            shutil.copyfileobj(src, dst)
    finally:
        if fd >= 0:
            os.close(fd)
    return dest


def build(box: Sandbox, lab: Lab, work: str, name: str, source: bytes,
          replayable: bool = False, skip_check: bool = False,
          groups: cgroups.Cgroups | None = None) -> tuple[str, float]:
    """The test binary of one submission (its path), built and checked;
    raises BuildError or Refused. replayable (grading in simulation): also
    refuse the calls that simulation cannot schedule or replay. skip_check:
    no object check at all (grade's test-only switch, so that make
    check-grading can run hostile code in the sandbox; never for a grade).
    groups: each compile and link in a cgroup of its own, where the grader
    can make them."""
    top = _private_dir(os.path.join(work, "subs", name))
    src = _private_dir(os.path.join(top, "src"))
    with open(os.path.join(src, "raft.c"), "wb") as f:
        f.write(source)
    os.chmod(os.path.join(src, "raft.c"), 0o644)
    out = _private_dir(os.path.join(top, "out"), box.owner())
    mine = _private_dir(os.path.join(top, "checked"))
    cc, cflags = lab.flags["CC"], lab.flags["CFLAGS"]
    ro = [(lab.headers, IN_LAB), (src, IN_SRC)]
    rw = [(out, IN_OUT)]
    start = time.monotonic()

    code, text, stopped = run_sandboxed(
        box, cc + cflags + ["-MD", "-MF", IN_OUT + "/raft.d", "-c", IN_SRC + "/raft.c", "-o", IN_OUT + "/raft.o"],
        ro, rw, IN_LAB, os.path.join(top, "compile.log"), groups=groups)
    text = redact(text, [IN_SRC + "/raft.c", IN_LAB + "/", os.path.join(src, "raft.c"), lab.headers + "/"])
    if stopped:
        raise BuildError(f"the compiler {stopped}", text)
    if code != 0:
        raise BuildError(first_errors(text), text)
    obj = take_file(os.path.join(out, "raft.o"), os.path.join(mine, "raft.o"))
    deps = take_file(os.path.join(out, "raft.d"), os.path.join(mine, "raft.d"), 1 << 20)
    code, text, stopped = run_sandboxed(
        box, cc + cflags + ["-E", IN_SRC + "/raft.c", "-o", IN_OUT + "/raft.i"],
        ro, rw, IN_LAB, os.path.join(top, "preprocess.log"), groups=groups)
    if stopped or code != 0:
        raise Refused([f"raft.c cannot be preprocessed within the build's limits: {stopped or text[-300:]}"])
    pre = take_file(os.path.join(out, "raft.i"), os.path.join(mine, "raft.i"))

    try:
        with open(pre, "rb") as f:
            pre_text = f.read().decode("utf-8", "replace")
        problems = (objcheck.check_object(obj) +
                    objcheck.check_headers(objcheck.read_deps(deps), IN_LAB, IN_SRC + "/raft.c")
                    if box.level == "bwrap" else
                    objcheck.check_object(obj) +
                    objcheck.check_headers(objcheck.read_deps(deps), lab.headers, os.path.join(src, "raft.c")))
        problems += objcheck.check_preprocessed(pre_text, "raft.c")
        if replayable:
            problems += objcheck.check_replay(obj)
    except (OSError, subprocess.SubprocessError) as err:
        raise BuildError(f"the object check could not read raft.o: {err}")
    if problems and not skip_check:
        raise Refused(problems)

    objs = lab.flags["OBJS"]
    code, text, stopped = run_sandboxed(
        box, cc + lab.flags["LDFLAGS"] + ["-o", IN_OUT + "/raft-tests"] + objs[:-1]
        + [IN_CHECKED + "/raft.o", objs[-1]] + lab.flags["LIBS"],
        [(lab.objdir, IN_OBJ), (mine, IN_CHECKED)], rw, IN_OBJ, os.path.join(top, "link.log"), groups=groups)
    if stopped or code != 0:
        raise BuildError(f"linking failed{': the linker ' + stopped if stopped else ''}\n" + first_errors(text), text)
    binary = take_file(os.path.join(out, "raft-tests"), os.path.join(mine, "raft-tests"), 256 << 20)
    os.chmod(binary, 0o755)
    shutil.rmtree(out, ignore_errors=True)
    return binary, time.monotonic() - start


DIAGNOSTIC = re.compile(r"^(?:In file included from |\s+from )?(/[^:\s]+|[^:\s/][^:\s]*):\d+(?::\d+)?[:,]")


def redact(log: str, allowed: Sequence[str]) -> str:
    """The compiler's output without what it quotes of a file a submission
    may not include (outside the sandbox's view, an #include of a secret
    file would have its lines quoted in the errors the student sees): every
    diagnostic located in such a file, with its quoted lines, becomes one
    line naming the file."""
    ok_prefixes = tuple(allowed) + objcheck.SYSTEM_HEADER_PREFIXES
    out: list[str] = []
    hiding = False
    for line in log.splitlines():
        m = DIAGNOSTIC.match(line)
        if m:
            path = os.path.normpath(m.group(1)) if m.group(1).startswith("/") else m.group(1)
            hiding = not (path.startswith(ok_prefixes) or path in allowed or "/" not in path)
            if hiding:
                line = f"[a diagnostic in {path}, a file a submission may not include, withheld]"
                if out and out[-1] == line:
                    continue
            out.append(line)
        elif hiding and (line.startswith(" ") or line.startswith("\t")):
            continue
        else:
            hiding = False if not line.startswith(" ") else hiding
            out.append(line)
    return "\n".join(out)


def first_errors(log: str, limit: int = 12) -> str:
    """The compiler's first error lines, or the log's last lines."""
    lines = log.splitlines()
    for i, line in enumerate(lines):
        if re.search(r"\b(error|fatal error|undefined reference|multiple definition)\b", line):
            return "\n".join(lines[i:i + limit])
    return "\n".join(lines[-limit:])

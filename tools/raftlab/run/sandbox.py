"""The sandbox around every process that runs or compiles untrusted code.

Levels, best first; `detect` takes the best that works here and `line`
says which in one line:

  bwrap        bubblewrap: new user, PID, mount, network, IPC, UTS and cgroup
               namespaces; a read-only view of /usr (and /lib*, a few files
               of /etc) and of what the command needs, nothing else of the
               machine (no lab tree, no solution/, no grader, no output
               directory); a private /tmp; no further user namespaces; a new
               session; killed with its parent; every process in it dies
               with it (the PID namespace ends). As root, the sandbox runs
               as an unprivileged uid (nobody, 65534) through setpriv, so
               nothing in it holds any privilege on the machine.
  unshare-net  only a new network namespace (unshare -n, or -rn); the code
               runs as the grader's user and sees what that user sees.
  none         no isolation beyond the resource limits.

The resource limits (limits.py) are set outside, before the sandbox starts,
so nothing inside can raise them.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass, field
from typing import Sequence, Tuple

from . import limits as limits_mod

SANDBOX_UID = 65534   # nobody, when the grader is root

# A path to bind into the sandbox: (outside, inside).
Bind = Tuple[str, str]
BWRAP_ARGS = ["--unshare-all", "--die-with-parent", "--new-session", "--hostname", "raftlab"]


@dataclass
class Sandbox:
    level: str                              # bwrap, unshare-net, none
    why: str = ""                           # why not better
    drop_to: int = -1                       # the uid the sandbox runs as, or -1: the grader's
    extra: list[str] = field(default_factory=list)   # bwrap options that this bwrap has

    def line(self) -> str:
        if self.level == "bwrap":
            who = (f"uid {self.drop_to}" if self.drop_to >= 0 else "the grader's uid (not root)"
                   if os.geteuid() != 0 else "root, without setpriv to drop it: install util-linux")
            return (f"sandbox: bubblewrap (own user, PID, mount, network and IPC namespaces; read-only /usr "
                    f"and only the files each step needs; private /tmp; as {who})")
        if self.level == "unshare-net":
            return (f"sandbox: ONLY a network namespace (bubblewrap unusable: {self.why}); "
                    "code runs as the grader's user")
        if self.why.startswith("not wanted"):
            return "sandbox: NONE (--no-sandbox); only resource limits"
        return f"sandbox: NONE (bubblewrap unusable: {self.why}; no network namespace either); only resource limits"

    def owner(self) -> int:
        """The uid that files the sandbox writes must belong to (or -1)."""
        return self.drop_to

    def wrap(self, argv: Sequence[str], ro: Sequence[Bind] = (), rw: Sequence[Bind] = (), cwd: str = "/tmp",
             share_net: bool = False, devices: bool = True, as_pid_1: bool = False, proc: bool = True) -> list[str]:
        """The command that runs argv (paths as seen inside) in the sandbox.
        ro and rw are (outside path, inside path) pairs to bind. devices:
        bwrap's small /dev (null, zero, urandom, ptmx, ...); else /dev/null
        alone (the compiler: an #include of a device finds nothing). proc:
        a /proc of the sandbox's own processes (the compiler has none: an
        #include of /proc/self/environ finds nothing)
        as_pid_1: the command is the PID namespace's first process (no
        bwrap reaper between), so that its CPU time and its children's reach
        the caller's wait4; when it ends, every process in the namespace dies."""
        if self.level == "unshare-net":
            return list(self._unshare) + _unmapped(argv, ro, rw)
        if self.level != "bwrap":
            return _unmapped(argv, ro, rw)
        cmd = []
        if self.drop_to >= 0:
            cmd += ["setpriv", f"--reuid={self.drop_to}", f"--regid={self.drop_to}", "--clear-groups",
                    "--inh-caps=-all", "--bounding-set=-all", "--"]
        cmd += ["bwrap"] + BWRAP_ARGS + self.extra + (["--as-pid-1"] if as_pid_1 else [])
        if share_net:
            cmd += ["--share-net"]
        cmd += system_binds()
        cmd += ["--dev", "/dev"] if devices else ["--dir", "/dev", "--dev-bind", "/dev/null", "/dev/null"]
        cmd += ["--proc", "/proc"] if proc else []
        cmd += ["--tmpfs", "/tmp", "--dir", "/tmp/home",
                "--setenv", "TMPDIR", "/tmp", "--setenv", "HOME", "/tmp/home"]
        for src, dst in ro:
            cmd += ["--ro-bind", src, dst]
        for src, dst in rw:
            cmd += ["--bind", src, dst]
        cmd += ["--chdir", cwd, "--"]
        return cmd + list(argv)

    def outside_cwd(self, cwd: str, ro: Sequence[Bind] = (), rw: Sequence[Bind] = ()) -> str | None:
        """The working directory to start the command in: None with bwrap
        (it changes directory inside), else cwd mapped to the real path."""
        if self.level == "bwrap":
            return None
        for src, dst in list(ro) + list(rw):
            if cwd == dst:
                return src
            if dst.startswith(cwd + "/") and src.endswith(dst[len(cwd):]):
                return src[: len(src) - len(dst) + len(cwd)]
        return None

    _unshare: tuple[str, ...] = ()   # unshare-net: the prefix (limits.sandbox_prefix)


def _unmapped(argv: Sequence[str], ro: Sequence[Bind], rw: Sequence[Bind]) -> list[str]:
    """Without bwrap the paths are the real ones: map inside paths back."""
    mapping = sorted(list(ro) + list(rw), key=lambda p: -len(p[1]))
    out = []
    for arg in argv:
        for src, dst in mapping:
            if arg == dst or arg.startswith(dst + "/"):
                arg = src + arg[len(dst):]
                break
            for flag in ("-I", "-o"):
                if arg == flag + dst:
                    arg = flag + src
        out.append(arg)
    return out


def system_binds() -> list[str]:
    """/usr read-only, /lib* and /bin as on this machine (links or dirs),
    and the few files of /etc that programs look up."""
    args = ["--ro-bind", "/usr", "/usr"]
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(top):
            args += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            args += ["--ro-bind", top, top]
    for etc in ("/etc/alternatives", "/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d",
                "/etc/localtime"):
        if os.path.exists(etc):
            args += ["--ro-bind", etc, etc]
    return args


def detect(wanted: bool = True) -> Sandbox:
    """The best sandbox that works on this machine."""
    if not wanted:
        return Sandbox("none", "not wanted (--no-sandbox)")
    why = "bwrap is not installed (Debian: apt-get install bubblewrap)"
    if shutil.which("bwrap"):
        drop = SANDBOX_UID if os.geteuid() == 0 else -1
        if drop >= 0 and not shutil.which("setpriv"):
            drop = -1
        extra = ["--unshare-user", "--disable-userns"] if _bwrap_has("--disable-userns") else []
        box = Sandbox("bwrap", drop_to=drop, extra=extra)
        why = _works(box)
        if not why:
            return box
        if drop >= 0:   # as root without user namespaces bwrap cannot drop to another uid: say so
            why = f"{why} (as uid {drop})"
    prefix = limits_mod.sandbox_prefix(True)
    if prefix:
        box = Sandbox("unshare-net", why)
        box._unshare = tuple(prefix)
        return box
    return Sandbox("none", why)


def _bwrap_has(option: str) -> bool:
    try:
        out = subprocess.run(["bwrap", "--help"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return False
    return option in out.stdout + out.stderr


def _works(box: Sandbox) -> str:
    """'' when the sandbox runs a program here, else why not."""
    try:
        proc = subprocess.run(box.wrap(["/bin/sh", "-c", "exec true"]), capture_output=True,
                              stdin=subprocess.DEVNULL, timeout=30)
    except (OSError, subprocess.SubprocessError) as err:
        return str(err)
    if proc.returncode != 0:
        return (proc.stderr.decode("utf-8", "replace").strip().splitlines() or ["exit status %d" % proc.returncode])[-1]
    return ""

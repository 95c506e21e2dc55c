"""setlimits.py CPU AS FSIZE NPROC [CGROUP.PROCS...] -- program args...:
joins the run's cgroups (cgroups.py: writes its pid to each cgroup.procs
file given), sets the resource limits of a run (limits.py's
Limits.command_prefix), then execs the program.

Run as a program by its path, never imported by the package: it uses the
standard library only, so nothing has to put the package on sys.path.
Soft and hard limits both: the program cannot raise its own again.
"""
import os
import resource
import signal
import sys
from typing import List


def _set_limit(which: int, value: int) -> None:
    """Soft and hard both: the run cannot raise its own limit again."""
    soft, hard = resource.getrlimit(which)
    if hard != resource.RLIM_INFINITY:
        value = min(value, hard)
    try:
        resource.setrlimit(which, (value, value))
    except (ValueError, OSError):
        pass   # a limit this OS does not enforce (RLIMIT_AS on macOS)


def exec_limited(argv: List[str]) -> None:
    """Sets the limits argv gives (the usage above), then execs the rest."""
    cpu, address_space, file_size, processes = (int(a) for a in argv[:4])
    assert "--" in argv[4:], "usage: setlimits.py CPU AS FSIZE NPROC [CGROUP.PROCS...] -- program args..."
    end = argv.index("--", 4)
    for procs in argv[4:end]:   # before anything else: every process the run starts is in its cgroups
        try:
            with open(procs, "w") as f:
                f.write(str(os.getpid()))
        except OSError as err:
            print(f"setlimits: cannot join the run's cgroup ({procs}: {err.strerror})", file=sys.stderr)
    _set_limit(resource.RLIMIT_CPU, cpu)
    if sys.platform != "darwin":   # every macOS process maps hundreds of GB of shared regions
        _set_limit(resource.RLIMIT_AS, address_space)
    _set_limit(resource.RLIMIT_FSIZE, file_size)
    if hasattr(resource, "RLIMIT_NPROC"):
        _set_limit(resource.RLIMIT_NPROC, processes)
    _set_limit(resource.RLIMIT_CORE, 0)
    # Python ignores these; an ignored signal stays ignored across exec, and
    # the file-size limit must kill, not make writes fail quietly.
    for sig in ("SIGPIPE", "SIGXFSZ"):
        if hasattr(signal, sig):
            signal.signal(getattr(signal, sig), signal.SIG_DFL)
    os.execvp(argv[end + 1], argv[end + 1:])


if __name__ == "__main__":
    exec_limited(sys.argv[1:])

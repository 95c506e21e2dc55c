"""A submission is a raft.c, a directory holding raft/raft.c or raft.c, or
an archive (tar, tar.gz, tgz, tar.bz2, tar.xz, zip) of a student's tree.
Only raft.c is taken from it; every other file is ignored, so editing the
tests or the harness cannot change a grade. Archives are read in memory,
never unpacked, so a hostile archive cannot write anywhere.
"""
from __future__ import annotations

import os
import re
import stat
import tarfile
import zipfile
from dataclasses import dataclass
from typing import Sequence

MAX_SOURCE_BYTES = 4 << 20
ARCHIVE_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz", ".zip")


class SubmissionError(Exception):
    """No raft.c could be taken from the submission."""


@dataclass
class Submission:
    path: str        # as given
    name: str        # unique, safe in file names
    source: bytes = b""
    taken_from: str = ""   # which file inside it was used


def load(path: str) -> Submission:
    """The submission at path with its raft.c read; raises SubmissionError.
    No component of the path (as given, made absolute) and nothing inside
    the submission on the way to raft.c may be a symbolic link, and raft.c
    must be a regular file with no other hard link: a link could reach the
    reference solution or a device."""
    sub = Submission(path=path, name=base_name(path))
    _no_links_on_the_way(path)
    if os.path.isdir(path):
        for candidate in ("raft/raft.c", "raft.c"):
            full = os.path.join(path, candidate)
            if os.path.lexists(full) or os.path.islink(os.path.join(path, "raft")):
                _no_links(path, candidate)
                sub.source, sub.taken_from = _read_file(full), candidate
                return sub
        raise SubmissionError(f"{path}: no raft/raft.c or raft.c inside")
    if os.path.islink(path):
        raise SubmissionError(f"{path}: not a regular file (a symbolic link)")
    if not os.path.lexists(path):
        raise SubmissionError(f"{path}: no such file or directory")
    if path.endswith(ARCHIVE_SUFFIXES):
        _regular(path)
        sub.taken_from, sub.source = _from_archive(path)
        return sub
    if path.endswith(".c"):
        sub.source, sub.taken_from = _read_file(path), os.path.basename(path)
        return sub
    raise SubmissionError(f"{path}: not a raft.c, a directory or an archive ({', '.join(ARCHIVE_SUFFIXES)})")


def _no_links_on_the_way(path: str) -> None:
    """Refuses a path with a symbolic link in any of its components, the
    last one included (checked one by one with lstat, never followed): a
    submission directory that is a link to solution/, or a raft.c reached
    through a linked directory, would otherwise be read."""
    here = os.path.abspath(path)   # lexical: with no link on the way, ".." means what it says
    parts = [p for p in here.split(os.sep) if p]
    for i in range(1, len(parts) + 1):
        prefix = os.sep + os.path.join(*parts[:i])
        if os.path.islink(prefix):
            what = "the submission" if i == len(parts) else f"{prefix}, a directory on the way to it,"
            raise SubmissionError(f"{path}: not a regular file ({what} is a symbolic link; "
                                  "give the real path)")


def _no_links(top: str, rel: str) -> None:
    parts = rel.split("/")
    for i in range(1, len(parts) + 1):
        here = os.path.join(top, *parts[:i])
        if os.path.islink(here):
            raise SubmissionError(f"{here}: not a regular file (a symbolic link)")


def _regular(path: str) -> os.stat_result:
    st = os.lstat(path)
    if not stat.S_ISREG(st.st_mode):
        raise SubmissionError(f"{path}: not a regular file")
    if st.st_nlink > 1:
        raise SubmissionError(f"{path}: not a regular file (it has {st.st_nlink} hard links; give a copy)")
    return st


def base_name(path: str) -> str:
    """The submission's name: alice/raft.c -> alice, alice/ -> alice,
    alice.tar.gz -> alice."""
    path = os.path.normpath(os.path.abspath(path))
    base = os.path.basename(path)
    if base == "raft.c":
        parent = os.path.dirname(path)
        base = os.path.basename(parent)
        if base == "raft":   # <tree>/raft/raft.c: the tree's name
            base = os.path.basename(os.path.dirname(parent))
    for suffix in ARCHIVE_SUFFIXES + (".c",):
        if base.endswith(suffix):
            base = base[: -len(suffix)]
            break
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", base).strip("._") or "submission"


def unique_names(submissions: Sequence[Submission]) -> None:
    """Makes the names unique (whatever the batch: a name that looks like
    another's suffixed one, names equal but for case)."""
    taken = set()
    for sub in submissions:
        name, n = sub.name, 1
        while name.lower() in taken:
            n += 1
            name = f"{sub.name}-{n}"
        taken.add(name.lower())
        sub.name = name


def _read_file(path: str) -> bytes:
    """A regular file's bytes, opened without following a link and without
    blocking (a FIFO or a device is refused, never read)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0))
    except OSError as err:
        raise SubmissionError(f"{path}: not a regular file ({err.strerror})")
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise SubmissionError(f"{path}: not a regular file")
        if st.st_nlink > 1:
            raise SubmissionError(f"{path}: not a regular file (it has {st.st_nlink} hard links: the same "
                                  "file as another; give a copy)")
        if st.st_size > MAX_SOURCE_BYTES:
            raise SubmissionError(f"{path}: larger than {MAX_SOURCE_BYTES >> 20} MiB")
        return f.read(MAX_SOURCE_BYTES + 1)[:MAX_SOURCE_BYTES]


def _pick(names: Sequence[str]) -> str | None:
    """The archive member to take: the shallowest raft/raft.c, else the
    shallowest raft.c."""
    for wanted in ("raft/raft.c", "raft.c"):
        found = [n for n in names if n == wanted or n.endswith("/" + wanted)]
        if found:
            return min(found, key=lambda n: (n.count("/"), n))
    return None


def _from_archive(path: str) -> tuple[str, bytes]:
    try:
        if path.endswith(".zip"):
            with zipfile.ZipFile(path) as z:
                infos = {i.filename: i for i in z.infolist() if not i.is_dir()}
                name = _pick(list(infos))
                if name is None:
                    raise SubmissionError(f"{path}: no raft/raft.c or raft.c inside")
                kind = (infos[name].external_attr >> 16) & 0o170000
                if kind not in (0, stat.S_IFREG):
                    raise SubmissionError(f"{path}: {name} is not a regular file")
                if infos[name].file_size > MAX_SOURCE_BYTES:
                    raise SubmissionError(f"{path}: {name} is larger than {MAX_SOURCE_BYTES >> 20} MiB")
                return name, z.read(name)
        with tarfile.open(path) as t:
            every = {m.name.lstrip("./"): m for m in t.getmembers() if not m.isdir()}
            name = _pick(list(every))
            if name is None:
                raise SubmissionError(f"{path}: no raft/raft.c or raft.c inside")
            if not every[name].isreg():
                raise SubmissionError(f"{path}: {name} is not a regular file (links are not followed)")
            members = every
            if members[name].size > MAX_SOURCE_BYTES:
                raise SubmissionError(f"{path}: {name} is larger than {MAX_SOURCE_BYTES >> 20} MiB")
            data = t.extractfile(members[name])
            if data is None:
                raise SubmissionError(f"{path}: {name} is not a regular file")
            return name, data.read()
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError) as err:
        raise SubmissionError(f"{path}: cannot read the archive: {err}")

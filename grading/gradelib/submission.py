"""A submission is a raft.c, a directory holding raft/raft.c or raft.c, or
an archive (tar, tar.gz, tgz, tar.bz2, tar.xz, zip) of a student's tree.
Only raft.c is taken from it; every other file is ignored, so editing the
tests or the harness cannot change a grade. Archives are read in memory,
never unpacked, so a hostile archive cannot write anywhere.
"""
import os
import re
import tarfile
import zipfile
from dataclasses import dataclass

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


def load(path):
    """The submission at path with its raft.c read; raises SubmissionError."""
    sub = Submission(path=path, name=base_name(path))
    if os.path.isdir(path):
        for candidate in ("raft/raft.c", "raft.c"):
            full = os.path.join(path, candidate)
            if os.path.isfile(full):
                sub.source, sub.taken_from = _read_file(full), candidate
                return sub
        raise SubmissionError(f"{path}: no raft/raft.c or raft.c inside")
    if not os.path.isfile(path):
        raise SubmissionError(f"{path}: no such file or directory")
    if path.endswith(ARCHIVE_SUFFIXES):
        sub.taken_from, sub.source = _from_archive(path)
        return sub
    if path.endswith(".c"):
        sub.source, sub.taken_from = _read_file(path), os.path.basename(path)
        return sub
    raise SubmissionError(f"{path}: not a raft.c, a directory or an archive ({', '.join(ARCHIVE_SUFFIXES)})")


def base_name(path):
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


def unique_names(submissions):
    seen = {}
    for sub in submissions:
        n = seen.get(sub.name, 0)
        seen[sub.name] = n + 1
        if n:
            sub.name = f"{sub.name}-{n + 1}"


def _read_file(path):
    if os.path.getsize(path) > MAX_SOURCE_BYTES:
        raise SubmissionError(f"{path}: larger than {MAX_SOURCE_BYTES >> 20} MiB")
    with open(path, "rb") as f:
        return f.read()


def _pick(names):
    """The archive member to take: the shallowest raft/raft.c, else the
    shallowest raft.c."""
    for wanted in ("raft/raft.c", "raft.c"):
        found = [n for n in names if n == wanted or n.endswith("/" + wanted)]
        if found:
            return min(found, key=lambda n: (n.count("/"), n))
    return None


def _from_archive(path):
    try:
        if path.endswith(".zip"):
            with zipfile.ZipFile(path) as z:
                infos = {i.filename: i for i in z.infolist() if not i.is_dir()}
                name = _pick(list(infos))
                if name is None:
                    raise SubmissionError(f"{path}: no raft/raft.c or raft.c inside")
                if infos[name].file_size > MAX_SOURCE_BYTES:
                    raise SubmissionError(f"{path}: {name} is larger than {MAX_SOURCE_BYTES >> 20} MiB")
                return name, z.read(name)
        with tarfile.open(path) as t:
            members = {m.name.lstrip("./"): m for m in t.getmembers() if m.isfile()}
            name = _pick(list(members))
            if name is None:
                raise SubmissionError(f"{path}: no raft/raft.c or raft.c inside (a regular file; links are not followed)")
            if members[name].size > MAX_SOURCE_BYTES:
                raise SubmissionError(f"{path}: {name} is larger than {MAX_SOURCE_BYTES >> 20} MiB")
            return name, t.extractfile(members[name]).read()
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError) as err:
        raise SubmissionError(f"{path}: cannot read the archive: {err}")

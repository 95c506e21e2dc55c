"""Hostile submissions that are not one raft.c: links, special files,
archives, names. make(work, root, reference) builds each under work and
returns [(path, expect)], expect as in the .c cases: (statuses, score,
regex), where score is 0, "full" or None (not checked)."""
from __future__ import annotations

import io
import os
import tarfile
import zipfile
from typing import Literal, Optional, Sequence, Set, Tuple, Union

# What a case must get: (its statuses, its score: 0, "full" or None when
# not checked, a regex its report must match or None).
Expect = Tuple[Set[str], Union[Literal[0, "full"], None], Optional[str]]

NOT_REGULAR = r"not a regular file"


def _tar(path: str, members: Sequence[tuple[tarfile.TarInfo, bytes | None]]) -> str:
    with tarfile.open(path, "w:gz") as t:
        for info, data in members:
            t.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def _member(name: str, data: bytes | None = None, kind: bytes = tarfile.REGTYPE,
            link: str = "") -> tuple[tarfile.TarInfo, bytes | None]:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, link
    info.size = len(data) if data is not None else 0
    return info, data


def make(work: str, root: str, reference: str) -> list[tuple[str, Expect]]:
    solution = os.path.join(root, "solution", "raft.c")
    cases: list[tuple[str, Expect]] = []

    # hostile: raft.c is a symbolic link to the reference solution
    d = os.path.join(work, "link_to_solution")
    os.makedirs(d)
    os.symlink(solution, os.path.join(d, "raft.c"))
    cases.append((d, ({"NO-SOURCE"}, 0, NOT_REGULAR)))

    # hostile: raft/ is a symbolic link to the lab's solution/ directory
    d = os.path.join(work, "dir_link_to_solution")
    os.makedirs(d)
    os.symlink(os.path.dirname(solution), os.path.join(d, "raft"))
    cases.append((d, ({"NO-SOURCE"}, 0, r"symbolic link")))

    # hostile: raft.c is a FIFO: reading it would block the grader forever
    d = os.path.join(work, "fifo")
    os.makedirs(d)
    os.mkfifo(os.path.join(d, "raft.c"))
    cases.append((d, ({"NO-SOURCE"}, 0, NOT_REGULAR)))

    # hostile: the submission directory itself is a symbolic link to the lab's solution/
    path = os.path.join(work, "submission_is_link")
    os.symlink(os.path.dirname(solution), path)
    cases.append((path, ({"NO-SOURCE"}, 0, NOT_REGULAR + r".*symbolic link")))

    # hostile: a bare raft.c reached through a parent directory that is a link to solution/
    d = os.path.join(work, "parent_is_link")
    os.symlink(os.path.dirname(solution), d)
    cases.append((os.path.join(d, "raft.c"), ({"NO-SOURCE"}, 0, NOT_REGULAR + r".*a directory on the way")))

    # hostile: a real submission tree, reached through a linked directory higher up the path
    d = os.path.join(work, "real_home", "carol")
    os.makedirs(d)
    with open(reference, "rb") as f, open(os.path.join(d, "raft.c"), "wb") as g:
        g.write(f.read())
    os.symlink(os.path.join(work, "real_home"), os.path.join(work, "linked_home"))
    cases.append((os.path.join(work, "linked_home", "carol"), ({"NO-SOURCE"}, 0, r"a directory on the way")))

    # hostile: raft.c is a hard link to a copy of the reference (a hard link to solution/raft.c
    # is the same attack; a copy of our own keeps it on one filesystem, within
    # fs.protected_hardlinks, and leaves the batch's reference with its one link)
    d = os.path.join(work, "hard_link")
    os.makedirs(d)
    with open(reference, "rb") as f, open(os.path.join(work, "hard_link_target.c"), "wb") as g:
        g.write(f.read())
    os.link(os.path.join(work, "hard_link_target.c"), os.path.join(d, "raft.c"))
    cases.append((d, ({"NO-SOURCE"}, 0, NOT_REGULAR + r" \(it has 2 hard links")))

    # hostile: a bare raft.c path that is a link to a device
    d = os.path.join(work, "device_link")
    os.makedirs(d)
    os.symlink("/dev/zero", os.path.join(d, "raft.c"))
    cases.append((os.path.join(d, "raft.c"), ({"NO-SOURCE"}, 0, NOT_REGULAR)))

    # hostile: a tarball whose raft/raft.c is a symbolic link to the solution
    path = _tar(os.path.join(work, "tar_symlink.tar.gz"),
                [_member("t/raft/raft.c", kind=tarfile.SYMTYPE, link=solution)])
    cases.append((path, ({"NO-SOURCE"}, 0, NOT_REGULAR)))

    # hostile: a tarball whose raft/raft.c is a hard link to the solution
    path = _tar(os.path.join(work, "tar_hardlink.tar.gz"),
                [_member("t/raft/raft.c", kind=tarfile.LNKTYPE, link=solution)])
    cases.append((path, ({"NO-SOURCE"}, 0, NOT_REGULAR)))

    # hostile: a tarball with a path-traversal member and a device node
    path = _tar(os.path.join(work, "tar_traversal.tar.gz"),
                [_member("../../../../tmp/raftlab-hostile-escaped", b"x"),
                 _member("t/raft/raft.c", kind=tarfile.CHRTYPE)])
    cases.append((path, ({"NO-SOURCE"}, 0, NOT_REGULAR)))

    # hostile: a zip whose raft.c is a symbolic link (Unix mode in its attributes)
    path = os.path.join(work, "zip_symlink.zip")
    with zipfile.ZipFile(path, "w") as z:
        info = zipfile.ZipInfo("z/raft/raft.c")
        info.external_attr = (0o120777 << 16)
        z.writestr(info, solution)
    cases.append((path, ({"NO-SOURCE"}, 0, NOT_REGULAR)))

    # hostile: a raft.c of 5 MiB (a grader that reads it whole, and a compiler that chews on it)
    d = os.path.join(work, "too_big")
    os.makedirs(d)
    with open(os.path.join(d, "raft.c"), "wb") as f:
        f.write(b"/*" + b" " * (5 << 20) + b"*/\n")
    cases.append((d, ({"NO-SOURCE"}, 0, r"larger than 4 MiB")))

    # hostile: two submissions whose names collide after sanitising ("x y" and "x_y"): the
    # correct one scored 0 before; here the first is the reference (full marks), the second
    # the skeleton, and a third is named like the second's suffixed name
    for name, src in (("x y", reference), ("x_y", os.path.join(root, "raft", "raft.c")),
                      ("x_y-2", reference)):
        d = os.path.join(work, "collide", name)
        os.makedirs(d)
        with open(src, "rb") as f, open(os.path.join(d, "raft.c"), "wb") as g:
            g.write(f.read())
        cases.append((d, ({"OK"}, "full" if src == reference else 0, None)))
    return cases

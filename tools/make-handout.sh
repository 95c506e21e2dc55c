#!/bin/sh
# make-handout.sh: packs the student tree into build/raftlab-handout.tar.gz
# (make handout). It takes the files git tracks, as they are in the working
# tree, minus what students must not see: the reference solution, the faulty
# implementations derived from it, the grader (grading/, tools/grade and the
# package's raftlab.grade and raftlab.grading), the instructors' checks, the
# Python tools' lint settings and CI. The
# skeleton raft/raft.c is what students get; README.md is replaced by the
# students' short one (tools/handout-README.md).
# Usage: tools/make-handout.sh [output.tar.gz]
set -eu
out=${1:-build/raftlab-handout.tar.gz}
top=raftlab

# Instructors only. Each line is a path or a directory prefix.
excluded='
solution/
checks/faulty/
checks/check_faulty.sh
checks/check_grading.py
checks/load_grading.py
checks/check_cgroup_v2.sh
checks/check_cgroup_v2_in_vm.py
checks/hostile/
checks/check_handout.sh
checks/check_sim.sh
checks/tools/test_grading.py
checks/tools/test_build_cgroups.py
checks/tools/test_course.py
checks/tools/test_timelines.py
checks/tools/test_policy.py
checks/tools/test_outputs.py
checks/tools/test_untrusted.py
grading/
tools/grade
tools/raftlab/grade.py
tools/raftlab/grading/
mypy.ini
.flake8
tools/make-handout.sh
tools/handout-README.md
.ci/
README.md
ARCHITECTURE.md
'

command -v git >/dev/null 2>&1 && git rev-parse --show-toplevel >/dev/null 2>&1 || {
    echo "make-handout: run this inside the raftlab git repository" >&2
    exit 1
}
cd "$(git rev-parse --show-toplevel)"

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/$top"

is_excluded() {
    for e in $excluded; do
        case $1 in "$e"|"$e"*) return 0 ;; esac
    done
    return 1
}

n=0
for f in $(git ls-files); do
    [ -e "$f" ] || continue            # deleted in the working tree
    is_excluded "$f" && continue
    mkdir -p "$stage/$top/$(dirname "$f")"
    cp -p "$f" "$stage/$top/$f"
    n=$((n + 1))
done
cp tools/handout-README.md "$stage/$top/README.md"

mkdir -p "$(dirname "$out")"
tar -C "$stage" -czf "$out.tmp" "$top"
mv "$out.tmp" "$out"
echo "make-handout: $out ($((n + 1)) files; no solution/, checks/faulty/, grading/, instructors' checks or CI)"

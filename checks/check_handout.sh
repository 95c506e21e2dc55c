#!/bin/sh
# check_handout.sh: `make handout` must give students a tree that builds and
# fails part 2A as the skeleton should, with no reference code inside: no
# solution/, no faulty variants of it, and no line of solution/raft.c that
# the skeleton and the framework do not also have.
# Usage: checks/check_handout.sh
set -u
fail() { echo "check_handout: $*" >&2; exit 1; }

tarball=build/raftlab-handout.tar.gz
sh tools/make-handout.sh "$tarball" >/dev/null || fail "make-handout.sh failed"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
tar -C "$dir" -xzf "$tarball" || fail "cannot unpack $tarball"
tree=$dir/raftlab
[ -f "$tree/raft/raft.c" ] || fail "no raft/raft.c in the handout"
cmp -s "$tree/raft/raft.c" raft/raft.c || fail "raft/raft.c in the handout is not the skeleton"

for p in solution checks/faulty checks/check_faulty.sh checks/check_grading.py checks/hostile checks/tools/test_grading.py \
         checks/check_cgroup_v2_in_vm.py grading tools/grade tools/raftlab/grade.py tools/raftlab/grading .ci; do
    [ -e "$tree/$p" ] && fail "the handout contains $p"
done
leaked=$(find "$tree" -name '*.patch' -o -name '*solution*' | head -3)
[ -z "$leaked" ] || fail "the handout contains $leaked"

# Reference-only lines: the substantial lines of solution/raft.c that no
# file of the framework has, the skeleton included (whole lines, blanks
# trimmed; the documents do not count, so that code pasted into HANDOUT.md
# is caught). The reference is the skeleton completed, so what it shares
# with the skeleton (the struct, the helpers, their comments) is the
# students' anyway; what guards the skeleton itself is that it still fails
# 2A (below). No file of the handout may have one reference-only line.
work=$(mktemp -d)
trap 'rm -rf "$dir" "$work"' EXIT
trim() { sed 's/^[[:space:]]*//; s/[[:space:]]*$//' "$@"; }
trim solution/raft.c | awk 'length($0) >= 30' | sort -u >"$work/reference"
git ls-files | grep -v -e '^solution/' -e '^checks/faulty/' -e '\.md$' |
    while IFS= read -r f; do [ -f "$f" ] && trim "$f"; done | sort -u >"$work/framework"
comm -23 "$work/reference" "$work/framework" >"$work/reference_only"
total=$(wc -l <"$work/reference_only")
[ "$total" -gt 100 ] || fail "only $total reference-only lines to look for: is solution/raft.c the reference?"
find "$tree" -type f | while IFS= read -r f; do
    shared=$(trim "$f" | sort -u | comm -12 "$work/reference_only" - | wc -l)
    if [ "$shared" -gt 0 ]; then
        echo "check_handout: ${f#"$tree"/} has $shared lines of the reference solution, e.g.:" >&2
        trim "$f" | sort -u | comm -12 "$work/reference_only" - | head -3 | sed 's/^/    /' >&2
        exit 1
    fi
done || exit 1

# It builds and fails 2A as a skeleton should, on its own.
(cd "$tree" && sh checks/check_skeleton.sh) || fail "the unpacked handout does not build and fail 2A as a skeleton should"
# The students' tools (raftlog, stress and its runner, check-raft) start
# without the grader's code, and pass their tests there.
for cmd in tools/raftlog tools/stress tools/check-raft; do
    (cd "$tree" && "$cmd" --help >"$work/help.log" 2>&1) ||
        { tail -n 20 "$work/help.log" >&2; fail "$cmd --help fails in the unpacked handout"; }
done
(cd "$tree" && PYTHONPATH=tools python3 -m unittest discover -s checks/tools >"$work/tools.log" 2>&1) ||
    { tail -n 20 "$work/tools.log" >&2; fail "the tools' tests fail in the unpacked handout"; }
echo "check_handout: $tarball: $(tar -tzf "$tarball" | grep -vc '/$') files, no reference code (none of the $total lines only the reference has), builds and fails 2A as it should, its tools pass their tests"

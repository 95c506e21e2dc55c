#!/bin/sh
# check_skeleton.sh: the student skeleton must build and fail part 2A the
# way a student should see it fail: every test with
# "expected one leader, got none", promptly, with no hang or crash. And
# raftlab's extra tests (2C x<n>_..., beyond the original 28) must fail it
# the same plain way: LIVENESS, no leader or no agreement, each promptly.
# Usage: checks/check_skeleton.sh [make variables...]
set -u
log=$(mktemp)
pages=$(mktemp -d)
trap 'rm -f "$log"; rm -rf "$pages"' EXIT
# Timeline pages of earlier runs: make test-... keeps the newest TIMELINE_KEEP.
for age in 1 2 3 4 5; do touch -t "20260101000$age" "$pages/old-$age.html"; done
start=$(date +%s)
make --no-print-directory test-2A RAFT=raft TIMELINE_DIR="$pages" TIMELINE_KEEP=2 "$@" >"$log" 2>&1
status=$?
took=$(( $(date +%s) - start ))

fail() {
    echo "check_skeleton: $*" >&2
    tail -n 30 "$log" >&2
    exit 1
}

[ "$status" -ne 0 ] || fail "make test-2A passed with the skeleton; it must fail"
grep -q "error:" "$log" && fail "the skeleton did not build"
n=$(grep -c "^FAIL LIVENESS: raft2A/.*: expected one leader, got none" "$log")
[ "$n" -eq 3 ] || fail "expected 3 tests failing with 'expected one leader, got none', saw $n"
grep -q "Crashing: 0" "$log" || fail "a test crashed"
[ "$took" -le 90 ] || fail "part 2A took ${took}s with the skeleton (more than 90 s): it must fail fast"
echo "check_skeleton: the skeleton builds and fails 2A as it should (3 x 'expected one leader, got none', ${took}s)"
old=$(cd "$pages" && ls old-*.html | tr '\n' ' ')
new=$(ls "$pages" | grep -c '^raft2A-.*\.html$')
[ "$old" = "old-4.html old-5.html " ] && [ "$new" -eq 3 ] ||
    fail "timeline pages: expected the 2 newest earlier pages (old-4, old-5) and 3 new ones, saw '$old' and $new new"
echo "check_skeleton: make test-2A kept the 2 newest earlier timeline pages (TIMELINE_KEEP=2) and wrote its 3"

# The extra tests: each fails at its first step, with no leader.
start=$(date +%s)
make --no-print-directory test-2C RAFT=raft ONLY='x*' "$@" >"$log" 2>&1
status=$?
took=$(( $(date +%s) - start ))
[ "$status" -ne 0 ] || fail "the extra tests passed with the skeleton; they must fail"
extras=$(grep -c "^Extra test, beyond 6.824's original 28 (2C)" "$log")
[ "$extras" -ge 1 ] || fail "no extra test's banner"
n=$(grep -Ec "^FAIL LIVENESS: raft2C/x[0-9]+_[a-z0-9_]+: (expected one leader, got none|one\([0-9]+\) failed to reach agreement)" "$log")
[ "$n" -eq "$extras" ] || fail "expected $extras extra tests failing with no leader or no agreement, saw $n"
grep -q "Crashing: 0" "$log" || fail "an extra test crashed"
[ "$took" -le 90 ] || fail "the extra tests took ${took}s with the skeleton (more than 90 s): they must fail fast"
echo "check_skeleton: the skeleton fails the $extras extra tests as it should (LIVENESS: no leader, or no agreement; ${took}s)"

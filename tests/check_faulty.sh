#!/bin/sh
# check_faulty.sh: every implementation in tests/faulty/ must fail the test
# that exposes it with the failure class it is meant to get, with exactly
# one FAIL line, within its time bound (tests/faulty/corpus.txt).
# Each is the reference solution with one patch applied.
# Usage: tests/check_faulty.sh [name...]   (default: the whole corpus)
set -u
corpus=tests/faulty/corpus.txt
failures=0
checked=0
start_all=$(date +%s)

check_one() {   # name vars test class max_seconds
    name=$1 vars=$2 test=$3 class=$4 bound=$5
    dir=build/faulty/$name
    mkdir -p "$dir"
    if ! patch -s -o "$dir/raft.c.new" solution/raft.c <"tests/faulty/$name.patch"; then
        echo "check_faulty: $name: the patch no longer applies to solution/raft.c"
        return 1
    fi
    # Keep the old file (and its object) when nothing changed.
    if cmp -s "$dir/raft.c.new" "$dir/raft.c"; then rm -f "$dir/raft.c.new"; else mv "$dir/raft.c.new" "$dir/raft.c"; fi
    [ "$vars" = "-" ] && vars=""
    vars=$(echo "$vars" | tr ',' ' ')
    log=$dir/run.log
    part=$(echo "$test" | sed 's|^raft\(2[ABCD]\)/.*|\1|')
    only=${test#*/}
    if ! env $vars make --no-print-directory all RAFT="$dir" >"$log" 2>&1; then
        echo "check_faulty: $name: did not build (log: $log)"
        tail -n 15 "$log" | sed 's/^/    /'
        return 1
    fi
    t0=$(date +%s)   # the bound is on the run, not the build
    env $vars make --no-print-directory "test-$part" RAFT="$dir" ONLY="$only" >"$log" 2>&1
    took=$(( $(date +%s) - t0 ))
    lines=$(grep -c '^FAIL ' "$log")
    got=$(grep -m1 '^FAIL ' "$log")
    problem=""
    if [ "$lines" -ne 1 ]; then
        problem="expected one FAIL line, saw $lines"
    elif ! echo "$got" | grep -q "^FAIL $class: $test: "; then
        problem="expected FAIL $class, got: $got"
    elif [ "$took" -gt "$bound" ]; then
        problem="took ${took}s, more than its bound of ${bound}s"
    elif [ "$class" = HANG ] && ! grep -q '^--- hang: ' "$log"; then
        problem="HANG without a dump of the threads"
    elif echo "$vars" | grep -q 'LAB_HANG_DUMP=inprocess' &&
         ! grep -q '^stacks (from inside the process)' "$log"; then
        problem="LAB_HANG_DUMP=inprocess, but no stacks taken from inside the process"
    elif [ "$class" = CRASH ] && ! grep -q '^--- crash: ' "$log"; then
        problem="CRASH without the crashing thread's stack"
    fi
    if [ -n "$problem" ]; then
        echo "check_faulty: $name: $problem (log: $log)"
        tail -n 15 "$log" | sed 's/^/    /'
        return 1
    fi
    printf 'check_faulty: %-28s %-6s in %3ss: %s\n' "$name" "$class" "$took" "$(echo "$got" | cut -c1-150)"
}

while read -r name vars test class bound; do
    case "$name" in ''|'#'*) continue ;; esac
    if [ $# -gt 0 ]; then
        wanted=no
        for w in "$@"; do [ "$w" = "$name" ] && wanted=yes; done
        [ $wanted = yes ] || continue
    fi
    checked=$((checked + 1))
    check_one "$name" "$vars" "$test" "$class" "$bound" || failures=$((failures + 1))
done <"$corpus"

took=$(( $(date +%s) - start_all ))
if [ "$failures" -ne 0 ]; then
    echo "check_faulty: $failures of $checked faulty implementations were not caught as expected (${took}s)"
    exit 1
fi
echo "check_faulty: all $checked faulty implementations caught as expected (${took}s)"

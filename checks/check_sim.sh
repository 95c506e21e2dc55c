#!/bin/sh
# check_sim.sh: simulation mode is deterministic (make check runs it).
#
# The same binary, seed and test must give byte-identical output, VERBOSE=1
# logs (virtual timestamps) included, and the same schedule digest (the
# sequence of threads the scheduler ran, from LAB_SIM_TIME_FILE); another
# seed must give another schedule, and VERBOSE must not change the schedule
# (a failure found without it replays with it). A sample of tests of every part, with
# both strategies, each run twice per seed, against the reference.
#
#   sh checks/check_sim.sh            (CC= as for make)
#
# A campaign instead of the sample (each test's output compared across two
# runs of every seed):
#   SIM_TESTS=all SIM_SEEDS="$(seq 1 100)" SIM_STRATEGIES=random sh checks/check_sim.sh
set -u
cd "$(dirname "$0")/.."
make --no-print-directory -s raft-bin RAFT=solution >/dev/null || exit 1
bin=$(make --no-print-directory -s print-raft-bin RAFT=solution)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/raftlab-check-sim.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM     # a trap of its own would let the loop run on

SAMPLE=${SIM_TESTS:-"raft2A/t01_initial_election raft2A/t03_many_elections raft2B/t07_concurrent_starts \
raft2C/t01_persist1 raft2C/t05_unreliable_agree raft2D/t01_snapshot_basic"}
if [ "$SAMPLE" = all ]; then
    SAMPLE=$("$bin" --lab-info | python3 -c 'import json, sys; print(" ".join("raft" + t for t in json.load(sys.stdin)["tests"]))')
fi
SEEDS=${SIM_SEEDS:-"11 12"}
STRATEGIES=${SIM_STRATEGIES:-"random pct"}
problems=0 runs=0

# run TEST SEED STRATEGY NAME: output (less the runner's summary line, whose
# wall and CPU seconds are real) in $tmp/NAME.out, digest line in $tmp/NAME.digest
run() {
    rm -f "$tmp/$4.times"
    SEED=$2 VERBOSE=${VERBOSE_LEVEL:-1} LAB_SIM=1 LAB_SIM_STRATEGY=$3 LAB_SIM_TIME_FILE="$tmp/$4.times" \
        timeout -k 5 120 "$bin" --filter "$1" -j1 >"$tmp/$4.raw" 2>&1
    grep -v -e '^2[A-D]: [0-9]* passed' -e '^\[' "$tmp/$4.raw" >"$tmp/$4.out"
    cat "$tmp/$4.times" 2>/dev/null >"$tmp/$4.digest"
    runs=$((runs + 1))
}

for test in $SAMPLE; do
    for strategy in $STRATEGIES; do
        previous=
        for seed in $SEEDS; do
            run "$test" $seed $strategy a
            run "$test" $seed $strategy b
            VERBOSE_LEVEL=0 run "$test" $seed $strategy quiet
            if ! grep -q 'Passed' "$tmp/a.out" || [ ! -s "$tmp/a.digest" ]; then
                echo "check_sim: $test (SEED=$seed, $strategy) did not pass:"; tail -n 5 "$tmp/a.raw"
                problems=$((problems + 1))
            elif ! cmp -s "$tmp/a.out" "$tmp/b.out" || ! cmp -s "$tmp/a.digest" "$tmp/b.digest"; then
                echo "check_sim: $test (SEED=$seed, $strategy): two runs, two outputs:"
                diff "$tmp/a.out" "$tmp/b.out" | head -n 6
                diff "$tmp/a.digest" "$tmp/b.digest"
                problems=$((problems + 1))
            elif ! cmp -s "$tmp/a.digest" "$tmp/quiet.digest"; then
                echo "check_sim: $test (SEED=$seed, $strategy): VERBOSE=1 changed the schedule:"
                diff "$tmp/a.digest" "$tmp/quiet.digest"
                problems=$((problems + 1))
            fi
            if [ -n "$previous" ] && cmp -s "$tmp/previous.digest" "$tmp/a.digest"; then
                echo "check_sim: $test ($strategy): seeds $previous and $seed gave the same schedule"
                problems=$((problems + 1))
            fi
            cp "$tmp/a.digest" "$tmp/previous.digest"
            previous=$seed
        done
    done
done
if [ $problems -gt 0 ]; then
    echo "check_sim: $problems problem(s) in $runs runs"
    exit 1
fi
echo "check_sim: $runs runs of $(echo $SAMPLE | wc -w) tests: each seed gave the same output and schedule twice (and the same schedule without VERBOSE), and different seeds different schedules"

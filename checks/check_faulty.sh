#!/bin/sh
# check_faulty.sh: the mutation corpus. Every case of checks/faulty/corpus.txt
# is the reference solution with one bug patched in, built with the
# reference's own asserts compiled out (RAFT_CPPFLAGS=-DNDEBUG on the Raft
# object only: the tests must catch the bug, not an assert a student would
# not have). Each case runs its test(s) up to its number of runs and counts
# as caught at the first run that fails with the expected class (and, when
# the corpus gives one, a FAIL reason containing the expected text), within
# its time bound. Every failing run must print exactly one FAIL line per
# failing test, a HANG a dump of the threads, a CRASH the crashing thread's
# stack, and a LAB_HANG_DUMP=inprocess hang stacks taken from inside the
# process.
#
# At the end: the kill rate per part (2A..2D: the part of the test that
# caught the case, or of its first test when nothing did) and overall, the
# equivalent cases with their reasons, and exit 1 if any non-equivalent case
# was not caught (or a build or check failed).
#
# Usage: checks/check_faulty.sh [name...]   (default: the whole corpus)
# Environment: FAULTY_JOBS cases run at once (default 3; the runs mostly
# sleep, so 3-4 fit on 2 cores), CC as for make. FAULTY_SIM=1 (make
# check-faulty SIM=1): every case in simulation mode (SIM=1 added to its
# make-vars, a new seed each run), the same class expected; the sanitizer
# cases are left out (RACE and MEMORY are what ThreadSanitizer and
# AddressSanitizer find in real concurrent threads; simulation runs one at
# a time) and listed.
# Logs: build/faulty/<name>/ (the patched raft.c, build.log, one log per run).
set -u
corpus=checks/faulty/corpus.txt
jobs=${FAULTY_JOBS:-3}
out=build/faulty
mkdir -p "$out"
start_all=$(date +%s)
list=$out/.cases.$$
: >"$list"
trap 'rm -f "$list"' EXIT

# ---- the cases ------------------------------------------------------------
# One line of $list per case: key name vars tests class runs bound substring
n=0
sim_left_out=""
while read -r name vars tests class runs bound rest; do
    case "$name" in ''|'#'*) continue ;; esac
    if [ $# -gt 0 ]; then
        wanted=no
        for w in "$@"; do [ "$w" = "$name" ] && wanted=yes; done
        [ $wanted = yes ] || continue
    fi
    if [ "${FAULTY_SIM:-}" = 1 ] && [ "$class" != EQUIVALENT ]; then
        case ",$vars," in
        *,SAN=*) sim_left_out="$sim_left_out $name"; continue ;;
        *,SIM=1,*) ;;
        ,-,) vars=SIM=1 ;;
        *) vars="$vars,SIM=1" ;;
        esac
    fi
    n=$((n + 1))
    # A name may appear twice (the same patch under other make-vars or
    # tests): the key of its logs and result adds the vars ...
    key=$name
    [ "$vars" != "-" ] && key="$name+$(echo "$vars" | tr -c 'A-Za-z0-9=,\n' '_' | tr '=,' '-.')"
    # ... and a number when the same patch and vars come again (other tests).
    k=2 base=$key
    while cut -f1 "$list" | grep -qx "$key"; do key="$base+$k"; k=$((k + 1)); done
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$key" "$name" "$vars" "$tests" "$class" \
        "${runs:-1}" "${bound:-0}" "${rest:-}" >>"$list"
done <"$corpus"
if [ "$n" -eq 0 ]; then
    echo "check_faulty: no case of $corpus matches: $*"
    exit 1
fi
[ -n "$sim_left_out" ] && echo "check_faulty: in simulation; left out (sanitizer findings, real threads only):$sim_left_out"

part_of() {   # raft2C/t04_figure8 -> 2C
    echo "$1" | sed -n 's|^raft\(2[ABCD]\)/.*|\1|p'
}

# ---- patch and build, one case at a time (they share the framework's
# objects; make must not build them twice at once) -------------------------
bin_of() {   # vars dir -> the test binary's path
    env $1 make --no-print-directory -s print-raft-bin RAFT="$2"
}

build_case() {   # name vars -> 0 if built
    name=$1 vars=$2
    dir=$out/$name
    mkdir -p "$dir"
    if ! patch -s -o "$dir/raft.c.new" solution/raft.c <"checks/faulty/$name.patch" >"$dir/patch.log" 2>&1; then
        echo "the patch no longer applies to solution/raft.c: $(head -n 3 "$dir/patch.log" | tr '\n' ' ')"
        rm -f "$dir/raft.c.new"
        return 1
    fi
    # Keep the old file (and its object) when nothing changed.
    if cmp -s "$dir/raft.c.new" "$dir/raft.c"; then rm -f "$dir/raft.c.new"; else mv "$dir/raft.c.new" "$dir/raft.c"; fi
    if ! env $vars make --no-print-directory all RAFT="$dir" RAFT_CPPFLAGS=-DNDEBUG >"$dir/build.log" 2>&1; then
        echo "did not build (log: $dir/build.log): $(grep -m1 'error:' "$dir/build.log")"
        return 1
    fi
    return 0
}

echo "check_faulty: building $n case(s), each the reference with one patch, asserts compiled out"
built=""
while IFS='	' read -r key name vars tests class runs bound sub; do
    rm -f "$out/$name/$key.result"
    v=$vars; [ "$v" = "-" ] && v=""
    v=$(echo "$v" | tr ',' ' ')
    case " $built " in *" $name:$v "*) continue ;; esac   # already built this way
    if msg=$(build_case "$name" "$v"); then
        built="$built $name:$v"
    else
        mkdir -p "$out/$name"
        printf 'BUILD\t-\t0\t0\t%s\n' "$msg" >"$out/$name/$key.result"
        echo "check_faulty: $name: $msg"
    fi
done <"$list"

# ---- run: up to $jobs cases at once ----------------------------------------
# A case's result, in $out/<name>/<key>.result: status part runs-used
# seconds line, status one of CAUGHT MISSED PROBLEM BUILD EQUIVALENT.
run_case() {   # key name vars tests class runs bound substring
    key=$1 name=$2 vars=$3 tests=$4 class=$5 runs=$6 bound=$7 sub=$8
    dir=$out/$name
    result=$dir/$key.result
    first=$(echo "$tests" | cut -d, -f1)
    mainpart=$(part_of "$first")
    [ "$vars" = "-" ] && vars=""
    vars=$(echo "$vars" | tr ',' ' ')
    bin=$(bin_of "$vars" "$dir")
    seen=""
    run=0
    while [ "$run" -lt "$runs" ]; do
        run=$((run + 1))
        for filter in $(echo "$tests" | tr ',' ' '); do
            part=$(part_of "$filter")
            only=${filter#*/}
            log=$dir/$key.run$run.$(echo "$only" | tr -c 'A-Za-z0-9_\n' '_').log
            t0=$(date +%s)
            # -o: never rebuild the binary here, as other cases run beside.
            env $vars timeout -k 10 $((bound + 120)) make --no-print-directory -o "$bin" \
                "test-$part" RAFT="$dir" ONLY="$only" RAFT_CPPFLAGS=-DNDEBUG >"$log" 2>&1
            status=$?
            took=$(( $(date +%s) - t0 ))
            # A timeout kills make's process group, but the part's own timeout
            # (the Makefile's) runs the test binary in a group of its own: end
            # what is left of this case's runs, so nothing outlives it.
            [ "$status" -eq 124 ] || [ "$status" -eq 137 ] && pkill -KILL -f -- "$bin --filter" 2>/dev/null
            # Exactly one FAIL line per failing test.
            dup=$(grep '^FAIL ' "$log" | sed -n 's/^FAIL [A-Z-]*: \([^:]*\): .*/\1/p' | sort | uniq -d | head -n 1)
            if [ -n "$dup" ]; then
                printf 'PROBLEM\t%s\t%s\t%s\tmore than one FAIL line for %s (log: %s)\n' \
                    "$part" "$run" "$took" "$dup" "$log" >"$result"
                return
            fi
            if grep '^FAIL ' "$log" | grep -q -v '^FAIL [A-Z-]*: raft2[ABCD]/[a-z0-9_]*: '; then
                printf 'PROBLEM\t%s\t%s\t%s\ta FAIL line without its test: %s (log: %s)\n' "$part" "$run" \
                    "$took" "$(grep '^FAIL ' "$log" | grep -m1 -v '^FAIL [A-Z-]*: raft2[ABCD]/')" "$log" >"$result"
                return
            fi
            # The first FAIL line of the expected class, on a test of the
            # filter, with the expected text.
            got=$(grep "^FAIL $class: raft$part/" "$log" | while IFS= read -r line; do
                t=$(echo "$line" | sed 's/^FAIL [A-Z-]*: \([^:]*\): .*/\1/')
                case "$t" in $filter) ;; *) continue ;; esac
                if [ -n "$sub" ]; then
                    case "$line" in *"$sub"*) ;; *) continue ;; esac
                fi
                echo "$line"; break
            done)
            other=$(grep -m1 '^FAIL ' "$log")
            if [ -z "$other" ] && ! grep -q '^  \.\.\. Passed' "$log"; then
                # Neither a verdict nor a pass: the test did not run (a
                # broken build, a Makefile or binary out of step).
                printf 'PROBLEM\t%s\t%s\t%s\tthe test did not run: %s (log: %s)\n' "$part" "$run" "$took" \
                    "$(grep -v '^\s*$' "$log" | tail -n 1 | cut -c1-200)" "$log" >"$result"
                return
            fi
            if [ -z "$got" ]; then
                if [ -n "$other" ]; then
                    seen="$seen run $run: $(echo "$other" | cut -c1-160);"
                else
                    seen="$seen run $run: $filter passed;"
                fi
                continue
            fi
            problem=""
            if [ "$took" -gt "$bound" ]; then
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
                printf 'PROBLEM\t%s\t%s\t%s\t%s (log: %s)\n' "$part" "$run" "$took" "$problem" "$log" >"$result"
                return
            fi
            printf 'CAUGHT\t%s\t%s\t%s\t%s\n' "$part" "$run" "$took" "$got" >"$result"
            return
        done
    done
    printf 'MISSED\t%s\t%s\t-\tnot caught in %s run(s):%s\n' "$mainpart" "$runs" "$runs" "$seen" >"$result"
}

report_case() {   # key name class result-file
    IFS='	' read -r rstatus rpart rused rtook rline <"$4"
    case "$rstatus" in
    CAUGHT) printf 'check_faulty: %-30s %-8s caught in run %s, %3ss: %s\n' "$1" "$3" "$rused" "$rtook" \
                "$(echo "$rline" | cut -c1-160)" ;;
    *)      printf 'check_faulty: %-30s %-8s %s: %s\n' "$1" "$3" "$rstatus" "$(echo "$rline" | cut -c1-400)" ;;
    esac
}

running=0
waiting=""   # "pid:key:name:class" of the cases running
collect() {   # reap finished cases; report them
    still=""
    running=0
    for w in $waiting; do
        cpid=${w%%:*}
        if kill -0 "$cpid" 2>/dev/null; then
            still="$still $w"
            running=$((running + 1))
        else
            wait "$cpid" 2>/dev/null
            # (own names: collect runs inside the loop that reads key, name)
            crest=${w#*:}; ckey=${crest%%:*}; crest=${crest#*:}; cname=${crest%%:*}; cclass=${crest#*:}
            [ -f "$out/$cname/$ckey.result" ] ||
                printf 'PROBLEM\t-\t0\t0\tthe run ended without a result\n' >"$out/$cname/$ckey.result"
            report_case "$ckey" "$cname" "$cclass" "$out/$cname/$ckey.result"
        fi
    done
    waiting=$still
}

echo "check_faulty: built in $(( $(date +%s) - start_all ))s; running, $jobs case(s) at once"
while IFS='	' read -r key name vars tests class runs bound sub; do
    if [ "$class" = EQUIVALENT ]; then
        mkdir -p "$out/$name"
        printf 'EQUIVALENT\t%s\t0\t0\t%s\n' "$(part_of "$(echo "$tests" | cut -d, -f1)")" "$sub" >"$out/$name/$key.result"
        continue
    fi
    [ -f "$out/$name/$key.result" ] && grep -q '^BUILD' "$out/$name/$key.result" && continue
    rm -f "$out/$name/$key.result"
    while [ "$running" -ge "$jobs" ]; do
        sleep 1
        collect
    done
    run_case "$key" "$name" "$vars" "$tests" "${class%/gap}" "$runs" "$bound" "$sub" </dev/null &
    waiting="$waiting $!:$key:$name:$class"
    running=$((running + 1))
done <"$list"
while [ "$running" -gt 0 ]; do
    sleep 1
    collect
done

# ---- the kill rate ---------------------------------------------------------
took_all=$(( $(date +%s) - start_all ))
echo
echo "check_faulty: kill rate (a case counts for the part of the test that caught it, or of its first test)"
bad=0
total=0 caught_total=0
for p in 2A 2B 2C 2D; do
    t=0 c=0
    while IFS='	' read -r key name vars tests class runs bound sub; do
        [ -f "$out/$name/$key.result" ] || continue
        IFS='	' read -r status part used tk line <"$out/$name/$key.result"
        [ "$status" = EQUIVALENT ] && continue
        [ "$part" = "$p" ] || { [ "$part" = "-" ] && [ "$(part_of "$(echo "$tests" | cut -d, -f1)")" = "$p" ]; } || continue
        t=$((t + 1))
        [ "$status" = CAUGHT ] && c=$((c + 1))
    done <"$list"
    total=$((total + t)); caught_total=$((caught_total + c))
    [ "$t" -gt 0 ] && printf '  %s: %d of %d caught (%d%%)\n' "$p" "$c" "$t" $((100 * c / t))
done
[ "$total" -gt 0 ] && printf '  all: %d of %d caught (%d%%)\n' "$caught_total" "$total" $((100 * caught_total / total))
# A known gap (class ending in /gap) that was missed does not fail the target;
# anything else not caught does.
gaps=0
while IFS='	' read -r key name vars tests class runs bound sub; do
    case "$class" in */gap) ;; *) continue ;; esac
    [ -f "$out/$name/$key.result" ] || continue
    IFS='	' read -r status part used tk line <"$out/$name/$key.result"
    [ "$status" = MISSED ] && gaps=$((gaps + 1))
done <"$list"
bad=$((total - caught_total - gaps))

eq=$(grep -c '	EQUIVALENT	' "$list")
if [ "$eq" -gt 0 ]; then
    echo "check_faulty: $eq equivalent case(s) (cannot change behaviour given the reference's design; not run):"
    while IFS='	' read -r key name vars tests class runs bound sub; do
        [ "$class" = EQUIVALENT ] && printf '  %s: %s\n' "$name" "$sub"
    done <"$list"
fi
if [ "$gaps" -gt 0 ]; then
    echo "check_faulty: $gaps known gap(s): bugs the tests do not catch yet (their patches say why):"
    while IFS='	' read -r key name vars tests class runs bound sub; do
        case "$class" in */gap) ;; *) continue ;; esac
        IFS='	' read -r status part used tk line <"$out/$name/$key.result"
        [ "$status" = MISSED ] && printf '  %s (%s): %s\n' "$key" "${class%/gap}" "$(echo "$line" | cut -c1-300)"
    done <"$list"
fi
if [ "$bad" -ne 0 ]; then
    echo "check_faulty: not caught as expected:"
    while IFS='	' read -r key name vars tests class runs bound sub; do
        IFS='	' read -r status part used tk line <"$out/$name/$key.result"
        case "$status" in CAUGHT|EQUIVALENT) continue ;; esac
        case "$class" in */gap) [ "$status" = MISSED ] && continue ;; esac
        printf '  %s (%s, %s): %s\n' "$key" "$class" "$status" "$(echo "$line" | cut -c1-400)"
    done <"$list"
    echo "check_faulty: $bad of $total case(s) not caught as expected (${took_all}s)"
    exit 1
fi
if [ "$gaps" -gt 0 ]; then
    echo "check_faulty: $caught_total of $total case(s) caught, the $gaps known gap(s) above excepted (${took_all}s)"
else
    echo "check_faulty: all $total case(s) caught as expected (${took_all}s)"
fi

#!/bin/sh
# check_timeline.sh (make check-timeline): timeline pages from real runs,
# opened in Debian's chromium, headless, by checks/timeline/check_timeline.mjs
# (playwright-core from npm, installed under build/ from its lock file):
#  - a passing test of the reference (VIS=always), in simulation, made twice
#    from one seed: the two pages must be identical, byte for byte, and a
#    third run without recording (VIS=never) the same run;
#  - a failing faulty implementation (checks/faulty/apply_twice: SAFETY);
#  - a crashing one (checks/faulty/segv_in_handler: the page is written from
#    the crash handler);
#  - a page made by tools/raftlog --html from the saved VERBOSE=1 log of two
#    failing tests (apply_twice): the first failing one, against the page
#    that same run wrote;
#  - a page made by the grader (tools/raftlab/grading/timelines.py) from the
#    failing run's data with "</script><script>..." and an <img onerror> in
#    every string a run writes (method and topic names, log lines, marks,
#    checks, the reason): it must show them as text and run none of them.
# Screenshots and pages stay in build/timeline-check/ for a person to look at.
set -eu
cd "$(dirname "$0")/.."
out=build/timeline-check
pages=$out/pages
rm -rf "$pages"
mkdir -p "$pages"
failures=0

command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 ||
    { echo "check-timeline needs node and npm (Debian: apt-get install nodejs npm)"; exit 1; }
chromium=${CHROMIUM:-$(command -v chromium || true)}
[ -n "$chromium" ] || { echo "check-timeline needs Debian's chromium (apt-get install chromium)"; exit 1; }

# playwright-core, as the lock file says, beside the build (not in the tree).
node_dir=$out/node
mkdir -p "$node_dir"
if ! cmp -s checks/timeline/package-lock.json "$node_dir/package-lock.json" || [ ! -d "$node_dir/node_modules/playwright-core" ]; then
    cp checks/timeline/package.json checks/timeline/package-lock.json "$node_dir/"
    (cd "$node_dir" && npm ci --no-audit --no-fund --loglevel=error)
fi

# A run whose test fails on purpose: make's status says so, the page is what counts.
run() {   # vars...
    env "$@" >"$pages/run.log" 2>&1 || true
    cat "$pages/run.log" >>"$pages/runs.log"
}
page_of() {   # the page the last run printed
    sed -n 's/^timeline: //p' "$pages/run.log" | tail -n 1
}

echo "--- a passing test, in simulation, twice from one seed"
make -s all RAFT=solution >/dev/null
run make --no-print-directory test-2A RAFT=solution ONLY=t02_reelection SIM=1 SEED=7 VIS=always TIMELINE_DIR="$PWD/$pages"
pass_page=$(page_of)
[ -n "$pass_page" ] && cp "$pass_page" "$pages/first.html"
run make --no-print-directory test-2A RAFT=solution ONLY=t02_reelection SIM=1 SEED=7 VIS=always TIMELINE_DIR="$PWD/$pages"
if [ -n "$pass_page" ] && cmp -s "$pages/first.html" "$pass_page"; then
    echo "  ok   the replay of SEED=7 wrote the same page, byte for byte"
else
    echo "  FAIL the replay of SEED=7 wrote another page (or none): see $pages/runs.log"
    failures=$((failures + 1))
fi
rm -f "$pages/first.html"
# Recording is no scheduling point: without it, the seed runs the same run.
grep '^  \.\.\. Passed' "$pages/run.log" >"$pages/passed-recording.txt" || true
run make --no-print-directory test-2A RAFT=solution ONLY=t02_reelection SIM=1 SEED=7 VIS=never
grep '^  \.\.\. Passed' "$pages/run.log" >"$pages/passed-not-recording.txt" || true
if [ -s "$pages/passed-recording.txt" ] && cmp -s "$pages/passed-recording.txt" "$pages/passed-not-recording.txt"; then
    echo "  ok   with VIS=never the seed ran the same run (same Passed line)"
else
    echo "  FAIL recording changed the simulated run: $(cat "$pages/passed-recording.txt") against $(cat "$pages/passed-not-recording.txt")"
    failures=$((failures + 1))
fi

faulty_page() {   # name part test: build the faulty copy, run it, print its page
    dir=$out/faulty/$1
    mkdir -p "$dir"
    patch -s -o "$dir/raft.c" solution/raft.c <"checks/faulty/$1.patch" >/dev/null
    make -s all RAFT="$dir" >/dev/null
    run make --no-print-directory "test-$2" RAFT="$dir" ONLY="$3" TIMELINE_DIR="$PWD/$pages"
    page_of
}
echo "--- a failing faulty implementation (apply_twice) and a crashing one (segv_in_handler)"
fail_page=$(faulty_page apply_twice 2B t01_basic_agree)
crash_page=$(faulty_page segv_in_handler 2A t01_initial_election)
for p in "$fail_page" "$crash_page"; do
    if [ -z "$p" ] || [ ! -s "$p" ]; then
        echo "  FAIL a failing run printed no timeline: see $pages/runs.log"
        failures=$((failures + 1))
    fi
done

echo "--- a page made by tools/raftlog --html from a saved log (apply_twice, two tests)"
run VERBOSE=1 make --no-print-directory test-2B RAFT="$out/faulty/apply_twice" ONLY='t0[12]*' TIMELINE_DIR="$PWD/$pages"
cp "$pages/run.log" "$pages/saved.log"
log_real=$(sed -n 's/^timeline: //p' "$pages/saved.log" | head -n 1)
log_page=$pages/from-saved-log.html
if ! tools/raftlog --html "$log_page" "$pages/saved.log" || [ -z "$log_real" ]; then
    echo "  FAIL tools/raftlog --html $pages/saved.log made no page, or the run wrote none"
    failures=$((failures + 1))
    log_page=
fi

echo "--- a page the grader made from a run's data with hostile strings in every field a run writes"
hostile_page=$pages/grader-hostile.html
if [ -n "$fail_page" ] && ! PYTHONPATH=tools python3 - "$fail_page" "$hostile_page" <<'PY'
import json, sys
from raftlab.grading import timelines
from raftlab.run.run import Outcome
html = open(sys.argv[1], encoding="utf-8").read()
start = html.index('<script type="application/json" id="timeline-data">')
data = json.loads(html[html.index(">", start) + 1:html.index("</script>", start)])
evil = "</script><script>window.pwned=1</script><!--<img src=x onerror=window.pwned=2>"
data["names"] = [n + evil for n in data["names"]]   # methods and topics
data["logs"] = [l[:4] + [(l[4] or "") + evil] for l in data["logs"]]   # DPRINTF lines and marks
data["logs"].append([data["endAt"] - 1, 0, data["names"].index(next(n for n in data["names"] if n.startswith("MARK")))
                     if any(n.startswith("MARK") for n in data["names"]) else 0, 1, "mark " + evil])
data["events"] = [e[:4] + [e[4] + evil] + e[5:] if len(e) > 4 and isinstance(e[4], str) else e for e in data["events"]]
checked = timelines.check(json.dumps(data).encode())
out = Outcome(test=data["test"][len("raft"):], seed=int(data["seed"]), passed=False, cls=data["failClass"],
              reason=data["reason"] + evil)
open(sys.argv[2], "w", encoding="utf-8").write(timelines.page(checked, out))
PY
then
    echo "  FAIL the grader could not make a page from $fail_page's data"
    failures=$((failures + 1))
fi

set --
[ -s "$hostile_page" ] && set -- "$@" "$hostile_page:fail"
[ -n "$pass_page" ] && set -- "$@" "$pass_page:pass"
[ -n "$fail_page" ] && set -- "$@" "$fail_page:fail"
[ -n "$crash_page" ] && set -- "$@" "$crash_page:fail"
[ -n "$log_page" ] && set -- "$@" "$log_page:log:$log_real"
status=0
CHROMIUM="$chromium" TIMELINE_NODE_MODULES="$node_dir" node checks/timeline/check_timeline.mjs "$out" "$@" || status=$?
echo "screenshots: $out/*.png"
[ "$failures" -eq 0 ] && [ "$status" -eq 0 ]

# raftlab: build everything into build/, run the lab's and the framework's tests.
#
#   make test-2A ... test-2D   run one part of the lab against raft/raft.c
#   make test-raft             all four parts in order
#   make check                 the framework's unit tests and every part
#                              against the reference solution (instructors)
#   make test-framework        the framework's unit tests only
#   make bench                 labrpc benchmarks
#   make stress T=2C N=200 J=8 run tests many times (tools/stress)
#
# Variables: CC=clang, SAN=thread | address (ASan+UBSan), RAFT=solution
# (test against solution/raft.c), SEED=<n> (replay a run's random choices).

CC      ?= cc
SAN     ?=
RAFT    ?= raft
TIMEOUT ?= timeout

VARIANT := $(if $(SAN),$(SAN),$(if $(filter 1,$(VALGRIND)),valgrind,plain))-$(notdir $(CC))
BUILD   := build/$(VARIANT)

WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
CFLAGS  ?= -O2 -g
CFLAGS  += -std=c11 -pthread $(WARN) -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -I.
LDFLAGS += -pthread
LDLIBS  += -lm

ifeq ($(SAN),thread)
  CFLAGS  += -fsanitize=thread -fno-omit-frame-pointer -O1
  LDFLAGS += -fsanitize=thread
  SAN_ENV := TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 $(TSAN_OPTIONS)" LAB_CPU_SCALE=4
else ifeq ($(SAN),address)
  CFLAGS  += -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -DLAB_LEAK_CHECK=1
  LDFLAGS += -fsanitize=address,undefined
  SAN_ENV := ASAN_OPTIONS="abort_on_error=1 detect_leaks=1 leak_check_at_exit=0 $(ASAN_OPTIONS)" UBSAN_OPTIONS="print_stacktrace=1 halt_on_error=1 exitcode=3 $(UBSAN_OPTIONS)" LAB_CPU_SCALE=2
else ifneq ($(SAN),)
  $(error SAN must be thread or address, not '$(SAN)')
endif

# VALGRIND=1 runs the tests under memcheck; any error or leak fails the test.
# Valgrind runs one thread at a time, 20-50 times slower: the framework's
# tests stretch their latency bounds (LAB_TIME_SCALE); the Raft suites run in
# slow motion instead (LAB_TIME_DILATION: every clock, sleep and timeout of
# lab/sync.h, the student's timers included, VALGRIND_DILATION times slower).
VALGRIND_DILATION ?= 4
ifeq ($(VALGRIND),1)
  CFLAGS += -DLAB_VALGRIND_CHECK=1 -DLAB_VALGRIND_DILATION=$(VALGRIND_DILATION)
  VALGRIND_ENV := LAB_TIME_SCALE=30 LAB_CPU_SCALE=0
  RAFT_VALGRIND_ENV := LAB_TIME_DILATION=$(VALGRIND_DILATION) LAB_CPU_SCALE=0
  PART_DILATION := $(VALGRIND_DILATION)
  RUN_PREFIX := valgrind --quiet --trace-children=yes --max-threads=2000 --error-exitcode=99 --leak-check=full \
                --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect
endif

# Criterion is found with pkg-config at recipe time, after `deps` may have installed it.
CRITERION_CFLAGS = $(shell pkg-config --cflags criterion 2>/dev/null)
CRITERION_LIBS   = $(shell pkg-config --libs criterion 2>/dev/null || echo -lcriterion)

# --- the framework library -------------------------------------------------
LIB_SRCS := lab/sync.c lab/registry.c lab/fatal.c lab/rand.c lab/pool.c lab/sim.c lab/sim_sync.c lab/sim_detect.c lab/trace.c \
            labrpc/codec.c labrpc/network.c labrpc/call.c \
            persister/persister.c \
            applych/applych.c lab/debug.c
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/%.o)
LIB      := $(BUILD)/liblab.a

# --- tests ------------------------------------------------------------------
UNIT_SRCS := $(wildcard checks/unit/*.c) harness/support/test_support.c
UNIT_OBJS := $(UNIT_SRCS:%.c=$(BUILD)/%.o)
UNIT_BIN  := $(BUILD)/test-framework

BENCH_BIN := $(BUILD)/bench-labrpc
BENCH_TRACE_BIN := $(BUILD)/bench-trace

# ThreadSanitizer needs a shim so that Criterion can start (design §7).
ifeq ($(SAN),thread)
  TEST_SHIM := $(BUILD)/harness/support/tsan_shim.o
endif

# Criterion's own per-test timeout is set in each suite; this outer limit
# makes sure nothing can hang a make target.
FRAMEWORK_LIMIT ?= 600

.PHONY: all deps test-framework check check-faulty check-timeline check-cgroup-v2 bench-timeline check-tools check-python check-grading handout check-handout raft-bin check-raft print-raft-bin print-raft-build stress bench bench-sim clean test-2A test-2B test-2C test-2D test-raft

all: $(LIB) $(BENCH_BIN) $(BENCH_TRACE_BIN) $(UNIT_BIN)

# Every object waits for `deps`: the tests' sources include Criterion's
# headers, which a fresh machine gets from `deps` on the first make.
$(BUILD)/%.o: %.c | deps
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(CRITERION_CFLAGS) -MMD -MP -c $< -o $@

$(LIB): $(LIB_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

$(UNIT_BIN): $(UNIT_OBJS) $(TEST_SHIM) $(LIB) | deps
	$(CC) $(LDFLAGS) -o $@ $(UNIT_OBJS) $(TEST_SHIM) $(LIB) $(CRITERION_LIBS) $(LDLIBS)

$(BENCH_BIN): $(BUILD)/checks/bench/bench_labrpc.o $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BENCH_TRACE_BIN): $(BUILD)/checks/bench/bench_trace.o $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Installs Criterion (and pkg-config) when missing, or says how to.
deps:
	@sh tools/install-deps.sh

test-framework: $(UNIT_BIN)
	$(SAN_ENV) $(VALGRIND_ENV) $(TIMEOUT) -k 10 $(FRAMEWORK_LIMIT) $(RUN_PREFIX) $(UNIT_BIN) -j1 $(CRITERION_FLAGS)

bench: $(BENCH_BIN) $(BENCH_TRACE_BIN)
	$(BENCH_BIN)
	$(BENCH_TRACE_BIN)

# What recording costs a whole part (README "Seeing a run"): the reference's
# 2C in simulation, where the same seed runs the same schedule with recording
# on or off, so the difference in wall time is the recording alone; then 2C
# in real time (CPU seconds; its wall time is the tests' own timing).
BENCH_TIMELINE_SEED ?= 1
bench-timeline:
	@for vis in never always never always; do \
	    $(MAKE) --no-print-directory -s test-2C RAFT=solution SIM=1 SEED=$(BENCH_TIMELINE_SEED) VIS=$$vis \
	        TIMELINE_DIR=$(abspath $(BUILD))/bench-timeline 2>&1 | sed -n "s/^2C: /2C SIM=1 VIS=$$vis: /p"; done
	@for vis in never always; do \
	    $(MAKE) --no-print-directory -s test-2C RAFT=solution SEED=$(BENCH_TIMELINE_SEED) VIS=$$vis \
	        TIMELINE_DIR=$(abspath $(BUILD))/bench-timeline 2>&1 | sed -n "s/^2C: /2C VIS=$$vis: /p"; done
	@ls -S $(abspath $(BUILD))/bench-timeline/*.html | head -n 1 | xargs ls -l | awk '{print "largest page: " $$5 " bytes, " $$9}'

# The reference's whole lab (the 28 tests and the extras) in simulation, as
# a benchmark (not a test): per part and in all, wall seconds, simulated
# seconds, scheduling steps and steps per second (README "The scheduler").
bench-sim:
	@mkdir -p $(BUILD)
	@LAB_SIM_STATS=1 $(MAKE) --no-print-directory -s test-raft RAFT=solution SIM=1 >$(BUILD)/bench-sim.log 2>&1; \
	status=$$?; grep -E '^(2[A-D]: |FAIL )' $(BUILD)/bench-sim.log; \
	python3 -c 'import re, sys; p = [re.search(r"in ([0-9.]+) s wall.*\(([0-9.]+) s simulated; ([0-9]+) scheduling steps", l) for l in open(sys.argv[1])]; p = [m for m in p if m]; w, v, n = (sum(float(m.group(k)) for m in p) for k in (1, 2, 3)); print(f"bench-sim: {len(p)} parts in {w:.1f} s wall, {v:.1f} s simulated ({v / w if w else 0:.0f}x), {n:.0f} scheduling steps, {n / w if w else 0:.0f} steps/s")' $(BUILD)/bench-sim.log; \
	exit $$status

# --- the Raft suites: one Criterion binary per implementation ---------------
# RAFT=raft (the student's raft/raft.c) or RAFT=solution (solution/raft.c).
RAFT_TEST_SRCS := $(wildcard harness/harness*.c) harness/support/backtrace.c harness/support/hang_dump.c $(wildcard tests/test_*.c)
# The timeline page's template, compiled in (harness/harness_timeline.c says why).
TIMELINE_PAGE_OBJ := $(BUILD)/gen/timeline_page.o
RAFT_TEST_OBJS := $(RAFT_TEST_SRCS:%.c=$(BUILD)/%.o) $(TIMELINE_PAGE_OBJ)
RAFT_IMPL_OBJ  := $(BUILD)/$(RAFT)/raft.o
RAFT_BIN       := $(BUILD)/raft-tests-$(subst /,-,$(RAFT))
# Extra flags for compiling the Raft implementation's object only (not the
# harness or the framework): make check-faulty builds each faulty copy of the
# reference with RAFT_CPPFLAGS=-DNDEBUG, so that the tests, not the
# reference's own asserts, must catch its bug.
RAFT_CPPFLAGS ?=
$(RAFT_IMPL_OBJ): CFLAGS += $(RAFT_CPPFLAGS)
# Linux: every exit() in the test binary's own objects goes through the
# harness first (harness/harness_signals.c), so that two threads calling exit()
# at once are still reported as exit(), with the caller. macOS's ld has no
# --wrap: there an atexit handler does it.
ifeq ($(shell uname -s),Linux)
  RAFT_LDFLAGS := -Wl,--wrap=exit
  CFLAGS += -DLAB_WRAP_EXIT=1
endif
# ONLY=<test> runs one test of the part, e.g. make test-2B ONLY=t10_count.
ONLY ?= *
# An outer limit per part, behind the harness's watchdog (a hang ends a test
# after 10 s, a slow test after 120 s; with its stack dump, 150 s at most)
# and Criterion's timeout (150 s per test): the binary derives it from its
# own test count and harness/lab_policy.h (--lab-part-limit); times the
# slow-motion factor under VALGRIND=1.
PART_DILATION ?= 1
# SIM=1: the Raft suites in simulation (lab/sim.h; README "The scheduler"):
# one thread at a time under a scheduler seeded from SEED, virtual time, and
# every FAIL line ends with the command that replays it exactly.
# SIM_STRATEGY=random (default) or pct chooses the scheduler's strategy.
SIM ?=
SIM_STRATEGY ?=
SIM_ENV := $(if $(filter 1,$(SIM)),LAB_SIM=1 LAB_RAFT=$(RAFT) $(if $(SIM_STRATEGY),LAB_SIM_STRATEGY=$(SIM_STRATEGY)))
# VIS=failure (default): a failing test writes its timeline page (README
# "Seeing a run") into TIMELINE_DIR and prints its path after the FAIL line;
# VIS=always: every test does; VIS=never: nothing is recorded.
VIS ?= failure
TIMELINE_DIR ?= $(abspath build/timelines)
VIS_ENV = LAB_VIS=$(VIS) LAB_TIMELINE_DIR='$(TIMELINE_DIR)'
# A page is 0.1-5 MiB and every failing run writes one: each make test-...
# first removes all but the newest TIMELINE_KEEP pages of earlier runs.
TIMELINE_KEEP ?= 50
PRUNE_TIMELINES = ls -t '$(TIMELINE_DIR)'/ | grep '\.html$$' | tail -n +$$(($(TIMELINE_KEEP) + 1)) | \
	while IFS= read -r page; do rm -f '$(TIMELINE_DIR)'/"$$page"; done
RUN_PART = mkdir -p '$(TIMELINE_DIR)' && { $(PRUNE_TIMELINES); } && $(VIS_ENV) $(SIM_ENV) $(SAN_ENV) $(RAFT_VALGRIND_ENV) $(TIMEOUT) -k 10 $$(($$($(SAN_ENV) $(RAFT_BIN) --lab-part-limit=$(1)) * $(PART_DILATION))) $(RUN_PREFIX) $(RAFT_BIN) --filter 'raft$(1)/$(ONLY)' -j1 $(CRITERION_FLAGS)

all: $(RAFT_BIN)

$(BUILD)/gen/timeline_page.c: tools/timeline/timeline.html tools/timeline/embed.sh
	@mkdir -p $(dir $@)
	LC_ALL=C sh tools/timeline/embed.sh $< >$@.tmp && mv $@.tmp $@

$(TIMELINE_PAGE_OBJ): $(BUILD)/gen/timeline_page.c
	$(CC) $(CFLAGS) -c $< -o $@

$(RAFT_BIN): $(RAFT_TEST_OBJS) $(RAFT_IMPL_OBJ) $(TEST_SHIM) $(BUILD)/harness/support/test_support.o $(LIB) | deps
	$(CC) $(LDFLAGS) $(RAFT_LDFLAGS) -o $@ $(RAFT_TEST_OBJS) $(RAFT_IMPL_OBJ) $(TEST_SHIM) $(BUILD)/harness/support/test_support.o $(LIB) $(CRITERION_LIBS) $(LDLIBS)

# The grader's check of raft.o (tools/check-raft; HANDOUT.md section 7): it
# only warns, and only for the plain build the grader makes. In simulation
# (SIM=1) it refuses a raft.o that calls what the scheduler cannot schedule
# or replay (pthreads, sleeps, clocks, rand), naming the lab_ replacement.
CHECK_RAFT_ARGS = $(RAFT_IMPL_OBJ) --deps $(RAFT_IMPL_OBJ:.o=.d) --source $(RAFT)/raft.c -- $(CC) $(CFLAGS) $(CRITERION_CFLAGS)
CHECK_RAFT = $(if $(filter 1,$(SIM)),python3 tools/check-raft --sim $(CHECK_RAFT_ARGS),$(if $(SAN)$(filter 1,$(VALGRIND)),true,command -v python3 >/dev/null 2>&1 && python3 tools/check-raft $(CHECK_RAFT_ARGS) || true))

test-2A test-2B test-2C test-2D: $(RAFT_BIN)
	@$(CHECK_RAFT)
	$(call RUN_PART,$(@:test-%=%))

# The same check alone (tools/stress --sim runs it with SIM=1).
check-raft: $(RAFT_BIN)
	@$(CHECK_RAFT)

# For tools (grading/grade, tools/stress): build the test binary of RAFT, and say where it is.
raft-bin: $(RAFT_BIN)

print-raft-bin:
	@echo $(RAFT_BIN)

# For grading/grade, which compiles a submission's raft.c in its sandbox and
# links it itself (after make raft-bin has built everything else).
print-raft-build:
	@echo 'CC=$(CC)'
	@echo 'CFLAGS=$(CFLAGS) $(CRITERION_CFLAGS)'
	@echo 'LDFLAGS=$(LDFLAGS) $(RAFT_LDFLAGS)'
	@echo 'OBJS=$(RAFT_TEST_OBJS) $(TEST_SHIM) $(BUILD)/harness/support/test_support.o $(LIB)'
	@echo 'LIBS=$(CRITERION_LIBS) $(LDLIBS)'
	@echo 'BUILD=$(BUILD)'

# Many runs of tests, J at once: make stress T=2C N=200 J=8 (tools/stress).
T ?= 2A
N ?= 100
J ?= 4
stress:
	@python3 tools/stress '$(T)' -n '$(N)' -j '$(J)' --raft '$(RAFT)' $(if $(filter 1,$(SIM)),--sim $(if $(SIM_STRATEGY),--strategy '$(SIM_STRATEGY)'))

test-raft: $(RAFT_BIN)
	@$(CHECK_RAFT)
	$(call RUN_PART,2A) && $(call RUN_PART,2B) && $(call RUN_PART,2C) && $(call RUN_PART,2D)

# The framework's tests, every part against the reference solution, the
# skeleton's expected failure, the handout, the tools' tests and the grader. Needs the
# reference solution: in the students' handout it says so and stops.
HAVE_SOLUTION := $(wildcard solution/raft.c)
check: test-framework
ifeq ($(HAVE_SOLUTION),)
	@echo "make check needs the reference solution (solution/raft.c), which the handout does not have; make test-framework runs the framework's own tests"; exit 1
else
	$(MAKE) --no-print-directory test-raft RAFT=solution
	sh checks/check_sim.sh
	sh checks/check_skeleton.sh
	sh checks/check_handout.sh
	$(MAKE) --no-print-directory check-python
	$(MAKE) --no-print-directory check-tools
	$(MAKE) --no-print-directory check-grading
endif

# Each faulty implementation in checks/faulty/ fails as it should, with the
# kill rate per part (instructors, CI). FAULTY_JOBS cases run at once
# (default 3); sh checks/check_faulty.sh <name>... checks some.
FAULTY_JOBS ?= 3
# Instructors' targets need files the students' handout leaves out: in the
# handout they say so instead of failing on a missing file.
instructors_only = $(if $(wildcard $(1)),,@echo "make $@ is for instructors: it needs $(1), which the handout does not include"; exit 1)

check-faulty:
	$(call instructors_only,checks/check_faulty.sh)
	FAULTY_JOBS='$(FAULTY_JOBS)' FAULTY_SIM='$(SIM)' CC='$(CC)' sh checks/check_faulty.sh

# The student tree as a tarball, without the solution (build/raftlab-handout.tar.gz),
# and its check: it unpacks, builds and fails 2A as a skeleton should.
handout:
	$(call instructors_only,tools/make-handout.sh)
	sh tools/make-handout.sh

check-handout:
	$(call instructors_only,checks/check_handout.sh)
	sh checks/check_handout.sh

# The Python tools are one package, tools/raftlab; its commands in tools/
# find it by themselves, anything else is given PYTHONPATH=tools.
# (mypy reaches checks/hostile/trees.py through check_grading.py's import.)
PYTHON_SOURCES := tools/raftlab tools/stress tools/raftlog tools/check-raft tools/grade \
	checks/tools checks/check_grading.py checks/load_grading.py checks/check_cgroup_v2_in_vm.py

# The tools' own tests: tools/raftlog, the runner (raftlab.run), the grader's
# parts (raftlab.grading), the policy shared with the C side.
check-tools:
	PYTHONPATH=tools python3 -m unittest discover -s checks/tools

# The Python tools' static checks: mypy (types, mypy.ini: strict) and flake8
# (pyflakes and pycodestyle, .flake8), Debian's packages mypy and flake8.
check-python:
	$(call instructors_only,mypy.ini)
	@command -v mypy >/dev/null 2>&1 && command -v flake8 >/dev/null 2>&1 || \
	    { echo "make check-python needs mypy and flake8 (Debian: apt-get install mypy flake8)"; exit 1; }
	mypy $(PYTHON_SOURCES)
	flake8 $(PYTHON_SOURCES) checks/hostile/trees.py

# Timeline pages of real runs (a passing one, replayed from its seed to the
# same bytes; a failing and a crashing faulty implementation) opened in
# Debian's chromium, headless, through playwright-core (npm, under build/):
# lanes, arrows, failure marker, log panel, zoom and filters against the
# recorded events; a page tools/raftlog --html made from a saved log of
# a failing run, against the page that run wrote; screenshots in
# build/timeline-check/ (about 20 s).
check-timeline:
	$(call instructors_only,checks/faulty/apply_twice.patch)
	sh checks/check_timeline.sh

# grading/grade against the reference, the skeleton, two faulty
# implementations and one that does not compile; then the hostile corpus
# (checks/hostile/) in one batch, an interrupted grading, grade --sim, and a
# course in shards (as processes, under GNU parallel, killed and resumed:
# each merge equal to one process's grading) (about 5 min).
check-grading:
	$(call instructors_only,checks/check_grading.py)
	PYTHONPATH=tools python3 checks/check_grading.py

# The grader's cgroup v2 path for real, whatever this machine's cgroups are:
# checks/check_cgroup_v2.sh boots Debian's kernel in qemu (KVM where it can,
# else qemu's emulation) with only cgroup2 mounted and the host's root shared
# read-only, and there runs test_cgroups.py and grading/grade as root, in the
# root cgroup, alone in a delegated cgroup, and beside another process.
# Kernel and busybox-static cached in ~/.cache/raftlab-vm (RAFTLAB_VM_CACHE).
# Skipped, saying why, without qemu-system-x86_64 (about 100 s under emulation).
check-cgroup-v2:
	$(call instructors_only,checks/check_cgroup_v2_in_vm.py)
	bash checks/check_cgroup_v2.sh

# The reference graded under heavy CPU load (busy loops: stress-ng, or
# Python's), with and without STARVED re-runs: how many runs were judged
# STARVED, and how many false failures got through. Not in make check: it
# loads the machine on purpose for minutes.
.PHONY: check-grading-load
check-grading-load:
	$(call instructors_only,checks/load_grading.py)
	PYTHONPATH=tools python3 checks/load_grading.py --control $(LOAD_ARGS)


clean:
	rm -rf build

-include $(LIB_OBJS:.o=.d) $(UNIT_OBJS:.o=.d) $(RAFT_TEST_OBJS:.o=.d) $(RAFT_IMPL_OBJ:.o=.d)

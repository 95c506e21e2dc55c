# raftlab: build everything into build/, run the lab's and the framework's tests.
#
#   make test-2A ... test-2D   run one part of the lab against raft/raft.c
#   make test-raft             all four parts in order
#   make check                 the framework's unit tests and every part
#                              against the reference solution (instructors)
#   make test-framework        the framework's unit tests only
#   make bench                 labrpc benchmarks
#
# Variables: CC=clang, SAN=thread | address (ASan+UBSan), RAFT=solution
# (test against solution/raft.c), SEED=<n> (replay a run's random choices).

CC      ?= cc
SAN     ?=
RAFT    ?= raft
TIMEOUT ?= timeout

VARIANT := $(if $(SAN),$(SAN),plain)-$(notdir $(CC))
BUILD   := build/$(VARIANT)

WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
CFLAGS  ?= -O2 -g
CFLAGS  += -std=c11 -pthread $(WARN) -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -I.
LDFLAGS += -pthread
LDLIBS  += -lm

ifeq ($(SAN),thread)
  CFLAGS  += -fsanitize=thread -fno-omit-frame-pointer -O1
  LDFLAGS += -fsanitize=thread
  SAN_ENV := TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 $(TSAN_OPTIONS)"
else ifeq ($(SAN),address)
  CFLAGS  += -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -DLAB_LEAK_CHECK=1
  LDFLAGS += -fsanitize=address,undefined
  SAN_ENV := ASAN_OPTIONS="abort_on_error=1 detect_leaks=1 $(ASAN_OPTIONS)" UBSAN_OPTIONS="print_stacktrace=1 halt_on_error=1 $(UBSAN_OPTIONS)"
else ifneq ($(SAN),)
  $(error SAN must be thread or address, not '$(SAN)')
endif

# Criterion is found with pkg-config at recipe time, after `deps` may have installed it.
CRITERION_CFLAGS = $(shell pkg-config --cflags criterion 2>/dev/null)
CRITERION_LIBS   = $(shell pkg-config --libs criterion 2>/dev/null || echo -lcriterion)

# --- the framework library -------------------------------------------------
LIB_SRCS := lab/sync.c lab/fatal.c lab/rand.c \
            labrpc/codec.c labrpc/labrpc.c \
            persister/persister.c \
            raft/applych.c raft/util.c
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/%.o)
LIB      := $(BUILD)/liblab.a

# --- tests ------------------------------------------------------------------
UNIT_SRCS := $(wildcard tests/unit/test_*.c) tests/support/test_support.c
UNIT_OBJS := $(UNIT_SRCS:%.c=$(BUILD)/%.o)
UNIT_BIN  := $(BUILD)/test-framework

BENCH_BIN := $(BUILD)/bench-labrpc

# ThreadSanitizer needs a shim so that Criterion can start (design §7).
ifeq ($(SAN),thread)
  TEST_SHIM := $(BUILD)/tests/support/tsan_shim.o
endif

# Criterion's own per-test timeout is set in each suite; this outer limit
# makes sure nothing can hang a make target.
FRAMEWORK_LIMIT ?= 600

.PHONY: all deps test-framework check bench clean test-2A test-2B test-2C test-2D test-raft

all: $(LIB) $(BENCH_BIN) $(UNIT_BIN)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(CRITERION_CFLAGS) -MMD -MP -c $< -o $@

$(LIB): $(LIB_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

$(UNIT_BIN): deps $(UNIT_OBJS) $(TEST_SHIM) $(LIB)
	$(CC) $(LDFLAGS) -o $@ $(UNIT_OBJS) $(TEST_SHIM) $(LIB) $(CRITERION_LIBS) $(LDLIBS)

$(BENCH_BIN): $(BUILD)/tests/bench/bench_labrpc.o $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Installs Criterion (and pkg-config) when missing, or says how to.
deps:
	@sh tools/install-deps.sh

test-framework: $(UNIT_BIN)
	$(SAN_ENV) $(TIMEOUT) -k 10 $(FRAMEWORK_LIMIT) $(UNIT_BIN) -j1 $(CRITERION_FLAGS)

bench: $(BENCH_BIN)
	$(BENCH_BIN)

# Until the Raft suites land, the lab targets run the framework's tests.
test-2A test-2B test-2C test-2D test-raft: test-framework

check: test-framework

clean:
	rm -rf build

-include $(LIB_OBJS:.o=.d) $(UNIT_OBJS:.o=.d)

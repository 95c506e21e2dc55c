/*
 * lab_policy.h: the lab's failure classes and time limits, each defined once.
 *
 * The harness uses them directly; the Makefile (a part's outer limit) and the
 * Python tools (tools/raftlab/run/policy.py: the classes a run can get, the
 * grader's limits) read them from the test binary, `raft-tests-… --lab-info`,
 * which prints them as JSON with the list of tests (harness/harness_info.c).
 * Adding a test or changing a limit here changes every derived limit.
 */
#ifndef TESTS_LAB_POLICY_H
#define TESTS_LAB_POLICY_H

/*
 * The failure classes a test can end with, the first word of its FAIL line.
 * X(name, what it means)
 */
#define LAB_FAILURE_CLASSES(X)                                                                 \
    X(SAFETY, "Raft broke a guarantee: committed values differ, two leaders in one term, a "     \
              "term that went down, an index applied twice, out of order or skipped, a snapshot " \
              "that went back, a corrupt snapshot")                                            \
    X(LIVENESS, "no progress in time: no leader, no agreement")                                \
    X(PERF, "too many RPCs or bytes, a log too large, a test over its time limit, or over "    \
            "half a core of CPU (a busy-wait or a retry storm)")                                \
    X(CRASH, "a signal, or a fatal error of the framework (an unknown RPC method, arguments "    \
             "that do not decode, a mutex destroyed while held)")                              \
    X(HANG, "a call into Raft, or a wait on one, stuck; or the test still running past its "    \
            "limit and grace")                                                                 \
    X(EXIT, "the process exited before the test finished (exit() or _exit())")                 \
    X(RACE, "ThreadSanitizer found a data race (SAN=thread)")                                  \
    X(MEMORY, "AddressSanitizer, UBSan or valgrind found a memory error")                      \
    X(LEAK, "memory leaked, or a thread not joined by raft_kill")

typedef enum lab_failure_class {
#define LAB_CLASS_ENUM(name, what) CLASS_##name,
    LAB_FAILURE_CLASSES(LAB_CLASS_ENUM)
#undef LAB_CLASS_ENUM
    LAB_CLASS_COUNT
} lab_failure_class;

/* "SAFETY", …: the word on the FAIL line. */
static inline const char *lab_class_name(lab_failure_class c)
{
    static const char *const names[] = {
#define LAB_CLASS_NAME(name, what) #name,
        LAB_FAILURE_CLASSES(LAB_CLASS_NAME)
#undef LAB_CLASS_NAME
    };
    return c >= 0 && c < LAB_CLASS_COUNT ? names[c] : "CRASH";
}

/* What a class means, for --lab-info and reports. */
static inline const char *lab_class_meaning(lab_failure_class c)
{
    static const char *const meanings[] = {
#define LAB_CLASS_MEANING(name, what) what,
        LAB_FAILURE_CLASSES(LAB_CLASS_MEANING)
#undef LAB_CLASS_MEANING
    };
    return c >= 0 && c < LAB_CLASS_COUNT ? meanings[c] : "";
}

#define LAB_STR_(x) #x
#define LAB_STR(x) LAB_STR_(x)   /* a limit in a string literal */

/*
 * Time limits, in seconds, each on the lab's clock (lab_now_ms; slowed down
 * by LAB_TIME_DILATION under valgrind). Behind each, the next catches what
 * the one before could not. Macros, so that a message can quote one
 * (LAB_STR).
 */
#define LAB_TEST_LIMIT_S     120  /* the original's per-test limit: PERF past it */
#define LAB_WATCH_LIMIT_S    10   /* a call into Raft this long is stuck: HANG */
#define LAB_HANG_GRACE_S     5    /* after the test limit, for the main thread to say PERF */
#define LAB_SUITE_TIMEOUT_S  150  /* Criterion's per-test timeout: a backstop */
#define LAB_PART_EXTRA_S     60   /* a part's outer limit: tests x suite timeout + this */
#define LAB_RUNNER_WALL_S    160  /* a runner (grader, stress) kills a run still going */
#define LAB_RUNNER_CPU_S     120  /* CPU seconds a run may use: a whole core all along */
#define LAB_LAB_LIMIT_S      600  /* the original's budget for one run of 2A-2D */

/*
 * The tests. The original 28 are 6.824's (tests/test_2a.c ... test_2d.c).
 * Beyond them, raftlab's extra tests (tests/test_extra.c), each in its
 * part's suite, named x<n>_..., so that they sort after the part's
 * originals: each catches a classic bug that the 28 cannot catch given a
 * Raft shaped like the reference (checks/faulty/corpus.txt).
 * X(part, name, the corpus case it catches)
 */
#define LAB_ORIGINAL_TESTS 28
#define LAB_EXTRA_TESTS(X)                                                 \
    X("2C", "x1_vote_survives_restart", "no_persist_voted_for")            \
    X("2C", "x2_figure8_scripted", "figure8_commit_old_term")              \
    X("2C", "x3_stale_append", "stale_append_truncates")                   \
    X("2C", "x4_stale_reply", "stale_reply_accepted")

#endif

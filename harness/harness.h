/*
 * harness.h: the Raft tester's "config" (6.824's raft/config.go, in C).
 *
 * A test builds a harness of n Raft servers on one simulated network, runs
 * its steps through the helpers below, and tears it down:
 *
 *     Test(raft2B, t01_basic_agreement)
 *     {
 *         harness *h = harness_make(3, false, false);   // n, unreliable, snapshot
 *         harness_begin(h, "Test (2B): basic agreement");
 *         int index = harness_one(h, 100, 3, false);     // agree on command 100
 *         ...
 *         harness_end(h);                                // prints "  ... Passed --  ..."
 *         harness_cleanup(h);
 *     }
 *
 * Threads. The thread that called harness_make is the test's MAIN thread;
 * only it may fail the test (Criterion must not abort from another thread).
 * A helper that finds a failure on any other thread (an applier, a churn
 * client, a concurrent one()) records it and returns (one() returns -1, a
 * sleep returns false); the main thread raises the recorded failure at its
 * next check, i.e. in any helper below or in harness_sleep, which wakes at
 * once when a failure is recorded. The main thread alone may change the
 * cluster: make, start/crash, connect/disconnect, set_*, begin/end,
 * cleanup. Everything else may be called from any thread of the test.
 *
 * Failures. Each is one line on stdout (and on the verdict channel, see
 * harness_report.c), ending with the seed that replays the run's random
 * choices:
 *
 *     FAIL SAFETY: raft2B/t01_basic_agree: commit index=3 server=1 103 != server=0 7 (SEED=1234567)
 *
 * The classes and what raises them are in README.md ("The lab's tests"):
 * SAFETY, LIVENESS and PERF come from the checks here and the safety
 * monitor (harness_monitor.c); CRASH, HANG, EXIT, RACE, MEMORY and LEAK from
 * harness_signals.c, harness_watchdog.c, harness_sanitizers.c and cleanup.
 * The main thread then ends the test process. Unlike the original, where an
 * apply error killed the whole run, a failure fails only its own test (each
 * runs in its own process).
 *
 * Commands are 64-bit integers encoded with codec_put_int64, except in the
 * RPC byte-count test, which sends strings (codec_put_string) through
 * harness_one_bytes.
 */
#ifndef TESTS_HARNESS_H
#define TESTS_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "harness/lab_policy.h"

/* The original's constants. */
#define HARNESS_ELECTION_TIMEOUT_MS 1000  /* tester allows an election 1 s */
#define HARNESS_SNAPSHOT_INTERVAL   10    /* snapshot at indices 9, 19, 29, ... */
#define HARNESS_MAX_LOG_SIZE        2000  /* bytes of Raft state in 2D */
#define HARNESS_TEST_LIMIT_S        LAB_TEST_LIMIT_S   /* per test */
#define HARNESS_CPU_FRACTION        0.5   /* of one core, over a whole test */
#define HARNESS_CPU_MIN_S           1.0   /* below this, no CPU verdict */

/* Criterion's per-test timeout: a backstop behind the watchdog, which ends a
 * test at 125 s (lab clock) plus its dump. Under valgrind the suites run with
 * LAB_TIME_DILATION=LAB_VALGRIND_DILATION (Makefile): real time stretches. */
#if defined(LAB_VALGRIND_CHECK) && LAB_VALGRIND_CHECK && defined(LAB_VALGRIND_DILATION)
#define HARNESS_SUITE_TIMEOUT_S     (LAB_SUITE_TIMEOUT_S * LAB_VALGRIND_DILATION)
#else
#define HARNESS_SUITE_TIMEOUT_S     LAB_SUITE_TIMEOUT_S
#endif

/* n_committed/wait: the committed command does not decode as an int64. */
#define HARNESS_NOT_INT INT64_MIN

typedef struct harness harness;

/* Life cycle (main thread). */
harness *harness_make(int n, bool unreliable, bool snapshot);
void harness_begin(harness *h, const char *description);
void harness_end(harness *h);
void harness_cleanup(harness *h);

/* Servers (main thread). start restarts: crash first, then a new instance
 * on a copy of the persisted state. connect/disconnect cut or restore all
 * of a server's links in both directions. */
void harness_start_server(harness *h, int i);
void harness_crash_server(harness *h, int i);
void harness_connect(harness *h, int i);
void harness_disconnect(harness *h, int i);
bool harness_is_alive(harness *h, int i);       /* started and not crashed */
bool harness_is_connected(harness *h, int i);

/* Calls into server i's Raft; false (and index = term = -1) if crashed. */
bool harness_raft_start(harness *h, int i, int64_t cmd, int *index, int *term);
bool harness_raft_get_state(harness *h, int i, int *term, bool *is_leader);

/* Checks. */
int harness_check_one_leader(harness *h);       /* the leader's index */
int harness_check_terms(harness *h);            /* the agreed term */
void harness_check_no_leader(harness *h);
/* How many servers applied index; *cmd gets the command (HARNESS_NOT_INT if
 * it is not an int64) when some did. cmd may be NULL. */
int harness_n_committed(harness *h, int index, int64_t *cmd);
/* Agreement on cmd by at least expected servers; its index, or -1 after a
 * failure recorded off the main thread. */
int harness_one(harness *h, int64_t cmd, int expected, bool retry);
int harness_one_bytes(harness *h, const void *cmd, size_t len, int expected, bool retry);
/* Waits for n servers to apply index; the command, or -1 if some server's
 * term passed start_term (-1: do not watch terms), HARNESS_NOT_INT if the
 * command is not an int64. */
int64_t harness_wait(harness *h, int index, int n, int start_term);

/* Statistics and network settings. */
int harness_log_size(harness *h);               /* largest Raft state, bytes */
int harness_rpc_count(harness *h, int i);       /* RPCs that reached server i */
int64_t harness_rpc_total(harness *h);
int64_t harness_bytes_total(harness *h);
void harness_set_unreliable(harness *h, bool unreliable);
void harness_set_long_reordering(harness *h, bool on);
/* Beyond the original (raftlab's extra tests): a quarter of all requests
 * held back 100-499 ms, so later requests to a server overtake them. */
void harness_set_request_reordering(harness *h, bool on);

/* Failing and waiting. fail raises on the main thread (does not return)
 * and records elsewhere. sleep returns false early, off the main thread,
 * if a failure has been recorded. check raises a recorded failure. */
void harness_fail(harness *h, lab_failure_class cls, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
bool harness_sleep(harness *h, int64_t ms);
void harness_check(harness *h);
bool harness_has_failed(harness *h);            /* a failure is recorded */

/* The harness's seeded random stream (thread-safe): uniform in [0, bound);
 * a non-negative int like Go's rand.Int(); a random string of n letters
 * and digits into buf (n + 1 bytes). */
uint64_t harness_rand(harness *h, uint64_t bound);
int64_t harness_rand_int(harness *h);
void harness_rand_string(harness *h, char *buf, size_t n);

#endif

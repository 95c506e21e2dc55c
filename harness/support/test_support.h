/*
 * test_support.h: helpers shared by the Criterion suites.
 *
 *   TestSuite(codec, .timeout = 30, .fini = test_check_leaks);
 *
 * test_check_leaks: under SAN=address (LAB_LEAK_CHECK=1), asks LeakSanitizer
 * for a leak check at the end of each test and fails the test ("LEAK: ...",
 * LSan's report with the allocation stacks above it) if memory became
 * unreachable (LSan's own report at process exit would not fail a Criterion
 * test). Elsewhere a no-op. A suite uses it exactly as above, as the .fini of
 * its TestSuite (or of one Test). Criterion 2.4.1 has settled a test's status
 * before .fini runs (an assertion, exit or abort there leaves it PASS), so
 * test_support.c also replaces Criterion's criterion_internal_test_main to
 * run the check as the body returns; nothing else may define that symbol.
 * Hence: memory the body leaves reachable (globals, fixtures that .fini frees)
 * is not a leak, and leaks in .fini itself are not seen; a body that failed
 * is not checked. A test body may also call test_check_leaks() itself.
 *
 * test_seed: the seed for this process's random choices: $SEED if set, else
 * derived from the clock. Whoever reports a failure prints it (the Raft
 * harness ends every FAIL line with "(SEED=<n>)") so that the run can be replayed with
 * SEED=<n>. A $SEED that is not a decimal uint64 aborts.
 *
 * test_latency_ms: a latency bound for a timing assertion ("returns within
 * 50 ms"), multiplied by $LAB_TIME_SCALE (default 1). The Makefile sets it
 * only for VALGRIND=1 runs, which serialise every thread and run 20-50 times
 * slower: there the point is memory errors, not latency. Normal runs and
 * the sanitizer runs use the bounds as written.
 */
#ifndef TESTS_TEST_SUPPORT_H
#define TESTS_TEST_SUPPORT_H

#include <stdbool.h>
#include <stdint.h>

#include "harness/lab_policy.h"

void test_check_leaks(void);
/* Who prints a failing leak or memory check's one-line report (the Raft
 * harness: "FAIL LEAK: ..."), before the check fails the test. */
void test_set_failure_reporter(void (*report)(lab_failure_class cls, const char *reason));
uint64_t test_seed(void);
int64_t test_latency_ms(int64_t ms);
/* False when latencies are scaled (VALGRIND=1): a check that classifies
 * events by their duration cannot be made there. */
bool test_latency_is_measured(void);

#endif

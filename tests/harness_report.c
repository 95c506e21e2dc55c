/*
 * harness_report.c: how a test fails. One line "FAIL <CLASS>: suite/test:
 * reason" and the seed; a failure seen off the main thread is recorded and
 * raised by the main thread, the only one that may end a Criterion test; a
 * Criterion timeout, an exit in mid-test and a fatal framework error are
 * caught and reported the same way. Also the per-part summary line.
 */
#include "tests/harness_internal.h"

#include <assert.h>
#include <criterion/criterion.h>
#include <criterion/hooks.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lab/fatal.h"
#include "lab/rand.h"
#include "lab/sync.h"
#include "labrpc/codec.h"
#include "labrpc/labrpc.h"
#include "persister/persister.h"
#include "raft/applych.h"
#include "raft/raft.h"
#include "raft/util.h"
#include "tests/support/test_support.h"

/* ---- failure reporting --------------------------------------------------- */

/* One test per process, so these are per test. */
static _Thread_local bool on_main_thread;   /* the thread that made the harness */
static atomic_int failure_reported;         /* a FAIL line is out: print no other */
static atomic_int test_running;             /* from make until cleanup or failure */
static char test_name[256];                 /* "suite/test" */
static uint64_t current_seed;
static char timeout_line[512];              /* preformatted for the signal handler */
static size_t timeout_line_len;
static struct sigaction previous_sigprof;

static void print_fail_line(const char *cls, const char *reason)
{
    if (atomic_exchange(&failure_reported, 1))
        return;
    printf("FAIL %s: %s: %s\nseed: %" PRIu64 "\n", cls, test_name, reason, current_seed);
    fflush(stdout);
}

/* Main thread only: report and fail the test through Criterion. */
_Noreturn void harness_raise_failure(const char *cls, const char *reason)
{
    assert(on_main_thread);
    atomic_store(&test_running, 0);
    print_fail_line(cls, reason);
    DPRINTF(TEST, -1, "FAIL %s: %s", cls, reason);
    cr_assert_fail("%s", reason);
    abort();   /* not reached: cr_assert_fail leaves the test */
}

static void format_reason(char *buf, size_t n, const char *fmt, va_list ap)
{
    vsnprintf(buf, n, fmt, ap);
    size_t len = strlen(buf);   /* one line: drop a trailing newline (Go's messages have some) */
    while (len > 0 && buf[len - 1] == '\n')
        buf[--len] = '\0';
}

void harness_fail(harness *h, const char *cls, const char *fmt, ...)
{
    char reason[REASON_LEN];
    va_list ap;
    va_start(ap, fmt);
    format_reason(reason, sizeof reason, fmt, ap);
    va_end(ap);

    if (on_main_thread)
        harness_raise_failure(cls, reason);

    /* Another thread: only the main thread may leave a Criterion test, so
     * record the first failure and wake the main thread's sleep. */
    DPRINTF(TEST, -1, "failure on %s: %s", lab_thread_name(), reason);
    lab_mutex_lock(&h->mu);
    if (!h->failed) {
        h->failed = true;
        snprintf(h->fail_class, sizeof h->fail_class, "%s", cls);
        snprintf(h->fail_reason, sizeof h->fail_reason, "%s", reason);
        lab_cond_broadcast(&h->cv);
    }
    lab_mutex_unlock(&h->mu);
}

bool harness_has_failed(harness *h)
{
    lab_mutex_lock(&h->mu);
    bool failed = h->failed;
    lab_mutex_unlock(&h->mu);
    return failed;
}

/* Main thread: raise what another thread recorded; enforce the time limit. */
void harness_check(harness *h)
{
    assert(on_main_thread);
    char cls[16], reason[REASON_LEN];
    lab_mutex_lock(&h->mu);
    bool failed = h->failed;
    if (failed) {
        memcpy(cls, h->fail_class, sizeof cls);
        memcpy(reason, h->fail_reason, sizeof reason);
    }
    lab_mutex_unlock(&h->mu);
    if (failed)
        harness_raise_failure(cls, reason);
    if (lab_now_ms() - h->make_ms > HARNESS_TEST_LIMIT_S * 1000LL)
        harness_raise_failure("PERF", "test took longer than 120 seconds");
}

/* Sleeps, but a recorded failure cuts it short: the main thread raises it
 * within moments instead of after a long sleep; another thread gets false
 * and should stop. */
bool harness_sleep(harness *h, int64_t ms)
{
    int64_t deadline = lab_now_ms() + ms;
    lab_mutex_lock(&h->mu);
    while (!h->failed && lab_now_ms() < deadline)
        lab_cond_wait_until(&h->cv, &h->mu, deadline);
    bool failed = h->failed;
    lab_mutex_unlock(&h->mu);
    if (on_main_thread)
        harness_check(h);
    return !failed;
}

/* Criterion's per-test timeout arrives as SIGPROF: say so in our format, then
 * let whatever handled it before (a stack dump, or the default) go on. */
static void on_sigprof(int sig, siginfo_t *info, void *context)
{
    if (atomic_load(&test_running) && !atomic_exchange(&failure_reported, 1)) {
        ssize_t ignored = write(STDOUT_FILENO, timeout_line, timeout_line_len);
        (void)ignored;
    }
    if (previous_sigprof.sa_flags & SA_SIGINFO) {
        previous_sigprof.sa_sigaction(sig, info, context);
    } else if (previous_sigprof.sa_handler != SIG_DFL && previous_sigprof.sa_handler != SIG_IGN) {
        previous_sigprof.sa_handler(sig);
    }
    signal(SIGPROF, SIG_DFL);
    raise(SIGPROF);
}

/* Criterion counts an exit(0) in the middle of a test as a pass; a Raft that
 * calls exit must fail the test instead. */
static void on_exit_during_test(void)
{
    if (!atomic_load(&test_running))
        return;
    print_fail_line("CRASH", "the process exited before the test finished");
    _exit(1);
}

static void on_lab_fatal(const char *message)
{
    if (atomic_load(&test_running)) {
        char reason[REASON_LEN];
        snprintf(reason, sizeof reason, "fatal: %s", message);
        print_fail_line("CRASH", reason);
    }
    /* returning lets lab_fatal abort */
}

static void harness_install_process_hooks(void)
{
    static bool installed;
    if (installed)
        return;
    installed = true;
    atexit(on_exit_during_test);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_sigprof;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGPROF, &sa, &previous_sigprof);
}

/* ---- random choices ------------------------------------------------------- */

static const char name_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

uint64_t harness_rand(harness *h, uint64_t bound)
{
    lab_mutex_lock(&h->mu);
    uint64_t x = lab_rand_below(&h->rand, bound);
    lab_mutex_unlock(&h->mu);
    return x;
}

int64_t harness_rand_int(harness *h)
{
    lab_mutex_lock(&h->mu);
    int64_t x = (int64_t)(lab_rand_next(&h->rand) >> 1);
    lab_mutex_unlock(&h->mu);
    return x;
}

void harness_rand_string(harness *h, char *buf, size_t n)
{
    lab_mutex_lock(&h->mu);
    for (size_t k = 0; k < n; k++)
        buf[k] = name_alphabet[lab_rand_below(&h->rand, 64)];
    buf[n] = '\0';
    lab_mutex_unlock(&h->mu);
}

/* ---- one summary line per part, from the runner process ---------------------------------- */

/*
 * Criterion calls report hooks in the runner, which forks one process per
 * test and has reaped a suite's processes by POST_SUITE, so the CPU time of
 * the part is the growth of the children's CPU time. A suite whose tests
 * were all filtered out prints nothing.
 */
static int64_t part_start_ms;
static double part_start_cpu;

ReportHook(PRE_SUITE)(struct criterion_suite_set *set)
{
    (void)set;
    part_start_ms = lab_now_ms();
    part_start_cpu = lab_children_cpu_seconds();
}

ReportHook(POST_SUITE)(struct criterion_suite_stats *stats)
{
    if (stats->tests_passed + stats->tests_failed == 0)
        return;
    const char *part = stats->suite->name;
    if (strncmp(part, "raft", 4) == 0)
        part += 4;
    printf("%s: %zu passed, %zu failed in %.1f s wall, %.1f s CPU\n", part,
           stats->tests_passed, stats->tests_failed,
           (double)(lab_now_ms() - part_start_ms) / 1000.0,
           lab_children_cpu_seconds() - part_start_cpu);
    fflush(stdout);
}


/* ---- the test's start and end, for the reporting above ------------------------------ */

bool harness_on_main_thread(void)
{
    return on_main_thread;
}

void harness_report_begin(uint64_t seed)
{
    on_main_thread = true;
    current_seed = seed;
    /* In the test process Criterion's current test and suite are copies
     * packed without regard to alignment: read them with memcpy. */
    struct criterion_test t = {0};
    struct criterion_suite su = {0};
    if (criterion_current_test)
        memcpy(&t, criterion_current_test, sizeof t);
    if (criterion_current_suite)
        memcpy(&su, criterion_current_suite, sizeof su);
    snprintf(test_name, sizeof test_name, "%s/%s",
             su.name ? su.name : "?", t.name ? t.name : "?");
    int len = snprintf(timeout_line, sizeof timeout_line,
                       "FAIL PERF: %s: test took longer than %d seconds\nseed: %" PRIu64 "\n",
                       test_name, HARNESS_TEST_LIMIT_S, current_seed);
    timeout_line_len = len > 0 && (size_t)len < sizeof timeout_line ? (size_t)len : 0;
    harness_install_process_hooks();
    lab_set_fatal_hook(on_lab_fatal);
    atomic_store(&failure_reported, 0);
    atomic_store(&test_running, 1);

}

void harness_report_end(void)
{
    atomic_store(&test_running, 0);
    lab_set_fatal_hook(NULL);
}


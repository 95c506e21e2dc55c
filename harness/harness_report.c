/*
 * harness_report.c: how a test fails. Every failure ends with one line
 * "FAIL <CLASS>: suite/test: reason (SEED=n)". A failure seen off the main
 * thread is recorded and raised by the main thread, the only one that may
 * end a Criterion test; failures that end the process (a crash, a hang, an
 * exit, a sanitizer report: harness_signals.c, harness_watchdog.c) print
 * the line and exit with HARNESS_EXIT_REPORTED. In the runner process: the
 * check that a test which "passed" really reached its end (an _exit in mid
 * test is otherwise a PASS), a line for any test process that died without
 * one, and the per-part summary line.
 */
#include "harness/harness_internal.h"

#include <assert.h>
#include <criterion/criterion.h>
#include <criterion/hooks.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include "harness/support/backtrace.h"
#include "harness/support/test_support.h"
#include "lab/debug.h"
#include "lab/diag.h"
#include "lab/sim.h"

/* ---- the verdict channel --------------------------------------------------- */

/*
 * stdout is shared with the Raft code, which may print anything: a printf
 * without its newline glues the next line to it, and a printf can imitate
 * a FAIL or Passed line. So a runner (tools/raftlab/run) reads verdicts from a
 * channel of their own. LAB_VERDICT_FILE names a file, opened for appending
 * by Criterion's runner process and by each test process (Criterion closes
 * every inherited descriptor in the test processes, so it is a path, not a
 * descriptor), that gets every FAIL line and, from the runner process, one
 * record per test:
 *
 *     VERDICT <key> <suite/test> PASS|FAIL
 *
 * The key is read from LAB_VERDICT_KEY_FD and that descriptor closed in the
 * runner process before any test process starts. Test processes are fresh
 * executables (Criterion execs them), so none of them holds the key: the
 * Raft code can write a FAIL line, but never a PASS.
 */
static int verdict_fd = -1;   /* -1: no runner is listening */
static char verdict_key[65] = "-";

static void verdict_open(void)
{
    const char *path = getenv("LAB_VERDICT_FILE");
    if (verdict_fd < 0 && path != NULL && path[0] != '\0')
        verdict_fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
}

static void verdict_write(const char *text)
{
    if (verdict_fd >= 0)
        sbuf_write(verdict_fd, text);
}

/* ---- failure reporting --------------------------------------------------- */

/* One test per process, so these are per test. */
static _Thread_local bool on_main_thread;   /* the thread that made the harness */
static atomic_int failure_reported;         /* a FAIL line is out: print no other */
static atomic_int test_running;             /* from make until cleanup or failure */
static char test_name[256];                 /* "suite/test" */
static char seed_text[32];                  /* decimal, for signal handlers */

bool harness_test_running(void)
{
    return atomic_load(&test_running) != 0;
}

const char *harness_test_name(void)
{
    return test_name;
}

/*
 * Simulation mode (LAB_SIM=1). Same seed, same binary: the same run, so
 * every FAIL line ends with the command that replays it exactly,
 * " (replay: make test-2C SIM=1 SEED=… ONLY=t04_figure8)". And each test
 * process adds its simulated time to the file the runner process names in
 * LAB_SIM_TIME_FILE, for the part's summary line.
 */
static char replay_text[320];   /* set in harness_report_begin */
static const char *sim_time_file;
static atomic_int sim_time_recorded;

/* " (replay: …)" for suite/test into out; "" outside simulation. */
static void format_replay(char *out, size_t n, const char *suite, const char *test, const char *seed)
{
    out[0] = '\0';
    if (!lab_sim_requested())
        return;
    const char *impl = getenv("LAB_RAFT");          /* the Makefile's RAFT= */
    const char *strategy = getenv("LAB_SIM_STRATEGY");
    const char *sim_seed = getenv("LAB_SIM_SEED");
    snprintf(out, n, " (replay: %s%s%smake test-%s SIM=1%s%s SEED=%s ONLY=%s%s%s)",
             sim_seed && *sim_seed ? "LAB_SIM_SEED=" : "", sim_seed && *sim_seed ? sim_seed : "",
             sim_seed && *sim_seed ? " " : "",
             strncmp(suite, "raft", 4) == 0 ? suite + 4 : suite,
             strategy && *strategy ? " SIM_STRATEGY=" : "", strategy && *strategy ? strategy : "",
             seed, test, impl && *impl && strcmp(impl, "raft") != 0 ? " RAFT=" : "",
             impl && *impl && strcmp(impl, "raft") != 0 ? impl : "");
}

/* Once per test process, at its end (passed or failed); async-signal-safe. */
static void sim_time_record(void)
{
    if (sim_time_file == NULL || !lab_sim_active() || atomic_exchange(&sim_time_recorded, 1))
        return;
    char text[384];   /* "<simulated us> <steps> <hand-offs> <schedule digest> <suite/test>" */
    sbuf b = {text, sizeof text, 0};
    sbuf_dec(&b, (long long)lab_sim_elapsed_us());
    sbuf_str(&b, " ");
    sbuf_dec(&b, (long long)lab_sim_steps());
    sbuf_str(&b, " ");
    sbuf_dec(&b, (long long)lab_sim_switches());
    sbuf_str(&b, " ");
    sbuf_hex(&b, lab_sim_digest());
    sbuf_str(&b, " ");
    sbuf_str(&b, test_name);
    sbuf_str(&b, "\n");
    int fd = open(sim_time_file, O_WRONLY | O_APPEND);
    if (fd >= 0) {
        sbuf_write(fd, text);
        close(fd);
    }
}

/* Async-signal-safe: fixed buffer, write(2). Callers in ordinary code flush
 * stdout first. Only the first failure of a test prints. */
bool harness_print_fail_line(lab_failure_class cls, const char *reason)
{
    if (atomic_exchange(&failure_reported, 1))
        return false;
    static char line[REASON_LEN + 384];
    sbuf b = {line, sizeof line, 0};
    sbuf_str(&b, "FAIL ");
    sbuf_str(&b, lab_class_name(cls));
    sbuf_str(&b, ": ");
    sbuf_str(&b, test_name);
    sbuf_str(&b, ": ");
    sbuf_str(&b, reason);
    sbuf_str(&b, " (SEED=");
    sbuf_str(&b, seed_text);
    sbuf_str(&b, ")");
    sbuf_str(&b, replay_text);   /* "" outside simulation */
    sbuf_str(&b, "\n");
    sbuf_write(STDOUT_FILENO, line);
    verdict_write(line);
    sim_time_record();
    harness_timeline_write("FAIL", lab_class_name(cls), reason);   /* prints its path */
    return true;
}

_Noreturn void harness_report_and_exit(lab_failure_class cls, const char *reason)
{
    atomic_store(&test_running, 0);
    harness_print_fail_line(cls, reason);
    _exit(HARNESS_EXIT_REPORTED);
}

/* Main thread only: report and end the test. Not through a Criterion
 * assertion, which would print this file's name and line under the FAIL
 * line, pointing a student at the framework instead of at the reason: the
 * process ends with HARNESS_EXIT_REPORTED, which the runner process counts
 * as a failure already reported (POST_TEST below). */
_Noreturn void harness_raise_failure(lab_failure_class cls, const char *reason)
{
    assert(on_main_thread);
    atomic_store(&test_running, 0);
    fflush(stdout);
    DPRINTF(TEST, -1, "FAIL %s: %s", lab_class_name(cls), reason);
    harness_print_fail_line(cls, reason);
    fflush(stdout);
    _exit(HARNESS_EXIT_REPORTED);
}

static void format_reason(char *buf, size_t n, const char *fmt, va_list ap)
{
    vsnprintf(buf, n, fmt, ap);
    size_t len = strlen(buf);   /* one line: drop a trailing newline (Go's messages have some) */
    while (len > 0 && buf[len - 1] == '\n')
        buf[--len] = '\0';
}

void harness_fail(harness *h, lab_failure_class cls, const char *fmt, ...)
{
    char reason[REASON_LEN];
    va_list ap;
    va_start(ap, fmt);
    format_reason(reason, sizeof reason, fmt, ap);
    va_end(ap);
    /* Agreement or time that ran out may have a storm of calls behind it. */
    if ((cls == CLASS_LIVENESS || cls == CLASS_PERF) && strstr(reason, "retry storm") == NULL) {
        char note[REASON_LEN / 2];
        harness_monitor_storm_note(h, note, sizeof note);
        size_t len = strlen(reason);
        snprintf(reason + len, sizeof reason - len, "%s", note);
    }

    if (on_main_thread)
        harness_raise_failure(cls, reason);

    /* Another thread: only the main thread may leave a Criterion test, so
     * record the first failure and wake the main thread's sleep. */
    DPRINTF(TEST, -1, "failure on %s: %s", lab_thread_name(), reason);
    lab_mutex_lock(&h->mu);
    if (!h->failed) {
        h->failed = true;
        h->fail_class = cls;
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
    lab_failure_class cls = CLASS_CRASH;
    char reason[REASON_LEN];
    lab_mutex_lock(&h->mu);
    bool failed = h->failed;
    if (failed) {
        cls = h->fail_class;
        memcpy(reason, h->fail_reason, sizeof reason);
    }
    lab_mutex_unlock(&h->mu);
    if (failed)
        harness_raise_failure(cls, reason);
    if (lab_now_ms() - h->make_ms > test_latency_ms(HARNESS_TEST_LIMIT_S * 1000LL))
        harness_raise_failure(CLASS_PERF, "test took longer than " LAB_STR(LAB_TEST_LIMIT_S) " seconds");
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

/* ---- in the runner process: each test's end, and one summary line per part ---- */

/*
 * Criterion calls report hooks in the runner, which forks one process per
 * test. A test process that ended without printing a FAIL line (an _exit,
 * or a signal the harness could not catch) gets one here, without a seed:
 * the runner never knew it. A test that passed without its end-of-test
 * assertion exited in mid-test, and is failed here.
 */
static bool is_lab_suite(const struct criterion_test_stats *st)
{
    return st->test && st->test->category && strncmp(st->test->category, "raft", 4) == 0;
}

static void runner_fail_line(const struct criterion_test_stats *st, lab_failure_class cls, const char *reason)
{
    const char *seed = getenv("SEED");
    char line[REASON_LEN], replay[320] = "";
    if (seed)
        format_replay(replay, sizeof replay, st->test->category, st->test->name, seed);
    snprintf(line, sizeof line, "FAIL %s: %s/%s: %s%s%s%s%s\n", lab_class_name(cls), st->test->category, st->test->name,
             reason, seed ? " (SEED=" : "", seed ? seed : "", seed ? ")" : "", replay);
    fputs(line, stdout);
    fflush(stdout);
    verdict_write(line);
}

static void runner_verdict(const struct criterion_test_stats *st)
{
    char line[REASON_LEN];
    snprintf(line, sizeof line, "VERDICT %s %s/%s %s\n", verdict_key, st->test->category, st->test->name,
             st->test_status == CR_STATUS_PASSED ? "PASS" : "FAIL");
    verdict_write(line);
}

static void sim_time_file_make(void);

/* In the runner process, before any test process exists: the key. */
ReportHook(PRE_ALL)(struct criterion_test_set *set)
{
    (void)set;
    verdict_open();
    sim_time_file_make();
    const char *key_fd_text = getenv("LAB_VERDICT_KEY_FD");
    if (key_fd_text == NULL)
        return;
    int key_fd = atoi(key_fd_text);
    ssize_t n = read(key_fd, verdict_key, sizeof verdict_key - 1);
    verdict_key[n > 0 ? n : 0] = '\0';
    for (char *c = verdict_key; *c; c++)   /* one word on the record's line */
        if (*c == ' ' || *c == '\n')
            *c = '\0';
    if (verdict_key[0] == '\0')
        snprintf(verdict_key, sizeof verdict_key, "-");
    close(key_fd);
    unsetenv("LAB_VERDICT_KEY_FD");
#ifdef __linux__
    /* The key is in this process's memory now: no process of the same user
     * (a test process's Raft code, say) may read it through /proc or
     * ptrace. exec makes the test processes dumpable again, so hang dumps
     * can still attach to them. Elsewhere only the sandbox protects it. */
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
#endif
}

ReportHook(POST_TEST)(struct criterion_test_stats *st)
{
    if (!is_lab_suite(st))
        return;
    char reason[160];
    if (st->test_status == CR_STATUS_PASSED && st->passed_asserts == 0) {
        snprintf(reason, sizeof reason, "the process exited with status %d before the test finished "
                 "(an _exit or _Exit in the Raft code?)", st->exit_code);
        runner_fail_line(st, CLASS_EXIT, reason);
        st->test_status = CR_STATUS_FAILED;
        runner_verdict(st);
        return;
    }
    runner_verdict(st);
    bool reported = st->failed_asserts > 0 || st->timed_out || st->exit_code == HARNESS_EXIT_REPORTED;
    if (st->test_status != CR_STATUS_FAILED || reported)
        return;
    snprintf(reason, sizeof reason, "the process exited with status %d before the test finished", st->exit_code);
    runner_fail_line(st, CLASS_EXIT, reason);
}

/* The name a signal has in C ("SIGKILL"): what the grader matches
 * (tools/raftlab/run/run.py) and what a search finds. */
static const char *signal_abbrev(int sig)
{
    static const struct {
        int sig;
        const char *name;
    } names[] = {
        {SIGKILL, "SIGKILL"}, {SIGXCPU, "SIGXCPU"}, {SIGXFSZ, "SIGXFSZ"}, {SIGTERM, "SIGTERM"},
        {SIGSEGV, "SIGSEGV"}, {SIGBUS, "SIGBUS"},   {SIGABRT, "SIGABRT"}, {SIGFPE, "SIGFPE"},
        {SIGILL, "SIGILL"},   {SIGTRAP, "SIGTRAP"}, {SIGPIPE, "SIGPIPE"}, {SIGALRM, "SIGALRM"},
        {SIGHUP, "SIGHUP"},   {SIGINT, "SIGINT"},   {SIGQUIT, "SIGQUIT"}, {SIGUSR1, "SIGUSR1"},
        {SIGUSR2, "SIGUSR2"}, {SIGSYS, "SIGSYS"},   {SIGVTALRM, "SIGVTALRM"},
    };
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++)
        if (names[k].sig == sig)
            return names[k].name;
    return strsignal(sig);
}

/*
 * Criterion reports a test process killed by a signal during the test as
 * TEST_CRASH, never as POST_TEST. A signal the harness catches (a crash,
 * harness_signals.c) ends the process with its own FAIL line and an exit,
 * so a test process that died of a signal ended without one: a SIGKILL (the
 * kernel's hard CPU-time limit, the OOM killer), a SIGXFSZ, a signal the
 * crash handler could not survive. SIGPROF is Criterion's timeout, whose
 * FAIL line the harness printed before re-raising it.
 */
ReportHook(TEST_CRASH)(struct criterion_test_stats *st)
{
    if (!is_lab_suite(st) || st->signal == SIGPROF)
        return;
    char reason[160];
    snprintf(reason, sizeof reason, "the test process was killed by signal %d (%s)", st->signal,
             signal_abbrev(st->signal));
    runner_fail_line(st, CLASS_CRASH, reason);
}

/*
 * The CPU time of a part is the growth of the runner's children's CPU time:
 * it has reaped a suite's processes by POST_SUITE. Counts come from each
 * test's status, which POST_TEST may have changed. A suite whose tests were
 * all filtered out prints nothing.
 */
static int64_t part_start_ms;
static double part_start_cpu;

/* Simulation: the file where test processes add their simulated times
 * (sim_time_record); the runner makes it, reads it and removes it, unless
 * the caller named one in LAB_SIM_TIME_FILE (checks/check_sim.sh reads the
 * schedule digests there). */
static char sim_time_path[PATH_MAX];
static bool sim_time_path_ours;
static long sim_time_offset;   /* what was there before this part */

static void sim_time_file_make(void)
{
    if (!lab_sim_requested())
        return;
    const char *given = getenv("LAB_SIM_TIME_FILE");
    if (given && *given) {
        snprintf(sim_time_path, sizeof sim_time_path, "%s", given);
        FILE *f = fopen(sim_time_path, "a");
        if (f) {
            sim_time_offset = ftell(f);
            fclose(f);
        }
        return;
    }
    sim_time_path_ours = true;
    snprintf(sim_time_path, sizeof sim_time_path, "/tmp/raftlab-simtime-XXXXXX");
    int fd = mkstemp(sim_time_path);
    if (fd < 0) {
        sim_time_path[0] = '\0';
        return;
    }
    close(fd);
    setenv("LAB_SIM_TIME_FILE", sim_time_path, 1);
}

/* What test processes added since offset (simulated seconds, scheduling
 * steps, hand-offs between threads); moves offset on. */
typedef struct sim_totals {
    double seconds;
    long long steps, switches;
} sim_totals;

static sim_totals sim_time_read(long *offset)
{
    sim_totals t = {0, 0, 0};
    FILE *f = sim_time_path[0] ? fopen(sim_time_path, "r") : NULL;
    if (f == NULL)
        return t;
    long long us, steps, switches;
    char digest[40], test[256];
    if (fseek(f, *offset, SEEK_SET) == 0)
        while (fscanf(f, "%lld %lld %lld %39s %255s", &us, &steps, &switches, digest, test) == 5) {
            t.seconds += (double)us / 1e6;
            t.steps += steps;
            t.switches += switches;
        }
    *offset = ftell(f);
    fclose(f);
    return t;
}

ReportHook(POST_ALL)(struct criterion_global_stats *stats)
{
    (void)stats;
    if (sim_time_path_ours)
        unlink(sim_time_path);
}

ReportHook(PRE_SUITE)(struct criterion_suite_set *set)
{
    (void)set;
    part_start_ms = lab_now_ms();
    part_start_cpu = lab_children_cpu_seconds();
}

ReportHook(POST_SUITE)(struct criterion_suite_stats *stats)
{
    size_t passed = 0, failed = 0;
    for (struct criterion_test_stats *t = stats->tests; t != NULL; t = t->next) {
        if (t->test_status == CR_STATUS_PASSED)
            passed++;
        else if (t->test_status == CR_STATUS_FAILED)
            failed++;
    }
    if (passed + failed == 0)
        return;
    const char *part = stats->suite->name;
    if (strncmp(part, "raft", 4) == 0)
        part += 4;
    int k = lab_time_dilation();   /* the summary is in real seconds */
    printf("%s: %zu passed, %zu failed in %.1f s wall, %.1f s CPU", part, passed, failed,
           (double)(lab_now_ms() - part_start_ms) * k / 1000.0,
           lab_children_cpu_seconds() - part_start_cpu);
    if (k > 1)
        printf(" (in slow motion: LAB_TIME_DILATION=%d; test times are on the slowed clock)", k);
    if (lab_sim_requested()) {   /* test times, and the CPU check, are on the simulated clock */
        double wall = (double)(lab_now_ms() - part_start_ms) / 1000.0;
        sim_totals t = sim_time_read(&sim_time_offset);
        printf(" (%.1f s simulated", t.seconds);
        if (getenv("LAB_SIM_STATS"))   /* make bench-sim */
            printf("; %lld scheduling steps, %lld hand-offs, %.0f steps/s", t.steps, t.switches,
                   wall > 0 ? (double)t.steps / wall : 0.0);
        printf(")");
    }
    printf("\n");
    fflush(stdout);
}

/* ---- the test's start and end, for the reporting above ------------------------------ */

/* test_support.c's leak and memory checks, after the body. */
static void report_check_failure(lab_failure_class cls, const char *reason)
{
    fflush(stdout);
    harness_print_fail_line(cls, reason);
}

bool harness_on_main_thread(void)
{
    return on_main_thread;
}

void harness_report_begin(uint64_t seed)
{
    on_main_thread = true;
    snprintf(seed_text, sizeof seed_text, "%" PRIu64, seed);
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
    lab_thread_adopt("tester");
    verdict_open();
    test_set_failure_reporter(report_check_failure);
    atomic_store(&failure_reported, 0);
    atomic_store(&test_running, 1);
    harness_signals_install();
    if (lab_sim_requested()) {   /* make ... SIM=1: from here on, the seeded scheduler */
        format_replay(replay_text, sizeof replay_text, su.name ? su.name : "?", t.name ? t.name : "?",
                      seed_text);
        sim_time_file = getenv("LAB_SIM_TIME_FILE");
        harness_watchdog_sim_begin(seed);
    }
    harness_timeline_prepare(test_name, seed_text, replay_text);
}

/* The test reached its end: the passing assertion is how the runner
 * process tells this from an exit in mid-test (see test_reached_its_end). */
void harness_report_end(void)
{
    atomic_store(&test_running, 0);
    sim_time_record();
    if (harness_vis_mode() == VIS_ALWAYS)
        harness_timeline_write("PASS", "", "");
    cr_assert(true, "the test reached its end");
}

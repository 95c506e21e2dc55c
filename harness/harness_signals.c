/*
 * harness_signals.c: the ways a test process can end in the middle of a test,
 * each turned into its FAIL line: a crash signal (CRASH, with the faulting
 * thread's stack), a fatal framework error (CRASH, with the message), a call
 * to exit (EXIT, with the caller's stack) and Criterion's own
 * timeout (HANG). Sanitizer reports are in harness_sanitizers.c.
 *
 * The crash handler runs on the thread that crashed, where malloc and stdio
 * may be broken: it uses only harness/support/backtrace.h, which formats by
 * hand and writes with write(2).
 */
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "harness/harness_internal.h"
#include "harness/support/backtrace.h"
#include "lab/fatal.h"

void harness_sanitizers_install(void);   /* harness_sanitizers.c */

static const struct {
    int sig;
    const char *name, *what;
} crash_signals[] = {
    {SIGSEGV, "SIGSEGV", "segmentation fault"},
    {SIGBUS, "SIGBUS", "bus error"},
    {SIGFPE, "SIGFPE", "arithmetic exception"},
    {SIGILL, "SIGILL", "illegal instruction"},
    {SIGABRT, "SIGABRT", "abort"},
    {SIGTRAP, "SIGTRAP", "trap"},
};

static atomic_int crashing;             /* the first crash reports; others wait */
static char fatal_message[512];         /* set by lab_fatal just before it aborts */
static atomic_int have_fatal_message;
static struct sigaction previous_sigprof;

/* ---- crashes ---------------------------------------------------------------- */

static void say_where(sbuf *b, const char *where)
{
    if (where[0]) {
        sbuf_str(b, " in ");
        sbuf_str(b, where);
    }
    sbuf_str(b, ", thread '");
    sbuf_str(b, lab_thread_name());
    sbuf_str(b, "'");
}

/* Whether the process's address space had come close to its limit
 * (RLIMIT_AS, which the grader sets): a malloc that returns NULL there ends
 * as a crash at an address near 0, which is the limit's doing, not a bug
 * of its own. Close: within a sixteenth of the limit, or 256 MiB, whichever
 * is more (the allocation that failed was at most about that large).
 * Async-signal-safe: getrlimit, open, read and hand-made parsing only. */
static bool near_address_space_limit(long long *peak_mib, long long *limit_mib)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_AS, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
        return false;
    int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    char buf[4096];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return false;
    buf[n] = '\0';
    const char *p = strstr(buf, "VmPeak:");
    if (p == NULL)
        return false;
    unsigned long long peak_kib = 0;
    for (p += 7; *p == ' ' || *p == '\t'; p++)
        ;
    for (; *p >= '0' && *p <= '9'; p++)
        peak_kib = peak_kib * 10 + (unsigned long long)(*p - '0');
    unsigned long long limit_kib = (unsigned long long)rl.rlim_cur / 1024;
    unsigned long long margin = limit_kib / 16 > (256ULL << 10) ? limit_kib / 16 : (256ULL << 10);
    *peak_mib = (long long)(peak_kib >> 10);
    *limit_mib = (long long)(limit_kib >> 10);
    return peak_kib + margin >= limit_kib;
}

static void on_crash(int sig, siginfo_t *info, void *context)
{
    (void)context;
    if (atomic_exchange(&crashing, 1) || !harness_test_running()) {
        if (harness_test_running())
            for (;;)
                pause();   /* another thread is reporting, and will end the process */
        signal(sig, SIG_DFL);
        raise(sig);
        return;
    }
    size_t k = 0;
    while (crash_signals[k].sig != sig)
        k++;
    static char head[1024], reason[1024];
    char where[320];
    void *frames[BACKTRACE_MAX_FRAMES];
    int n = backtrace_capture(frames, BACKTRACE_MAX_FRAMES, 2);   /* this handler, the signal frame */
    bool fatal = sig == SIGABRT && atomic_load(&have_fatal_message);

    sbuf h = {head, sizeof head, 0};
    sbuf_str(&h, "--- crash: ");
    if (fatal) {
        sbuf_str(&h, "fatal error: ");
        sbuf_str(&h, fatal_message);
    } else {
        sbuf_str(&h, crash_signals[k].name);
        sbuf_str(&h, " (");
        sbuf_str(&h, crash_signals[k].what);
        sbuf_str(&h, ")");
    }
    sbuf_str(&h, " in thread '");
    sbuf_str(&h, lab_thread_name());
    sbuf_str(&h, "':\n");
    sbuf_write(STDOUT_FILENO, head);
    backtrace_print(STDOUT_FILENO, frames, n, where, sizeof where);

    sbuf r = {reason, sizeof reason, 0};
    if (fatal) {
        sbuf_str(&r, "fatal error: ");
        sbuf_str(&r, fatal_message);
    } else {
        sbuf_str(&r, crash_signals[k].name);
        sbuf_str(&r, " (");
        sbuf_str(&r, crash_signals[k].what);
        sbuf_str(&r, ")");
        if ((sig == SIGSEGV || sig == SIGBUS) && info != NULL) {
            sbuf_str(&r, " at address ");
            sbuf_hex(&r, (unsigned long long)(uintptr_t)info->si_addr);
        }
    }
    say_where(&r, where);
    long long peak, limit;
    if (near_address_space_limit(&peak, &limit)) {
        sbuf_str(&r, "; out of memory: its address space had reached ");
        sbuf_dec(&r, peak);
        sbuf_str(&r, " MiB of its ");
        sbuf_dec(&r, limit);
        sbuf_str(&r, "-MiB limit (RLIMIT_AS), so an allocation had failed");
    }
    harness_report_and_exit(CLASS_CRASH, reason);
}

/* lab_fatal prints its message, calls this, then aborts: the abort's
 * report names the message. */
static void on_lab_fatal(const char *message)
{
    snprintf(fatal_message, sizeof fatal_message, "%s", message);
    atomic_store(&have_fatal_message, 1);
}

/* ---- exits -------------------------------------------------------------------- */

/* Criterion counts an exit(0) in the middle of a test as a pass; a Raft that
 * calls exit must fail the test instead, and say where it called it. */
static void on_exit_during_test(void)
{
    if (!harness_test_running())
        return;
    /* One report: a second thread calling exit() at the same time waits here
     * for the first to end the process. */
    static atomic_int exiting;
    if (atomic_exchange(&exiting, 1))
        for (;;)
            pause();
    fflush(stdout);
    char where[320], reason[640];
    void *frames[BACKTRACE_MAX_FRAMES];
    int n = backtrace_capture(frames, BACKTRACE_MAX_FRAMES, 0);
    printf("--- exit() called in thread '%s' before the test finished:\n", lab_thread_name());
    fflush(stdout);
    backtrace_print(STDOUT_FILENO, frames, n, where, sizeof where);
    sbuf r = {reason, sizeof reason, 0};
    sbuf_str(&r, "exit() was called");
    say_where(&r, where);
    sbuf_str(&r, ", before the test finished");
    harness_report_and_exit(CLASS_EXIT, reason);
}

#if defined(LAB_WRAP_EXIT) && LAB_WRAP_EXIT
/*
 * Linux: the test binary is linked with -Wl,--wrap=exit (Makefile), so an
 * exit() in the Raft code or the harness comes here before glibc runs any
 * atexit handler. The atexit handler alone is not enough: when two threads
 * call exit() at once, the second finds the handlers already taken by the
 * first and ends the process with its status while the first is still
 * printing, and the test looked like an _exit. (macOS's linker has no
 * --wrap; there the atexit handler does the job for a single caller.)
 */
_Noreturn void __real_exit(int status);
_Noreturn void __wrap_exit(int status);

void __wrap_exit(int status)
{
    on_exit_during_test();   /* returns only when no test is running */
    __real_exit(status);
}
#endif

/* ---- Criterion's timeout ------------------------------------------------------ */

/* Arrives as SIGPROF. The watchdog normally fires first; this is the backstop
 * for a process so stuck that the watchdog thread could not run. */
static void on_sigprof(int sig, siginfo_t *info, void *context)
{
    if (harness_test_running())
        harness_print_fail_line(CLASS_HANG, "Criterion's per-test timeout fired before the watchdog's");
    if (previous_sigprof.sa_flags & SA_SIGINFO)
        previous_sigprof.sa_sigaction(sig, info, context);
    else if (previous_sigprof.sa_handler != SIG_DFL && previous_sigprof.sa_handler != SIG_IGN)
        previous_sigprof.sa_handler(sig);
    signal(SIGPROF, SIG_DFL);
    raise(SIGPROF);
}

void harness_signals_install(void)
{
    static bool installed;
    lab_set_fatal_hook(on_lab_fatal);
    if (installed)
        return;
    installed = true;
    backtrace_init();
    atexit(on_exit_during_test);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_sigaction = on_sigprof;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGPROF, &sa, &previous_sigprof);
    sa.sa_sigaction = on_crash;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    for (size_t k = 0; k < sizeof crash_signals / sizeof crash_signals[0]; k++)
        sigaction(crash_signals[k].sig, &sa, NULL);
    harness_sanitizers_install();
}

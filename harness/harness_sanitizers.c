/*
 * harness_sanitizers.c: a sanitizer report during a test becomes that
 * test's FAIL line: RACE for ThreadSanitizer, MEMORY for AddressSanitizer
 * and UndefinedBehaviorSanitizer. Each runtime tells us about a report
 * through a hook (kept here, with what the report was about), and the
 * FAIL line is printed as the runtime dies, after its own report, so that
 * the line is the last thing the test prints. (With gcc, UBSan runs in a
 * runtime of its own that calls no death callback: there the line comes
 * just before UBSan's report.) Leaks are test_support.c's (LEAK).
 *
 * Without a sanitizer this file installs nothing.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "harness/harness_internal.h"
#include "harness/support/backtrace.h"

void harness_sanitizers_install(void);

#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define LAB_TSAN 1
#endif
#if __has_feature(address_sanitizer)
#define LAB_ASAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#define LAB_TSAN 1
#endif
#if defined(__SANITIZE_ADDRESS__)
#define LAB_ASAN 1
#endif

#if defined(LAB_TSAN) || defined(LAB_ASAN)
#include <stdint.h>

void __sanitizer_set_death_callback(void (*callback)(void));
void __sanitizer_symbolize_pc(void *pc, const char *fmt, char *out, size_t out_size);

static lab_failure_class pending_class;   /* with a non-empty pending_reason */
static char pending_reason[REASON_LEN];

static void on_sanitizer_death(void)
{
#ifdef LAB_TSAN
    /* ThreadSanitizer calls this from inside its report, holding its own
     * locks: the page's reads of what other threads recorded would be
     * checked again, reported again, and deadlock it (measured: the run
     * hung until its part's timeout). */
    harness_timeline_forgo("a ThreadSanitizer report cannot write one (the report above has both "
                           "threads' stacks)");
#endif
    if (pending_reason[0] && harness_test_running())
        harness_report_and_exit(pending_class, pending_reason);
}

/* "function (file:line)" for pc, with the working directory cut off. */
#ifdef LAB_TSAN
static void where_is(void *pc, char *out, size_t n)
{
    char raw[400];
    __sanitizer_symbolize_pc(pc, "%f (%s:%l)", raw, sizeof raw);
    const char *cwd = backtrace_cwd_prefix();
    char *at = cwd[0] ? strstr(raw, cwd) : NULL;
    if (at)
        memmove(at, at + strlen(cwd), strlen(at + strlen(cwd)) + 1);
    size_t len = strlen(raw) < n - 1 ? strlen(raw) : n - 1;
    memcpy(out, raw, len);
    out[len] = '\0';
}
#endif
#endif

/* ---- ThreadSanitizer ---------------------------------------------------------- */
#ifdef LAB_TSAN
int __tsan_get_report_data(void *report, const char **description, int *count, int *stack_count,
                           int *mop_count, int *loc_count, int *mutex_count, int *thread_count,
                           int *unique_tid_count, void **sleep_trace, uintptr_t trace_size);
int __tsan_get_report_mop(void *report, uintptr_t idx, int *tid, void **addr, int *size,
                          int *write, int *atomic, void **trace, uintptr_t trace_size);
void __tsan_on_report(void *report);

/* One memory access of the report: "write in f (file:line)". */
static void describe_access(void *report, int idx, char *out, size_t n)
{
    int tid, size, write, atomic;
    void *addr, *trace[8] = {0};
    out[0] = '\0';
    if (!__tsan_get_report_mop(report, (uintptr_t)idx, &tid, &addr, &size, &write, &atomic, trace, 8) ||
        trace[0] == NULL)
        return;
    char where[240];
    where_is(trace[0], where, sizeof where);
    snprintf(out, n, "%s%s in %s", atomic ? "atomic " : "", write ? "write" : "read", where);
}

/* Called by TSan for each report, before it is printed. */
void __tsan_on_report(void *report)
{
    const char *description = "report";
    int count, stacks, mops = 0, locs, mutexes, threads, tids;
    void *sleep_trace[1];
    __tsan_get_report_data(report, &description, &count, &stacks, &mops, &locs, &mutexes, &threads,
                           &tids, sleep_trace, 1);
    char a[300] = "", b[300] = "";
    if (mops > 0)
        describe_access(report, 0, a, sizeof a);
    if (mops > 1)
        describe_access(report, 1, b, sizeof b);
    pending_class = CLASS_RACE;
    snprintf(pending_reason, sizeof pending_reason, "ThreadSanitizer: %s%s%s%s%s (report above)",
             description, a[0] ? ": " : "", a, b[0] ? ", and " : "", b);
}
#endif

/* ---- AddressSanitizer ------------------------------------------------------------ */
#ifdef LAB_ASAN
void __asan_set_error_report_callback(void (*callback)(const char *));

/* The first frame in our code: "#1 0x... in f /abs/path/file.c:12:3". */
static void first_frame(const char *report, char *out, size_t n)
{
    out[0] = '\0';
    for (const char *p = strstr(report, "    #"); p; p = strstr(p + 1, "    #")) {
        const char *in = strstr(p, " in ");
        const char *end = strchr(p, '\n');
        if (in == NULL || (end && in > end))
            continue;
        char frame[400];
        size_t len = end ? (size_t)(end - in - 4) : strlen(in + 4);
        snprintf(frame, sizeof frame, "%.*s", (int)len, in + 4);
        if (strstr(frame, ".c:") == NULL || strstr(frame, "harness/support/") || strstr(frame, "sanitizer"))
            continue;
        char *space = strchr(frame, ' ');
        if (space == NULL)
            continue;
        *space = '\0';
        char *file = space + 1;
        const char *cwd = backtrace_cwd_prefix();
        if (cwd[0] && strncmp(file, cwd, strlen(cwd)) == 0)
            file += strlen(cwd);
        snprintf(out, n, "%s (%s)", frame, file);
        return;
    }
}

/* Called by ASan with the whole report, once it is printed. */
static void on_asan_report(const char *report)
{
    const char *kind = strstr(report, "AddressSanitizer: ");
    char what[160] = "error", where[420];
    if (kind) {
        kind += strlen("AddressSanitizer: ");
        size_t len = strcspn(kind, "\n");
        const char *on = strstr(kind, " on ");
        if (on && (size_t)(on - kind) < len)
            len = (size_t)(on - kind);
        snprintf(what, sizeof what, "%.*s", (int)len, kind);
    }
    first_frame(report, where, sizeof where);
    pending_class = CLASS_MEMORY;
    snprintf(pending_reason, sizeof pending_reason, "AddressSanitizer: %s%s%s (report above)", what,
             where[0] ? " in " : "", where);
}

/* ---- UndefinedBehaviorSanitizer (part of SAN=address) -------------------------------- */
void __ubsan_on_report(void);
void __ubsan_get_current_report_data(const char **kind, const char **message, const char **file,
                                     unsigned *line, unsigned *column, char **address);

void __ubsan_on_report(void)
{
    const char *kind = "", *message = "", *file = "";
    unsigned line = 0, column = 0;
    char *address = NULL;
    __ubsan_get_current_report_data(&kind, &message, &file, &line, &column, &address);
    pending_class = CLASS_MEMORY;
    snprintf(pending_reason, sizeof pending_reason, "UndefinedBehaviorSanitizer: %s at %s:%u",
             message, file, line);
#if defined(__GNUC__) && !defined(__clang__)
    /* gcc's UBSan dies without calling our death callback: say it now. */
    fflush(stdout);
    if (harness_test_running())
        harness_print_fail_line(pending_class, pending_reason);
#endif
}
#endif

void harness_sanitizers_install(void)
{
#if defined(LAB_TSAN) || defined(LAB_ASAN)
    __sanitizer_set_death_callback(on_sanitizer_death);
#endif
#ifdef LAB_ASAN
    __asan_set_error_report_callback(on_asan_report);
#endif
}

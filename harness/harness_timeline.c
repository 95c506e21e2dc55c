/*
 * harness_timeline.c: the timeline page of a test, one self-contained HTML
 * file: the page template (tools/timeline/timeline.html, compiled into the
 * binary by tools/timeline/embed.sh) with everything recorded (lab/trace.h)
 * as JSON inside it. Written when a test fails, right after its FAIL line,
 * and for a passing test with LAB_VIS=always; its path is printed as
 * "timeline: <path>".
 *
 * The template is compiled in, not read from the tree, because the page must
 * be written where only the binary is: from a crash handler, and in a
 * sandbox that sees no lab tree.
 *
 * With LAB_TIMELINE_DATA=1 (the grader's runs) only the data is written, as
 * "<test>-SEED=<seed>[-sim].json": the run is the student's code, so the
 * grader never keeps HTML from it; it checks the data and builds the page
 * itself from its own copy of the template (tools/raftlab/grading/timelines.py).
 *
 * Async-signal-safe: a crash handler calls it. It formats by hand into a
 * static buffer and writes with write(2); it reads the recorder without a
 * lock, skipping events still being written.
 */
#include "harness/harness_internal.h"

#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness/support/backtrace.h"

/* The template, split where the data goes (build/…/gen/timeline_page.c). */
extern const char *const harness_timeline_page_head[];
extern const char *const harness_timeline_page_tail[];

static char page_path[PATH_MAX];   /* "" when no page is wanted */
static char page_test[256], page_seed[32], page_replay[320];
static bool page_data_only;   /* LAB_TIMELINE_DATA=1: the JSON alone, no template */
static atomic_int page_written;

void harness_timeline_prepare(const char *test_name, const char *seed, const char *replay)
{
    page_path[0] = '\0';
    if (harness_vis_mode() == VIS_NEVER)
        return;
    const char *dir = getenv("LAB_TIMELINE_DIR");
    const char *data_only = getenv("LAB_TIMELINE_DATA");
    page_data_only = data_only != NULL && strcmp(data_only, "1") == 0;
    char file[300];
    snprintf(file, sizeof file, "%s-SEED=%s%s.%s", test_name, seed, replay[0] ? "-sim" : "",
             page_data_only ? "json" : "html");
    for (char *c = file; *c; c++)
        if (*c == '/')
            *c = '-';
    snprintf(page_path, sizeof page_path, "%s/%s", dir && *dir ? dir : ".", file);
    snprintf(page_test, sizeof page_test, "%s", test_name);
    snprintf(page_seed, sizeof page_seed, "%s", seed);
    snprintf(page_replay, sizeof page_replay, "%s", replay);
}

/* ---- a buffered writer, by hand -------------------------------------------------- */

typedef struct page_out {
    int fd;
    size_t len;
    bool failed;
    char buf[1 << 16];
} page_out;

static void out_flush(page_out *o)
{
    size_t done = 0;
    while (done < o->len && !o->failed) {
        ssize_t k = write(o->fd, o->buf + done, o->len - done);
        if (k <= 0)
            o->failed = true;
        else
            done += (size_t)k;
    }
    o->len = 0;
}

static void out_bytes(page_out *o, const char *s, size_t n)
{
    while (n > 0) {
        if (o->len == sizeof o->buf)
            out_flush(o);
        size_t room = sizeof o->buf - o->len;
        size_t k = n < room ? n : room;
        memcpy(o->buf + o->len, s, k);
        o->len += k;
        s += k;
        n -= k;
    }
}

static void out_raw(page_out *o, const char *s)
{
    out_bytes(o, s, strlen(s));
}

static void out_int(page_out *o, long long v)
{
    char digits[24];
    int k = (int)sizeof digits;
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    do {
        digits[--k] = (char)('0' + u % 10);
        u /= 10;
    } while (u > 0);
    if (v < 0)
        digits[--k] = '-';
    out_bytes(o, digits + k, sizeof digits - (size_t)k);
}

/* A JSON string that is also safe inside a <script> element: '<' escaped. */
static void out_string(page_out *o, const char *s)
{
    if (s == NULL) {
        out_raw(o, "null");
        return;
    }
    static const char hex[] = "0123456789abcdef";
    out_raw(o, "\"");
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if (*c == '"' || *c == '\\') {
            char esc[2] = {'\\', (char)*c};
            out_bytes(o, esc, 2);
        } else if (*c < 0x20 || *c == '<' || *c == 0x7f) {
            char esc[6] = {'\\', 'u', '0', '0', hex[*c >> 4], hex[*c & 15]};
            out_bytes(o, esc, 6);
        } else {
            out_bytes(o, (const char *)c, 1);
        }
    }
    out_raw(o, "\"");
}

static void out_lines(page_out *o, const char *const *lines)
{
    for (size_t k = 0; lines[k]; k++)
        out_raw(o, lines[k]);
}

/* ---- the data -------------------------------------------------------------------- */

static void out_names(page_out *o, const char *key, const char *(*name)(int), int count)
{
    out_raw(o, ",\n\"");
    out_raw(o, key);
    out_raw(o, "\":[");
    for (int k = 0; k < count; k++) {
        if (k)
            out_raw(o, ",");
        out_string(o, name(k));
    }
    out_raw(o, "]");
}

static const char *kind_name(int k)
{
    return lab_trace_kind_name((lab_trace_kind)k);
}

static const char *fate_name(int k)
{
    return lab_trace_fate_name((lab_trace_fate)k);
}

static void out_ints(page_out *o, const long long *v, int n)
{
    for (int k = 0; k < n; k++) {
        if (k)
            out_raw(o, ",");
        out_int(o, v[k]);
    }
}

/* One array of the events of one sort: calls, log lines, or the others. */
typedef enum { ROWS_CALLS, ROWS_LOGS, ROWS_EVENTS } rows_sort;

static void out_rows(page_out *o, rows_sort sort, size_t count)
{
    static const char *const keys[] = {"calls", "logs", "events"};
    out_raw(o, ",\n\"");
    out_raw(o, keys[sort]);
    out_raw(o, "\":[");
    bool first = true;
    for (size_t i = 0; i < count; i++) {
        const lab_trace_event *e = lab_trace_at(i);
        if (e == NULL)
            continue;
        bool is_call = e->kind == LAB_TRACE_CALL;
        bool is_log = e->kind == LAB_TRACE_LOG || e->kind == LAB_TRACE_MARK;
        if ((sort == ROWS_CALLS) != is_call || (sort == ROWS_LOGS) != is_log)
            continue;
        out_raw(o, first ? "\n[" : ",\n[");
        first = false;
        if (sort == ROWS_CALLS) {   /* from, to, method, sent, then delivered, answered, returned
                                       as microseconds after it was sent (-1: never), sizes, fate, delay */
            long long v[] = {e->server, e->peer, e->name, e->t0, e->t1 < 0 ? -1 : e->t1 - e->t0,
                             e->t2 < 0 ? -1 : e->t2 - e->t0, e->t3 - e->t0, e->a, e->b, e->c, e->d};
            out_ints(o, v, 11);
        } else if (sort == ROWS_LOGS) {   /* time, server, topic, mark, text */
            long long v[] = {e->t0, e->server, e->name, e->kind == LAB_TRACE_MARK};
            out_ints(o, v, 4);
            out_raw(o, ",");
            out_string(o, e->text);
        } else {   /* kind, time, server, a, text, b, c, d, t1: trailing -1 and null left out */
            long long v[] = {e->kind, e->t0, e->server, e->a};
            out_ints(o, v, 4);
            long long rest[] = {e->b, e->c, e->d, e->t1};
            int keep = 4;
            while (keep > 0 && rest[keep - 1] == -1)
                keep--;
            if (e->text || keep > 0) {
                out_raw(o, ",");
                out_string(o, e->text);
            }
            for (int k = 0; k < keep; k++) {
                out_raw(o, ",");
                out_int(o, rest[k]);
            }
        }
        out_raw(o, "]");
    }
    out_raw(o, "]");
}

static void out_field(page_out *o, const char *key, const char *value)
{
    out_raw(o, ",\n\"");
    out_raw(o, key);
    out_raw(o, "\":");
    out_string(o, value);
}

static void out_data(page_out *o, const char *verdict, const char *cls, const char *reason)
{
    size_t count = lab_trace_count();   /* what later events there are, the page leaves out */
    out_raw(o, "{\"format\":1");
    out_field(o, "test", page_test);
    out_field(o, "seed", page_seed);
    out_field(o, "replay", page_replay);
    out_field(o, "verdict", verdict);
    out_field(o, "failClass", cls);
    out_field(o, "reason", reason);
    out_raw(o, ",\n\"endAt\":");
    out_int(o, lab_trace_now());
    out_raw(o, ",\n\"dropped\":");
    out_int(o, (long long)lab_trace_dropped());
    out_names(o, "kinds", kind_name, LAB_TRACE_KINDS);
    out_names(o, "fates", fate_name, LAB_TRACE_FATES);
    out_names(o, "names", lab_trace_name, lab_trace_name_count());
    out_rows(o, ROWS_CALLS, count);
    out_rows(o, ROWS_LOGS, count);
    out_rows(o, ROWS_EVENTS, count);
    out_raw(o, "}\n");
}

static _Atomic(const char *) forgone;   /* harness_timeline_forgo's reason */

void harness_timeline_forgo(const char *why)
{
    atomic_store(&forgone, why);
}

void harness_timeline_write(const char *verdict, const char *cls, const char *reason)
{
    if (page_path[0] == '\0' || !lab_trace_on() || atomic_exchange(&page_written, 1))
        return;
    const char *why = atomic_load(&forgone);
    if (why != NULL) {
        static char note[160];
        sbuf n = {note, sizeof note, 0};
        sbuf_str(&n, "timeline: none for this test: ");
        sbuf_str(&n, why);
        sbuf_str(&n, "\n");
        sbuf_write(STDOUT_FILENO, note);
        return;
    }
    static page_out o;   /* static: a crash handler's stack is small */
    if (page_data_only) {   /* the grader's run: over its file-size limit, a write fails (EFBIG) and the
                               data is cut short, rather than a SIGXFSZ ending the process */
        struct sigaction ignore;
        memset(&ignore, 0, sizeof ignore);
        ignore.sa_handler = SIG_IGN;
        sigaction(SIGXFSZ, &ignore, NULL);
    }
    o.fd = open(page_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
    o.len = 0;
    o.failed = o.fd < 0;
    if (!o.failed) {
        if (!page_data_only)
            out_lines(&o, harness_timeline_page_head);
        out_data(&o, verdict, cls, reason);
        if (!page_data_only)
            out_lines(&o, harness_timeline_page_tail);
        out_flush(&o);
        close(o.fd);
    }
    static char line[PATH_MAX + 64];
    sbuf b = {line, sizeof line, 0};
    sbuf_str(&b, o.failed ? "timeline: could not write " : "timeline: ");
    sbuf_str(&b, page_path);
    sbuf_str(&b, "\n");
    sbuf_write(STDOUT_FILENO, line);
}

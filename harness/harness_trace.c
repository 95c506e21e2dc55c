/*
 * harness_trace.c: what the tester does and sees, recorded for the timeline
 * page (lab/trace.h; the page itself: harness_timeline.c). Recording starts
 * in harness_make when LAB_VIS asks for a page (the Makefile's VIS=failure,
 * the default, or VIS=always); every function here does nothing otherwise.
 *
 * Nothing here may be a scheduling point of simulation mode (lab/sim.h): no
 * lock, no wait, so that a run records the very schedule it would have had
 * without recording, and a seed replays the same run whatever VIS says.
 */
#include "harness/harness_internal.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lab/trace.h"

enum { MAX_TRACED_SERVERS = 64 };

static atomic_int check_ids;
/* Per server, the last (term, leader) recorded, packed as term * 2 + leader;
 * -1: none yet. A state is recorded only when it changes: the monitor polls
 * every server a hundred times a second. */
static atomic_llong last_state[MAX_TRACED_SERVERS];

harness_vis harness_vis_mode(void)
{
    const char *vis = getenv("LAB_VIS");
    if (vis == NULL || strcmp(vis, "never") == 0 || vis[0] == '\0')
        return VIS_NEVER;
    return strcmp(vis, "always") == 0 ? VIS_ALWAYS : VIS_FAILURE;
}

void harness_trace_begin(int n, bool unreliable)
{
    if (harness_vis_mode() == VIS_NEVER)
        return;
    for (int i = 0; i < MAX_TRACED_SERVERS; i++)
        atomic_store(&last_state[i], -1);
    lab_trace_enable();
    harness_trace_event(LAB_TRACE_NETWORK, -1, !unreliable, 0, n, NULL);
}

void harness_trace_event(lab_trace_kind kind, int server, int a, int b, int c, const char *text)
{
    if (!lab_trace_on())
        return;
    lab_trace_event e = lab_trace_blank(kind);
    e.server = (int16_t)server;
    e.a = a;
    e.b = b;
    e.c = c;
    if (text)
        e.text = lab_trace_copy_text(text, strlen(text));
    lab_trace_record(&e);
}

void harness_trace_links(lab_trace_kind kind, int i, const bool *connected, int n)
{
    int mask = 0;
    for (int j = 0; j < n && j < 31; j++)
        if (connected[j])
            mask |= 1 << j;
    harness_trace_event(kind, i, mask, -1, -1, NULL);
}

void harness_trace_command(lab_trace_kind kind, int server, int a, int b, int c, const uint8_t *cmd, size_t len)
{
    if (!lab_trace_on())
        return;
    char shown[80];
    harness_format_command(shown, sizeof shown, cmd, len);
    harness_trace_event(kind, server, a, b, c, shown);
}

void harness_trace_state(int server, int term, bool leader)
{
    if (!lab_trace_on() || server < 0 || server >= MAX_TRACED_SERVERS)
        return;
    long long packed = (long long)term * 2 + leader;
    if (atomic_exchange(&last_state[server], packed) != packed)
        harness_trace_event(LAB_TRACE_STATE, server, term, leader, -1, NULL);
}

/* A check has two events with one number (d): its beginning (t1 = -1), with
 * what it checks, and its end (t1 set, a = passed), with what it found. One
 * that never ended was cut short by the failure. */
static void check_event(int id, int64_t began, bool passed, const char *fmt, va_list ap)
{
    char text[200];
    vsnprintf(text, sizeof text, fmt, ap);
    lab_trace_event e = lab_trace_blank(LAB_TRACE_CHECK);
    if (began >= 0) {
        e.t1 = e.t0;
        e.t0 = began;
        e.a = passed;
    }
    e.d = id;
    e.text = lab_trace_copy_text(text, strlen(text));
    lab_trace_record(&e);
}

harness_trace_check harness_trace_check_begin(const char *fmt, ...)
{
    harness_trace_check check = {-1, -1};
    if (!lab_trace_on())
        return check;
    check.id = atomic_fetch_add(&check_ids, 1);
    check.began = lab_trace_now();
    va_list ap;
    va_start(ap, fmt);
    check_event(check.id, -1, false, fmt, ap);
    va_end(ap);
    return check;
}

void harness_trace_check_end(harness_trace_check check, bool passed, const char *fmt, ...)
{
    if (!lab_trace_on() || check.id < 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    check_event(check.id, check.began, passed, fmt, ap);
    va_end(ap);
}

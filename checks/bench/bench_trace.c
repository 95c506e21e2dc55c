/*
 * bench_trace.c: what recording a timeline (lab/trace.h) costs per event
 * (make bench). Four kinds of event, each recorded 500,000 times by one
 * thread and then by 4 threads at once: a call as labrpc records it (its
 * method's number looked up by name, the event stored), a tester event with
 * a short text, a DPRINTF line with VERBOSE unset (formatted and copied),
 * and, for comparison, the same DPRINTF with recording off. Numbers, not
 * pass/fail. The run's slow-down of a whole part: make bench-timeline.
 */
#include <stdio.h>
#include <string.h>

#include "lab/debug.h"
#include "lab/sync.h"
#include "lab/trace.h"

enum { EVENTS = 500000, THREADS = 4 };   /* 3 million in all: under the recorder's limit */

static void record_call(int i)
{
    lab_trace_event e = lab_trace_blank(LAB_TRACE_CALL);
    e.t3 = lab_trace_now();
    e.server = (int16_t)(i % 5);
    e.peer = (int16_t)((i + 1) % 5);
    e.name = (int16_t)lab_trace_name_id(i % 10 ? "Raft.AppendEntries" : "Raft.RequestVote");
    e.a = 60;
    e.b = 8;
    e.c = LAB_TRACE_REPLIED;
    lab_trace_record(&e);
}

static void record_tester_event(int i)
{
    lab_trace_event e = lab_trace_blank(LAB_TRACE_APPLY);
    e.server = (int16_t)(i % 5);
    e.a = i;
    e.text = lab_trace_copy_text("1234567", 7);
    lab_trace_record(&e);
}

static void dprintf_line(int i)
{
    DPRINTF(APPEND, i % 5, "to S%d: %d..%d, commit %d", (i + 1) % 5, i, i + 3, i - 1);
}

typedef struct job {
    void (*fn)(int);
    int n;
} job;

static void *run_job(void *arg)
{
    job *j = arg;
    for (int i = 0; i < j->n; i++)
        j->fn(i);
    return NULL;
}

/* ns per event with `threads` threads recording n events in all. */
static double measure(void (*fn)(int), int threads)
{
    lab_thread t[THREADS];
    job j = {fn, EVENTS / threads};
    int64_t t0 = lab_now_us();
    for (int k = 0; k < threads; k++)
        lab_thread_create(&t[k], "bench recorder", run_job, &j);
    for (int k = 0; k < threads; k++)
        lab_thread_join(&t[k]);
    return (double)(lab_now_us() - t0) * 1000.0 / EVENTS;
}

int main(void)
{
    double off = measure(dprintf_line, 1);   /* VERBOSE unset, recording off: nothing happens */
    lab_trace_enable();
    static const struct {
        const char *what;
        void (*fn)(int);
    } kinds[] = {
        {"call (labrpc)", record_call},
        {"tester event with text", record_tester_event},
        {"DPRINTF line (formatted)", dprintf_line},
    };
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++)
        printf("trace %-26s %6.1f ns/event, %6.1f ns/event with %d threads at once\n", kinds[k].what,
               measure(kinds[k].fn, 1), measure(kinds[k].fn, THREADS), THREADS);
    printf("trace DPRINTF, recording off     %6.1f ns/event\n", off);
    printf("trace: %zu events recorded, %zu dropped (limit %ld)\n", lab_trace_count(), lab_trace_dropped(),
           (long)LAB_TRACE_MAX_EVENTS);
    return 0;
}

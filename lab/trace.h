/*
 * trace.h: a recorder of what happens in a run, for the timeline page a
 * failing test writes (harness/harness_timeline.c; README "Seeing a run").
 *
 * The network records each call, the harness each thing it does or sees,
 * DPRINTF each line; all of it goes here, into memory, and nothing is
 * written until the run asks for the page. Recording is off unless
 * lab_trace_enable was called (the harness does when LAB_VIS asks for a
 * page), and then costs a clock read and a few stores per event:
 *
 *     if (lab_trace_on()) {
 *         lab_trace_event e = lab_trace_blank(LAB_TRACE_CRASH);
 *         e.server = i;
 *         lab_trace_record(&e);
 *     }
 *
 * Any thread may record at any time, without a lock: appending is an atomic
 * increment, so a crash handler can read everything recorded so far while
 * other threads go on. Events are kept in the order their slots were taken,
 * which may differ slightly from the order of their times in real time.
 *
 * Times are microseconds since lab_trace_enable, read without a scheduling
 * point: in simulation (lab/sim.h) recording changes nothing in the run, and
 * the times are virtual, so a replay of a seed records the same events at
 * the same times.
 *
 * Memory is bounded (LAB_TRACE_MAX_EVENTS events, LAB_TRACE_MAX_TEXT bytes of
 * text); past that, events are counted and dropped, and the page says so.
 * Nothing is ever freed: a test process records one test, then ends.
 */
#ifndef LAB_TRACE_H
#define LAB_TRACE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LAB_TRACE_MAX_EVENTS (4L << 20)
#define LAB_TRACE_MAX_TEXT (64L << 20)

/* What happened. The page knows them by the names lab_trace_kind_name gives. */
typedef enum lab_trace_kind {
    LAB_TRACE_CALL,          /* an RPC: server = from, peer = to, name = method; t0 sent, t1 delivered to
                                the handler, t2 the handler returned, t3 the call returned (-1: did not
                                happen); a = request bytes, b = reply bytes, c = fate (lab_trace_fate),
                                d = the delay drawn for it, ms */
    LAB_TRACE_LOG,           /* a DPRINTF line: server, name = topic, text */
    LAB_TRACE_MARK,          /* a DANNOTATE mark: server, text */
    LAB_TRACE_CONNECT,       /* the tester connected server; a = bit mask of connected servers after */
    LAB_TRACE_DISCONNECT,    /* the tester disconnected server; a as for CONNECT */
    LAB_TRACE_CRASH,         /* the tester crashed server */
    LAB_TRACE_RESTART,       /* the tester started server; a = its incarnation */
    LAB_TRACE_START,         /* raft_start on server: t0 called, t1 returned; a = accepted, b = index,
                                c = term; text = the command */
    LAB_TRACE_APPLY,         /* server applied a = index; text = the command */
    LAB_TRACE_APPLY_SNAPSHOT,/* server's Raft delivered a snapshot through a = index (b = term) */
    LAB_TRACE_SNAPSHOT,      /* the tester called raft_snapshot(a = index) on server */
    LAB_TRACE_STATE,         /* server reported a = term, b = leader (recorded when it changes) */
    LAB_TRACE_CHECK,         /* a check: t0 began, t1 ended; a = passed; text = what it checked */
    LAB_TRACE_NETWORK,       /* a = reliable, b = long reordering */
    LAB_TRACE_TEST,          /* text = the test's title (harness_begin) */
    LAB_TRACE_KINDS
} lab_trace_kind;

/* What became of a call. */
typedef enum lab_trace_fate {
    LAB_TRACE_REPLIED,           /* the reply came back */
    LAB_TRACE_REQUEST_DROPPED,   /* unreliable network: the handler never ran */
    LAB_TRACE_REPLY_DROPPED,     /* unreliable network: the handler ran, its reply was lost */
    LAB_TRACE_UNREACHABLE,       /* link down (end disabled or unconnected) or no server */
    LAB_TRACE_CUT,               /* the server died or the link went down while the call waited */
    LAB_TRACE_ABORTED,           /* the end was retired (its server crashed) or the network cleaned up */
    LAB_TRACE_FATES
} lab_trace_fate;

typedef struct lab_trace_event {
    int64_t t0, t1, t2, t3;   /* microseconds since enable; t0 is when it happened, the others -1 unless used */
    int32_t a, b, c, d;
    int16_t kind;             /* lab_trace_kind */
    int16_t server, peer;     /* -1: none */
    int16_t name;             /* lab_trace_name_id, or -1 */
    const char *text;         /* the recorder's copy, or NULL */
} lab_trace_event;

extern atomic_bool lab_trace_enabled_;
static inline bool lab_trace_on(void)
{
    return atomic_load_explicit(&lab_trace_enabled_, memory_order_relaxed);
}

/* Starts recording; time zero is now. Idempotent. */
void lab_trace_enable(void);
/* Microseconds since enable, with no scheduling point in simulation. */
int64_t lab_trace_now(void);
/* An event of this kind at lab_trace_now(), every other field -1 or NULL. */
lab_trace_event lab_trace_blank(lab_trace_kind kind);
/* Copies *e in (its text must already be the recorder's: lab_trace_copy_text). */
void lab_trace_record(const lab_trace_event *e);
/* The recorder's copy of len bytes of s (NUL-terminated), or NULL past the text limit. */
const char *lab_trace_copy_text(const char *s, size_t len);
/* A small number for a name that recurs (a method, a topic): the same name,
 * the same number; -1 when the table is full. */
int lab_trace_name_id(const char *name);

/* Reading, for the page (async-signal-safe). */
size_t lab_trace_count(void);                        /* slots taken so far */
const lab_trace_event *lab_trace_at(size_t i);       /* NULL if not yet complete */
size_t lab_trace_dropped(void);                      /* events lost to the limits */
int lab_trace_name_count(void);
const char *lab_trace_name(int id);                  /* NULL if not yet complete */
const char *lab_trace_kind_name(lab_trace_kind kind);
const char *lab_trace_fate_name(lab_trace_fate fate);

#endif

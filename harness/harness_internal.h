/*
 * harness_internal.h: the harness's data structures and the functions its
 * files share (harness.c: servers, network, calls into Raft; harness_apply.c:
 * the appliers and the tester's view of what was applied; harness_check.c:
 * the checks; harness_monitor.c: the safety monitor; harness_random.c: the
 * tester's random stream; harness_report.c: failures, the verdict channel,
 * the per-part summary; harness_signals.c, harness_sanitizers.c,
 * harness_watchdog.c: failures that end the process).
 * Not for tests: they use harness.h.
 *
 * Locking. h->mu guards the fields marked "mu" below; it is a leaf with
 * respect to Raft (never held across a call into Raft, the network or the
 * apply channel), so appliers and tester threads can always take it. The
 * fields marked "main" belong to the test's main thread, the only thread
 * that starts, crashes, connects or disconnects servers.
 */
#ifndef TESTS_HARNESS_INTERNAL_H
#define TESTS_HARNESS_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "applych/applych.h"
#include "harness/harness.h"
#include "lab/rand.h"
#include "lab/sync.h"
#include "lab/trace.h"
#include "labrpc/codec.h"
#include "labrpc/labrpc.h"
#include "persister/persister.h"
#include "raft/raft.h"

enum {
    END_NAME_LEN = 20,       /* the original's randstring(20) */
    REASON_LEN = 640,
    MAX_SANE_INDEX = 10 * 1000 * 1000,  /* a larger applied index is garbage */
    HARNESS_MONITOR_POLL_MS = 10,       /* the safety monitor's period */
    HARNESS_STORM_RPCS_PER_S = 200,     /* to one server, averaged over the test (CPU check) */
    HARNESS_STORM_PEAK_RPCS_PER_S = 1000, /* to one server in one second: a storm, whatever else */
    HARNESS_STABLE_SETTLE_MS = 1000,    /* after the cluster became healthy, for it to settle */
    HARNESS_STABLE_MAX_CHANGES = 3,     /* leadership changes allowed in a healthy cluster */
};

typedef struct harness_monitor harness_monitor;

/* One command as the tester saw server i apply it. */
typedef struct applied {
    uint8_t *cmd;
    size_t len;
    bool present;
} applied;

typedef struct slot {
    /* mu: */
    raft *rf;              /* the instance testers may call; NULL once crashing */
    int refs;              /* tester threads inside a call on rf */
    bool connected;
    applied *log;          /* log[index]: what this server applied there */
    int log_cap;
    int last_applied;      /* the snapshot applier's */
    int incarnation;       /* which instance rf is: unique over the test, > 0 */
    int incarnation_applied; /* last index this incarnation applied; -1: none yet */
    /* main: */
    raft *instance;        /* alive until raft_kill, even after rf is NULL */
    applych *ch;
    lab_thread applier;
    bool has_applier;
    persister *saved;
    char (*end_names)[END_NAME_LEN + 1];   /* [j]: this server's end to server j */
    labrpc_end **ends;
    bool has_ends;
    char name[16];         /* the server's name on the network: its index */
} slot;

struct harness {
    int n;
    bool snapshot;         /* the snapshot applier (2D) */
    labrpc_network *net;
    uint64_t seed;
    int64_t make_ms;       /* for the 120-second limit */
    double cpu0;           /* the process's CPU seconds at make */
    harness_monitor *monitor;  /* harness_monitor.c; set by make, main thread */

    lab_mutex mu;
    lab_cond cv;           /* broadcast: a failure recorded, a slot's refs hit 0 */
    /* mu: */
    slot *slots;
    lab_rand rand;
    int max_index;         /* highest index applied by anyone */
    int incarnations;      /* instances made so far */
    int fault_epoch;       /* counts crashes, starts, (dis)connects, network changes */
    bool unreliable;       /* the network drops and delays (set_unreliable) */
    bool long_reordering;  /* and delivers replies late */
    bool request_reordering;   /* and holds some requests back (extra tests) */
    bool finished;
    bool failed;           /* a failure recorded off the main thread */
    lab_failure_class fail_class;
    char fail_reason[REASON_LEN];

    /* main: begin's baselines */
    int64_t t0_ms;
    int64_t rpcs0, bytes0;
    int max_index0;
};

typedef struct applier_arg {
    harness *h;
    int me;
    raft *rf;
    applych *ch;
} applier_arg;

/* A test process that printed its FAIL line and then ended itself. */
#define HARNESS_EXIT_REPORTED 3

/* harness_report.c */
bool harness_on_main_thread(void);
void harness_report_begin(uint64_t seed);   /* in make: name, seed, hooks */
void harness_report_end(void);              /* in cleanup */
_Noreturn void harness_raise_failure(lab_failure_class cls, const char *reason);
bool harness_test_running(void);
const char *harness_test_name(void);
/* The FAIL line, once per test; async-signal-safe. False if one was out. */
bool harness_print_fail_line(lab_failure_class cls, const char *reason);
/* The FAIL line, then _exit(HARNESS_EXIT_REPORTED): for a process past saving. */
_Noreturn void harness_report_and_exit(lab_failure_class cls, const char *reason);

/* harness_signals.c: crashes, exits, Criterion's timeout, fatal errors and
 * sanitizer reports, each turned into its FAIL line. */
void harness_signals_install(void);

/* harness_watchdog.c: a watched call into (or wait on) a Raft; see there. */
void harness_watchdog_start(void);
void harness_watchdog_stop(void);
int harness_watch_enter(const char *what, int server);
void harness_watch_leave(int token);
void harness_watch_set_background(void);   /* the calling thread's calls are reported last */
/* Simulation mode: starts the test's simulation (seeded from seed) with its
 * deadlock and stall reports; harness_report_begin calls it when LAB_SIM=1. */
void harness_watchdog_sim_begin(uint64_t seed);

/* harness_apply.c */
void harness_encode_int(codec_buffer *b, int64_t cmd);
void harness_format_command(char *buf, size_t n, const uint8_t *cmd, size_t len);
bool harness_decode_int(const uint8_t *cmd, size_t len, int64_t *v);
void harness_log_clear(harness *h, int i);
applied *harness_log_at(harness *h, int i, int index);
bool harness_same_command(const applied *a, const uint8_t *cmd, size_t len);
bool harness_ingest_snapshot(harness *h, int i, const uint8_t *data, size_t len, int index, char *err, size_t errlen);
void *harness_applier_main(void *arg);
void *harness_snapshot_applier_main(void *arg);

/* harness.c */
bool harness_start_on(harness *h, int i, bool only_if_connected, const void *cmd, size_t len, int *index, int *term);
/* raft_get_state on server i if alive, with the incarnation that answered. */
bool harness_observe_state(harness *h, int i, int *term, bool *is_leader, int *incarnation);

/* harness_monitor.c: Election Safety and growing terms, watched all the time. */
void harness_monitor_start(harness *h);
void harness_monitor_stop(harness *h);
void harness_monitor_free(harness *h);
/* Server i reported (term, is_leader); false with reason set if that breaks a
 * property. Any thread; no lock held. */
bool harness_monitor_observe(harness *h, int i, int term, bool is_leader, char *reason, size_t n);
/* The busiest second of calls to one server the monitor has seen, as a note
 * for a failure's reason ("; meanwhile a retry storm: ..."), if it was a
 * storm; "" otherwise. */
void harness_monitor_storm_note(harness *h, char *note, size_t n);

/* harness_trace.c: what the tester does and sees, for the timeline page
 * (lab/trace.h); each does nothing unless the run records. */
typedef enum harness_vis { VIS_NEVER, VIS_FAILURE, VIS_ALWAYS } harness_vis;
harness_vis harness_vis_mode(void);   /* LAB_VIS: never (or unset), failure, always */
void harness_trace_begin(int n, bool unreliable);   /* in make: starts recording if asked */
void harness_trace_event(lab_trace_kind kind, int server, int a, int b, int c, const char *text);
/* connect or disconnect of server i, with who is connected now (n flags). */
void harness_trace_links(lab_trace_kind kind, int i, const bool *connected, int n);
void harness_trace_command(lab_trace_kind kind, int server, int a, int b, int c, const uint8_t *cmd, size_t len);
void harness_trace_state(int server, int term, bool leader);   /* recorded when it changes */
typedef struct harness_trace_check {
    int id;
    int64_t began;
} harness_trace_check;
harness_trace_check harness_trace_check_begin(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void harness_trace_check_end(harness_trace_check check, bool passed, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* harness_timeline.c: the page. prepare (in harness_report_begin) reads the
 * environment; write (async-signal-safe) writes the page of what was recorded,
 * verdict "FAIL" with the class and reason, or "PASS", and prints its path. */
void harness_timeline_prepare(const char *test_name, const char *seed, const char *replay);
void harness_timeline_write(const char *verdict, const char *cls, const char *reason);
/* No page for this test, and write says why instead (why: a static string):
 * for a failure reported from inside ThreadSanitizer, where the page's
 * reads would be checked again and deadlock the runtime. */
void harness_timeline_forgo(const char *why);

#endif

/*
 * harness.c: the Raft tester's "config" (see harness.h), a port of 6.824's
 * raft/config.go with the same helpers, numbers and messages. This file:
 * making and cleaning up a test, starting and crashing servers, connecting
 * them, calls into a Raft, statistics. Where C needs more than Go (no
 * garbage collector, no t.Fatalf from any goroutine), the comments say what
 * and why. Locking: see harness_internal.h.
 */
#include "harness/harness_internal.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness/support/test_support.h"
#include "lab/debug.h"
#include "lab/diag.h"
#include "lab/fatal.h"
#include "lab/sim.h"

/* ---- calls into a Raft ---------------------------------------------------------- */

/*
 * A tester thread that calls into server i's Raft holds a reference on the
 * slot for the duration of the call, and crash waits for the references to
 * drop before raft_kill. In Go a Start racing with Kill is harmless (the GC
 * keeps the Raft alive); in C it would be a use after free.
 */
static raft *slot_acquire(harness *h, int i, bool only_if_connected, int *incarnation)
{
    assert(i >= 0 && i < h->n);
    lab_mutex_lock(&h->mu);
    slot *s = &h->slots[i];
    raft *rf = s->rf;
    if (rf && only_if_connected && !s->connected)
        rf = NULL;
    if (rf)
        s->refs++;
    if (incarnation)
        *incarnation = s->incarnation;
    lab_mutex_unlock(&h->mu);
    return rf;
}

static void slot_release(harness *h, int i)
{
    lab_mutex_lock(&h->mu);
    slot *s = &h->slots[i];
    assert(s->refs > 0);
    if (--s->refs == 0)
        lab_cond_broadcast(&h->cv);
    lab_mutex_unlock(&h->mu);
}

/* A raft_start and what it answered, for the timeline. */
static void trace_start_call(int i, int64_t called, bool ok, int index, int term, const void *cmd, size_t len)
{
    char shown[80];
    harness_format_command(shown, sizeof shown, cmd, len);
    lab_trace_event e = lab_trace_blank(LAB_TRACE_START);
    e.t1 = e.t0;
    e.t0 = called;
    e.server = (int16_t)i;
    e.a = ok;
    e.b = index;
    e.c = term;
    if (ok)   /* the command of a refused start (most are) says nothing the page shows */
        e.text = lab_trace_copy_text(shown, strlen(shown));
    lab_trace_record(&e);
}

bool harness_start_on(harness *h, int i, bool only_if_connected, const void *cmd, size_t len,
                     int *index, int *term)
{
    int idx = -1, t = -1;
    bool ok = false;
    bool safe = true;
    char reason[REASON_LEN];
    raft *rf = slot_acquire(h, i, only_if_connected, NULL);
    if (rf) {
        int w = harness_watch_enter("raft_start", i);
        int64_t called = lab_trace_on() ? lab_trace_now() : -1;
        ok = raft_start(rf, cmd, len, &idx, &t);
        harness_watch_leave(w);
        if (called >= 0)
            trace_start_call(i, called, ok, idx, t, cmd, len);
        if (ok)   /* a leader says which term it leads */
            safe = harness_monitor_observe(h, i, t, true, reason, sizeof reason);
        slot_release(h, i);
    }
    if (!safe)
        harness_fail(h, CLASS_SAFETY, "%s", reason);
    if (index)
        *index = idx;
    if (term)
        *term = t;
    return ok;
}

bool harness_raft_start(harness *h, int i, int64_t cmd, int *index, int *term)
{
    codec_buffer b;
    harness_encode_int(&b, cmd);
    bool ok = harness_start_on(h, i, false, b.data, b.len, index, term);
    codec_buffer_free(&b);
    return ok;
}

bool harness_observe_state(harness *h, int i, int *term, bool *is_leader, int *incarnation)
{
    int t = -1;
    bool leader = false;
    bool safe = true;
    char reason[REASON_LEN];
    raft *rf = slot_acquire(h, i, false, incarnation);
    if (rf) {
        int w = harness_watch_enter("raft_get_state", i);
        raft_get_state(rf, &t, &leader);
        harness_watch_leave(w);
        harness_trace_state(i, t, leader);
        safe = harness_monitor_observe(h, i, t, leader, reason, sizeof reason);
        slot_release(h, i);
    }
    if (!safe)
        harness_fail(h, CLASS_SAFETY, "%s", reason);
    if (term)
        *term = t;
    if (is_leader)
        *is_leader = leader;
    return rf != NULL;
}

bool harness_raft_get_state(harness *h, int i, int *term, bool *is_leader)
{
    return harness_observe_state(h, i, term, is_leader, NULL);
}

bool harness_is_alive(harness *h, int i)
{
    lab_mutex_lock(&h->mu);
    bool alive = h->slots[i].rf != NULL;
    lab_mutex_unlock(&h->mu);
    return alive;
}

bool harness_is_connected(harness *h, int i)
{
    lab_mutex_lock(&h->mu);
    bool c = h->slots[i].connected;
    lab_mutex_unlock(&h->mu);
    return c;
}

/* ---- the network: connect, disconnect ------------------------------------------ */

/* Something about the cluster changed (for the monitor's leader stability:
 * a crash and restart can come and go between two of its polls). */
static void note_fault(harness *h)
{
    lab_mutex_lock(&h->mu);
    h->fault_epoch++;
    lab_mutex_unlock(&h->mu);
}

/* Enable or disable server i's ends to, and the ends from, every server in
 * peers (an array of n flags). Main thread; mu not held. */
static void enable_links(harness *h, int i, const bool *peers, bool on)
{
    for (int j = 0; j < h->n; j++) {
        if (!peers[j])
            continue;
        if (h->slots[i].has_ends)
            labrpc_network_enable(h->net, h->slots[i].end_names[j], on);
        if (h->slots[j].has_ends)
            labrpc_network_enable(h->net, h->slots[j].end_names[i], on);
    }
}

void harness_connect(harness *h, int i)
{
    assert(harness_on_main_thread());
    DPRINTF(TEST, i, "connect");
    note_fault(h);
    bool peers[h->n];
    lab_mutex_lock(&h->mu);
    h->slots[i].connected = true;
    for (int j = 0; j < h->n; j++)
        peers[j] = h->slots[j].connected;
    lab_mutex_unlock(&h->mu);
    enable_links(h, i, peers, true);
    harness_trace_links(LAB_TRACE_CONNECT, i, peers, h->n);
}

void harness_disconnect(harness *h, int i)
{
    assert(harness_on_main_thread());
    DPRINTF(TEST, i, "disconnect");
    note_fault(h);
    bool peers[h->n], connected[h->n];
    lab_mutex_lock(&h->mu);
    h->slots[i].connected = false;
    for (int j = 0; j < h->n; j++)
        connected[j] = h->slots[j].connected;
    lab_mutex_unlock(&h->mu);
    for (int j = 0; j < h->n; j++)
        peers[j] = true;
    enable_links(h, i, peers, false);
    harness_trace_links(LAB_TRACE_DISCONNECT, i, connected, h->n);
}

/* ---- crash and start -------------------------------------------------------------- */

/*
 * Crash server i, so that it can be restarted from its persisted state.
 * The order is the whole point; each step makes the next one safe and quick:
 *
 *  1. Withdraw the instance from tester threads (rf = NULL) and disconnect.
 *  2. Delete its server: no new handler starts on it and callers waiting on
 *     it are released. Deleting the server before kill is what keeps a
 *     handler from running on a freed Raft.
 *  3. Retire its outgoing ends: its threads sleeping out a simulated delay
 *     (up to 7 s with long delays) return at once, so kill is quick.
 *  4. Close its apply channel: a Raft thread blocked sending (perhaps
 *     holding the Raft lock, which a handler waits for) is released.
 *  5. Wait for the server's running handlers to return (they may have needed
 *     steps 3 and 4 to get the Raft lock).
 *  6. Wait for tester threads still inside raft_start/raft_get_state.
 *  7. Join the applier: it leaves once the channel is closed, and it may be
 *     inside raft_snapshot, which needs the Raft alive.
 *  8. raft_kill: its threads exit and it frees itself; then free the channel.
 *  9. Give the slot a fresh persister holding a copy of what the instance
 *     saved, so a restart reads the last persisted state and nothing of the
 *     old instance can write to the new one's. (The original copies when it
 *     deletes the server, since a Go zombie may write on; ours stops for good
 *     in raft_kill, so the copy is taken after it. What the instance saved
 *     in between is a state a crash a moment later would have left, and
 *     replies computed meanwhile were never delivered.)
 *
 * The harness lock is never held while waiting in any of these steps: the
 * appliers need it, and a handler may be waiting for a Raft thread that
 * waits for an applier. (Waiting for references releases it as it waits.)
 */
void harness_crash_server(harness *h, int i)
{
    assert(harness_on_main_thread());
    slot *s = &h->slots[i];
    if (s->instance) {
        DPRINTF(TEST, i, "crash");
        harness_trace_event(LAB_TRACE_CRASH, i, -1, -1, -1, NULL);
    }
    note_fault(h);

    lab_mutex_lock(&h->mu);
    assert(s->rf == NULL || s->rf == s->instance);
    s->rf = NULL;
    lab_mutex_unlock(&h->mu);
    harness_disconnect(h, i);

    labrpc_server *srv = labrpc_network_delete_server(h->net, s->name);
    if (s->has_ends) {
        for (int j = 0; j < h->n; j++)
            labrpc_network_retire_end(h->net, s->end_names[j]);
        s->has_ends = false;
    }
    if (s->ch)
        applych_close(s->ch);
    int w = harness_watch_enter("the wait for its RPC handlers to return, crashing", i);
    if (srv)
        labrpc_server_wait_idle(srv);
    harness_watch_leave(w);

    lab_mutex_lock(&h->mu);
    while (s->refs > 0)
        lab_cond_wait(&h->cv, &h->mu);
    lab_mutex_unlock(&h->mu);

    if (s->has_applier) {
        w = harness_watch_enter("the wait for the tester's applier to exit, crashing", i);
        lab_thread_join(&s->applier);
        harness_watch_leave(w);
        s->has_applier = false;
    }
    if (s->instance) {
        w = harness_watch_enter("raft_kill", i);
        raft_kill(s->instance);
        harness_watch_leave(w);
        s->instance = NULL;
        /* Every thread the instance started (its group) must be joined by now. */
        char left[400];
        size_t count = lab_threads_unjoined_in_group(s->incarnation, left, sizeof left);
        if (count > 0)
            harness_fail(h, CLASS_LEAK, "server %d: raft_kill returned, but %zu of its threads %s not joined: %s "
                         "(raft_kill must stop and join every thread the instance started)",
                         i, count, count == 1 ? "was" : "were", left);
    }
    if (s->ch) {
        applych_free(s->ch);
        s->ch = NULL;
    }
    if (s->saved) {
        persister *fresh = persister_copy(s->saved);
        persister_free(s->saved);
        s->saved = fresh;
    }
    /* A crashed slot has no Raft, no applier, no channel and no live ends. */
    assert(s->rf == NULL && s->instance == NULL && !s->has_applier && s->ch == NULL);
    assert(!s->has_ends && !s->connected);
}

/*
 * (Re)start server i: crash it, then a new instance on fresh ends (with
 * fresh random names, so the dead instance's ends stay dead) and the
 * persisted state. Its links stay disabled until connect.
 */
void harness_start_server(harness *h, int i)
{
    assert(harness_on_main_thread());
    harness_crash_server(h, i);
    slot *s = &h->slots[i];
    assert(s->rf == NULL && s->instance == NULL && !s->has_applier && !s->has_ends);
    DPRINTF(TEST, i, "start");

    for (int j = 0; j < h->n; j++) {
        harness_rand_string(h, s->end_names[j], END_NAME_LEN);
        s->ends[j] = labrpc_network_make_end(h->net, s->end_names[j]);
        labrpc_end_set_trace_ids(s->ends[j], i, j);
        labrpc_network_connect(h->net, s->end_names[j], h->slots[j].name);
    }
    s->has_ends = true;

    if (s->saved == NULL)
        s->saved = persister_make();
    /* Like a key/value server restoring itself, the tester ingests the
     * persisted snapshot before Raft starts: the first command Raft then
     * applies must be the one after the snapshot. */
    size_t snap_len = 0;
    uint8_t *snap = persister_read_snapshot(s->saved, &snap_len);
    char err[REASON_LEN] = "";
    bool ok = true;
    lab_mutex_lock(&h->mu);
    s->last_applied = 0;
    s->incarnation = ++h->incarnations;
    s->incarnation_applied = -1;
    if (snap_len > 0)
        ok = harness_ingest_snapshot(h, i, snap, snap_len, -1, err, sizeof err);
    lab_mutex_unlock(&h->mu);
    free(snap);
    if (!ok)
        harness_fail(h, CLASS_SAFETY, "%s", err);

    s->ch = applych_make();
    int w = harness_watch_enter("raft_make", i);
    /* Every thread the instance starts, and every thread those start, is in
     * its group: raft_kill must have stopped them all when it returns. */
    lab_thread_set_group(s->incarnation);
    s->instance = raft_make(s->ends, h->n, i, s->saved, s->ch);
    lab_thread_set_group(-1);
    harness_watch_leave(w);
    if (s->instance == NULL)
        lab_fatal("raft_make returned NULL for server %d", i);
    lab_mutex_lock(&h->mu);
    s->rf = s->instance;
    lab_mutex_unlock(&h->mu);
    harness_trace_event(LAB_TRACE_RESTART, i, s->incarnation, -1, -1, NULL);

    applier_arg *a = lab_malloc(sizeof *a);
    *a = (applier_arg){h, i, s->instance, s->ch};
    char tname[32];
    snprintf(tname, sizeof tname, "tester applier S%d", i);
    lab_thread_create(&s->applier, tname, h->snapshot ? harness_snapshot_applier_main : harness_applier_main, a);
    s->has_applier = true;

    labrpc_server *srv = labrpc_server_make();
    w = harness_watch_enter("raft_register_service", i);
    raft_register_service(s->instance, srv);
    harness_watch_leave(w);
    labrpc_network_add_server(h->net, s->name, srv);
}

/* ---- make, begin, end, cleanup ---------------------------------------------------- */

harness *harness_make(int n, bool unreliable, bool snapshot)
{
    assert(n > 0);
    uint64_t current_seed = test_seed();
    harness_report_begin(current_seed);
    harness_trace_begin(n, unreliable);

    static bool warned;
    if (!warned && sysconf(_SC_NPROCESSORS_ONLN) < 2) {
        printf("warning: only one CPU, which may conceal locking bugs\n");
        fflush(stdout);
    }
    warned = true;

    harness *h = lab_calloc(1, sizeof *h);
    h->n = n;
    h->snapshot = snapshot;
    h->seed = current_seed;
    h->make_ms = lab_now_ms();
    h->cpu0 = lab_cpu_seconds();
    harness_watchdog_start();
    lab_mutex_init(&h->mu, "harness->mu");
    lab_cond_init(&h->cv);
    /* One seed, separate streams: the network's choices do not shift when the
     * harness draws one more random number, and vice versa. */
    lab_rand_seed_labelled(&h->rand, h->seed, "harness");
    lab_rand net_seed;
    lab_rand_seed_labelled(&net_seed, h->seed, "labrpc");
    h->net = labrpc_network_make(lab_rand_next(&net_seed));

    h->slots = lab_calloc((unsigned long)n, sizeof *h->slots);
    for (int i = 0; i < n; i++) {
        slot *s = &h->slots[i];
        snprintf(s->name, sizeof s->name, "%d", i);
        s->end_names = lab_calloc((unsigned long)n, sizeof *s->end_names);
        s->ends = lab_calloc((unsigned long)n, sizeof *s->ends);
    }
    DPRINTF(TEST, -1, "make %d servers%s%s, seed %" PRIu64, n,
            unreliable ? ", unreliable" : "", snapshot ? ", snapshots" : "", h->seed);

    labrpc_network_set_reliable(h->net, !unreliable);
    h->unreliable = unreliable;
    /* Long delays on dead links (up to 7 s), so a leader that sends RPCs
     * synchronously, one stuck call holding up the others, fails. */
    labrpc_network_set_long_delays(h->net, true);
    for (int i = 0; i < n; i++)
        harness_start_server(h, i);
    for (int i = 0; i < n; i++)
        harness_connect(h, i);
    harness_monitor_start(h);
    return h;
}

void harness_begin(harness *h, const char *description)
{
    assert(harness_on_main_thread());
    printf("%s ...\n", description);
    fflush(stdout);
    DPRINTF(TEST, -1, "begin %s", description);
    harness_trace_event(LAB_TRACE_TEST, -1, -1, -1, -1, description);
    h->t0_ms = lab_now_ms();
    h->rpcs0 = harness_rpc_total(h);
    h->bytes0 = harness_bytes_total(h);
    lab_mutex_lock(&h->mu);
    h->max_index0 = h->max_index;
    lab_mutex_unlock(&h->mu);
}

/*
 * CPU used since make against the time the test took. A Raft that sleeps
 * between timer checks and heartbeats uses a few percent of one core; one
 * that busy-waits uses all of it. $LAB_CPU_SCALE stretches the limit for
 * the sanitizer builds (0: no check, under valgrind).
 */
static void check_cpu(harness *h)
{
    const char *scale_text = getenv("LAB_CPU_SCALE");
    double scale = scale_text ? atof(scale_text) : 1.0;
    double wall = (double)(lab_now_ms() - h->make_ms) / 1000.0;
    double cpu = lab_cpu_seconds() - h->cpu0;
    double limit = HARNESS_CPU_FRACTION * scale * wall;
    if (!(scale > 0 && cpu > HARNESS_CPU_MIN_S && cpu > limit))
        return;
    /* Where the CPU went: a storm of calls to one server (a request rejected
     * and resent at once, again and again) looks like a busy-wait from here. */
    int busiest = -1, most = 0;
    char method[64] = "", m[64];
    for (int i = 0; i < h->n; i++) {
        int count = labrpc_network_busiest_method(h->net, h->slots[i].name, m, sizeof m);
        if (count > most) {
            most = count;
            busiest = i;
            memcpy(method, m, sizeof method);
        }
    }
    double rate = wall > 0 ? most / wall : 0;
    if (busiest >= 0 && rate > HARNESS_STORM_RPCS_PER_S)
        harness_fail(h, CLASS_PERF, "a retry storm: %.0f %s calls per second to server %d (%d in %.1f s), "
                     "and %.1f s of CPU (%.0f%% of one core; the limit is %.0f%%): is a rejected request "
                     "resent at once, in a loop, without the change that would make it succeed?",
                     rate, method, busiest, most, wall, cpu, 100.0 * cpu / wall,
                     100.0 * HARNESS_CPU_FRACTION * scale);
    /* Simulation mode (lab/sim.h): CPU time means nothing when one thread runs
     * at a time on a virtual clock; lab_cpu_seconds is then the simulated
     * machine's, every scheduling step costing LAB_SIM_STEP_US, so the same
     * limit reads "at most half of the virtual time spent in steps". */
    if (lab_sim_active())
        harness_fail(h, CLASS_PERF, "the test made %.0f scheduling steps in %.1f s of simulated time "
                     "(%.0f%% of the simulated CPU at %d us a step; the limit is %.0f%%): is a thread "
                     "busy-waiting instead of sleeping?", cpu * 1e6 / LAB_SIM_STEP_US, wall,
                     100.0 * cpu / wall, LAB_SIM_STEP_US, 100.0 * HARNESS_CPU_FRACTION * scale);
    harness_fail(h, CLASS_PERF, "the test used %.1f s of CPU in %.1f s (%.0f%% of one core; the limit "
                 "is %.0f%%): is a thread busy-waiting instead of sleeping?",
                 cpu, wall, 100.0 * cpu / wall, 100.0 * HARNESS_CPU_FRACTION * scale);
}

void harness_end(harness *h)
{
    harness_check(h);   /* a recorded failure, and the 120-second limit */
    check_cpu(h);
    double secs = (double)(lab_now_ms() - h->t0_ms) / 1000.0;
    int64_t rpcs = harness_rpc_total(h) - h->rpcs0;
    int64_t bytes = harness_bytes_total(h) - h->bytes0;
    lab_mutex_lock(&h->mu);
    int cmds = h->max_index - h->max_index0;
    lab_mutex_unlock(&h->mu);
    printf("  ... Passed --  %4.1f  %d %4" PRId64 " %7" PRId64 " %4d\n",
           secs, h->n, rpcs, bytes, cmds);
    fflush(stdout);
    DPRINTF(TEST, -1, "end");
}

/*
 * After every Raft was killed and the network cleaned up, no thread made with
 * lab_thread_create may still run: raft_kill must stop and join its threads
 * (one left behind may touch the freed Raft, or a restarted one's state).
 */
static bool harness_threads_left(char *out, size_t n)
{
    int running = lab_threads_running();
    if (running == 0)
        return false;
    lab_thread_view views[16];
    size_t total = lab_threads_view(views, 16);
    size_t len = (size_t)snprintf(out, n, "%d thread(s) still running after raft_kill returned "
                                  "(kill must stop and join every thread it started):", running);
    for (size_t k = 0, shown = 0; k < total && k < 16 && len < n; k++) {
        if (views[k].adopted)
            continue;
        len += (size_t)snprintf(out + len, n - len, "%s '%s'", shown++ ? "," : "", views[k].name);
    }
    return true;
}

/* Kill everything, free everything, then fail if anything went wrong late. */
void harness_cleanup(harness *h)
{
    assert(harness_on_main_thread());
    DPRINTF(TEST, -1, "cleanup");
    lab_mutex_lock(&h->mu);
    h->finished = true;
    lab_mutex_unlock(&h->mu);
    harness_monitor_stop(h);
    for (int i = 0; i < h->n; i++)
        harness_crash_server(h, i);
    labrpc_network_cleanup(h->net);
    labrpc_network_destroy(h->net);
    harness_watchdog_stop();
    char leftover[REASON_LEN];
    bool threads_left = harness_threads_left(leftover, sizeof leftover);

    /* Every other thread has gone; anything recorded late still fails. */
    char reason[REASON_LEN];
    lab_mutex_lock(&h->mu);
    bool late_failure = h->failed;
    lab_failure_class cls = h->fail_class;
    memcpy(reason, h->fail_reason, sizeof reason);
    lab_mutex_unlock(&h->mu);
    bool too_long = lab_now_ms() - h->make_ms > HARNESS_TEST_LIMIT_S * 1000LL;

    for (int i = 0; i < h->n; i++) {
        slot *s = &h->slots[i];
        assert(s->refs == 0 && s->instance == NULL && !s->has_applier);
        lab_mutex_lock(&h->mu);
        harness_log_clear(h, i);
        lab_mutex_unlock(&h->mu);
        persister_free(s->saved);
        free(s->end_names);
        free(s->ends);
    }
    free(h->slots);
    harness_monitor_free(h);
    lab_cond_destroy(&h->cv);
    lab_mutex_destroy(&h->mu);
    free(h);

    if (late_failure)
        harness_raise_failure(cls, reason);
    if (threads_left)
        harness_raise_failure(CLASS_LEAK, leftover);
    if (too_long)
        harness_raise_failure(CLASS_PERF, "test took longer than " LAB_STR(LAB_TEST_LIMIT_S) " seconds");
    harness_report_end();
}

/* ---- statistics and settings ---------------------------------------------------------- */

int harness_log_size(harness *h)
{
    assert(harness_on_main_thread());
    size_t most = 0;
    for (int i = 0; i < h->n; i++) {
        size_t size = persister_raft_state_size(h->slots[i].saved);
        if (size > most)
            most = size;
    }
    return (int)most;
}

int harness_rpc_count(harness *h, int i)
{
    return labrpc_network_server_count(h->net, h->slots[i].name);
}

int64_t harness_rpc_total(harness *h)
{
    return labrpc_network_total_count(h->net);
}

int64_t harness_bytes_total(harness *h)
{
    return labrpc_network_total_bytes(h->net);
}

void harness_set_unreliable(harness *h, bool unreliable)
{
    DPRINTF(TEST, -1, "network %s", unreliable ? "unreliable" : "reliable");
    labrpc_network_set_reliable(h->net, !unreliable);
    lab_mutex_lock(&h->mu);
    h->unreliable = unreliable;
    h->fault_epoch++;
    bool long_reordering = h->long_reordering;
    lab_mutex_unlock(&h->mu);
    harness_trace_event(LAB_TRACE_NETWORK, -1, !unreliable, long_reordering, h->n, NULL);
}

void harness_set_long_reordering(harness *h, bool on)
{
    DPRINTF(TEST, -1, "long reordering %s", on ? "on" : "off");
    labrpc_network_set_long_reordering(h->net, on);
    lab_mutex_lock(&h->mu);
    h->long_reordering = on;
    h->fault_epoch++;
    bool unreliable = h->unreliable;
    lab_mutex_unlock(&h->mu);
    harness_trace_event(LAB_TRACE_NETWORK, -1, !unreliable, on, h->n, NULL);
}

void harness_set_request_reordering(harness *h, bool on)
{
    DPRINTF(TEST, -1, "request reordering %s", on ? "on" : "off");
    labrpc_network_set_request_reordering(h->net, on);
    lab_mutex_lock(&h->mu);
    h->request_reordering = on;
    h->fault_epoch++;
    lab_mutex_unlock(&h->mu);
}


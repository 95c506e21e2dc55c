/*
 * harness_monitor.c: the safety monitor. The original tester checks Election
 * Safety only when a test asks who leads (check_one_leader samples every
 * half second), so two leaders of one term that do not overlap a sample go
 * unseen: a Raft that grants two votes in a term, or forgets its vote on a
 * restart, passes. The monitor watches continuously instead: a thread polls
 * every live server's raft_get_state every HARNESS_MONITOR_POLL_MS, and every
 * other raft_get_state and raft_start the tester makes is an observation too.
 *
 *   Election Safety (Figure 3): at most one server ever leads a given term,
 *   over the whole test, whatever crashes and restarts happen.
 *   Terms only grow (Figure 2, currentTerm): within one incarnation of a
 *   server, the term it reports never goes down. Checked on the monitor's own
 *   polls, which follow one another; two tester threads' calls may overlap
 *   and return in either order.
 *
 * The apply-side invariants (each index applied once and in order within an
 * incarnation, no snapshot that takes the service back, agreement at apply
 * time) are checked where applies arrive, in harness_apply.c.
 *
 * A violation fails the test as SAFETY with the property's name, what was
 * seen and when (seconds since the test's make). The monitor adds checks; it
 * changes no test's parameters.
 *
 * Locking: mon->mu is a leaf (nothing is called with it held); the monitor
 * thread calls into Raft only through harness_observe_state, holding no lock.
 */
#include "tests/harness_internal.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lab/fatal.h"
#include "lab/sync.h"

typedef struct term_leader {
    int term;
    int server;          /* -1: an empty cell */
    int64_t seen_ms;     /* since make */
} term_leader;

/* The monitor thread's last poll of one server. */
typedef struct last_poll {
    int incarnation;     /* 0: none yet */
    int term;
    int64_t seen_ms;
} last_poll;

struct harness_monitor {
    harness *h;
    lab_mutex mu;
    lab_cond cv;         /* broadcast on stop */
    bool stopping;       /* mu */
    bool running;
    lab_thread thread;
    term_leader *leaders;   /* mu: open addressing on term, first leader seen */
    size_t cap, count;
    last_poll *polls;       /* [server]; the monitor thread's own */
};

static size_t term_hash(int term, size_t cap)
{
    uint64_t x = (uint64_t)(uint32_t)term * 0x9E3779B97F4A7C15ull;
    return (size_t)(x >> 32) & (cap - 1);
}

/* mu held. The cell for term: its leader, or an empty cell to fill. */
static term_leader *leader_cell(harness_monitor *mon, int term)
{
    assert(lab_mutex_held_by_me(&mon->mu));
    size_t k = term_hash(term, mon->cap);
    while (mon->leaders[k].server >= 0 && mon->leaders[k].term != term)
        k = (k + 1) & (mon->cap - 1);
    return &mon->leaders[k];
}

/* mu held. */
static void grow_leaders(harness_monitor *mon)
{
    assert(lab_mutex_held_by_me(&mon->mu));
    term_leader *old = mon->leaders;
    size_t old_cap = mon->cap;
    mon->cap = old_cap ? old_cap * 2 : 64;
    mon->leaders = lab_malloc(mon->cap * sizeof *mon->leaders);
    for (size_t k = 0; k < mon->cap; k++)
        mon->leaders[k].server = -1;
    for (size_t k = 0; k < old_cap; k++)
        if (old[k].server >= 0)
            *leader_cell(mon, old[k].term) = old[k];
    free(old);
}

static double seconds(int64_t ms)
{
    return (double)ms / 1000.0;
}

bool harness_monitor_observe(harness *h, int i, int term, bool is_leader, char *reason, size_t n)
{
    harness_monitor *mon = h->monitor;
    if (mon == NULL || !is_leader)
        return true;
    int64_t now = lab_now_ms() - h->make_ms;
    bool ok = true;
    lab_mutex_lock(&mon->mu);
    if (2 * (mon->count + 1) > mon->cap)
        grow_leaders(mon);
    term_leader *cell = leader_cell(mon, term);
    if (cell->server < 0) {
        *cell = (term_leader){term, i, now};
        mon->count++;
    } else if (cell->server != i) {
        snprintf(reason, n, "Election Safety: servers %d and %d both lead term %d (server %d seen leading "
                 "it at %.2f s, server %d at %.2f s); a term has at most one leader",
                 cell->server, i, term, cell->server, seconds(cell->seen_ms), i, seconds(now));
        ok = false;
    }
    lab_mutex_unlock(&mon->mu);
    return ok;
}

/* The monitor thread: one poll of server i; false with reason on a violation. */
static bool poll_server(harness_monitor *mon, int i, char *reason, size_t n)
{
    harness *h = mon->h;
    int term, incarnation;
    bool is_leader;
    if (!harness_observe_state(h, i, &term, &is_leader, &incarnation))
        return true;   /* crashed: nothing to see */
    int64_t now = lab_now_ms() - h->make_ms;
    last_poll *p = &mon->polls[i];
    bool ok = true;
    if (p->incarnation == incarnation && term < p->term) {
        snprintf(reason, n, "Terms only grow: server %d's term went from %d (at %.2f s) to %d (at %.2f s) "
                 "while it was running; currentTerm never decreases (Figure 2)",
                 i, p->term, seconds(p->seen_ms), term, seconds(now));
        ok = false;
    }
    *p = (last_poll){incarnation, term, now};
    return ok;
}

static void *monitor_main(void *arg)
{
    harness_monitor *mon = arg;
    harness *h = mon->h;
    char reason[REASON_LEN];
    harness_watch_set_background();
    lab_mutex_lock(&mon->mu);
    while (!mon->stopping) {
        lab_mutex_unlock(&mon->mu);
        bool ok = true;
        for (int i = 0; i < h->n && ok; i++)
            ok = poll_server(mon, i, reason, sizeof reason);
        if (!ok)
            harness_fail(h, CLASS_SAFETY, "%s", reason);
        bool failed = harness_has_failed(h);   /* one failure is enough: stop looking */
        lab_mutex_lock(&mon->mu);
        int64_t next = lab_now_ms() + HARNESS_MONITOR_POLL_MS;
        while (!mon->stopping && !failed && lab_now_ms() < next)
            lab_cond_wait_until(&mon->cv, &mon->mu, next);
        if (failed)
            break;
    }
    lab_mutex_unlock(&mon->mu);
    return NULL;
}

void harness_monitor_start(harness *h)
{
    assert(h->monitor == NULL);
    harness_monitor *mon = lab_calloc(1, sizeof *mon);
    mon->h = h;
    lab_mutex_init(&mon->mu, "monitor->mu");
    lab_cond_init(&mon->cv);
    mon->polls = lab_calloc((size_t)h->n, sizeof *mon->polls);
    lab_mutex_lock(&mon->mu);
    grow_leaders(mon);
    lab_mutex_unlock(&mon->mu);
    h->monitor = mon;
    lab_thread_create(&mon->thread, "safety monitor", monitor_main, mon);
    mon->running = true;
}

void harness_monitor_stop(harness *h)
{
    harness_monitor *mon = h->monitor;
    if (mon == NULL || !mon->running)
        return;
    lab_mutex_lock(&mon->mu);
    mon->stopping = true;
    lab_cond_broadcast(&mon->cv);
    lab_mutex_unlock(&mon->mu);
    lab_thread_join(&mon->thread);
    mon->running = false;
}

void harness_monitor_free(harness *h)
{
    harness_monitor *mon = h->monitor;
    if (mon == NULL)
        return;
    assert(!mon->running);
    free(mon->leaders);
    free(mon->polls);
    lab_cond_destroy(&mon->cv);
    lab_mutex_destroy(&mon->mu);
    free(mon);
    h->monitor = NULL;
}

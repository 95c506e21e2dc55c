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
 *   Leader stability (a liveness property beyond the original): while the
 *   cluster is healthy (every server up and connected, the network
 *   reliable) and has settled, leadership changes at most
 *   HARNESS_STABLE_MAX_CHANGES times. A follower that never resets its
 *   election timer on the leader's AppendEntries starts an election every
 *   timeout and deposes a working leader again and again; the original
 *   only prints a warning (2A t01).
 *
 *   Storms: once a second the monitor notes how many calls of the busiest
 *   method reached each server; the busiest second over
 *   HARNESS_STORM_PEAK_RPCS_PER_S is named in a LIVENESS or PERF failure's
 *   reason (a request rejected and resent in a tight loop starves the
 *   follower it targets, and the test usually fails on agreement first).
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
#include "harness/harness_internal.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>

#include "lab/fatal.h"

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

/* The monitor thread's own view of leadership while the cluster is healthy. */
typedef struct stability {
    int fault_epoch;            /* h->fault_epoch when the healthy period began */
    int64_t healthy_since_ms;   /* -1: not healthy */
    int leader_term;            /* the last leader's term seen; -1: none yet */
    int changes;                /* leadership changes since it settled */
    int first_term;             /* the leader's term when it settled */
} stability;

/* Calls of the busiest method to one server, sampled once a second. */
typedef struct storm {
    bool sampled;               /* counts holds a first sample */
    int64_t sampled_ms;
    int *counts;                /* [server]: the last sample */
    /* mu: the busiest second so far */
    int peak;                   /* calls in that second */
    int peak_server;
    int64_t peak_ms;
    char peak_method[64];
} storm;

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
    stability stable;       /* the monitor thread's own */
    storm storm;            /* counts and sampled_ms: the monitor thread's own */
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

/* The monitor thread: one poll of server i; false with reason on a violation.
 * *leader_term gets the term server i leads, if it says it leads. */
static bool poll_server(harness_monitor *mon, int i, int *leader_term, char *reason, size_t n)
{
    harness *h = mon->h;
    int term, incarnation;
    bool is_leader;
    if (!harness_observe_state(h, i, &term, &is_leader, &incarnation))
        return true;   /* crashed: nothing to see */
    if (is_leader && term > *leader_term)
        *leader_term = term;
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

/* Every server up and connected, the network reliable and in order; and
 * the epoch of the last change to any of that. */
static bool cluster_healthy(harness *h, int *epoch)
{
    lab_mutex_lock(&h->mu);
    bool healthy = !h->unreliable && !h->long_reordering && !h->request_reordering;
    for (int i = 0; i < h->n && healthy; i++)
        healthy = h->slots[i].rf != NULL && h->slots[i].connected;
    *epoch = h->fault_epoch;
    lab_mutex_unlock(&h->mu);
    return healthy;
}

/* After a round of polls in which the highest term led was leader_term (-1:
 * no leader seen): false with reason if leadership keeps changing in a
 * healthy, settled cluster. */
static bool check_stability(harness_monitor *mon, int leader_term, char *reason, size_t n)
{
    harness *h = mon->h;
    stability *st = &mon->stable;
    int64_t now = lab_now_ms() - h->make_ms;
    int epoch;
    if (!cluster_healthy(h, &epoch)) {
        st->healthy_since_ms = -1;
        return true;
    }
    /* A new healthy period: the first, or one after any change, even one
     * that came and went between two polls (all servers restarted). */
    if (st->healthy_since_ms < 0 || epoch != st->fault_epoch)
        *st = (stability){epoch, now, -1, 0, -1};
    if (leader_term < 0 || leader_term == st->leader_term)
        return true;
    bool settled = now >= st->healthy_since_ms + HARNESS_STABLE_SETTLE_MS && st->leader_term >= 0;
    if (settled && st->first_term < 0)
        st->first_term = st->leader_term;
    st->leader_term = leader_term;
    if (!settled)
        return true;
    if (++st->changes <= HARNESS_STABLE_MAX_CHANGES)
        return true;
    snprintf(reason, n, "Leader stability: in a healthy cluster (every server up and connected, the network "
             "reliable, since %.2f s) leadership changed %d times after it settled, terms %d to %d, by "
             "%.2f s: does a follower reset its election timer when AppendEntries comes from the "
             "current leader?", seconds(st->healthy_since_ms), st->changes, st->first_term, leader_term,
             seconds(now));
    return false;
}

/* Once a second: the calls of each server's busiest method since the last sample. */
static void sample_storm(harness_monitor *mon)
{
    harness *h = mon->h;
    storm *s = &mon->storm;
    int64_t now = lab_now_ms();
    if (s->sampled && now - s->sampled_ms < 1000)
        return;
    double secs = (double)(now - s->sampled_ms) / 1000.0;
    for (int i = 0; i < h->n; i++) {
        char method[64];
        int count = labrpc_network_busiest_method(h->net, h->slots[i].name, method, sizeof method);
        int delta = count - s->counts[i];   /* negative after a restart: a new server, new counts */
        s->counts[i] = count;
        if (!s->sampled || delta <= 0)
            continue;
        int rate = (int)(delta / secs);
        lab_mutex_lock(&mon->mu);
        if (rate > s->peak) {
            s->peak = rate;
            s->peak_server = i;
            s->peak_ms = now - h->make_ms;
            snprintf(s->peak_method, sizeof s->peak_method, "%s", method);
        }
        lab_mutex_unlock(&mon->mu);
    }
    s->sampled_ms = now;
    s->sampled = true;
}

void harness_monitor_storm_note(harness *h, char *note, size_t n)
{
    harness_monitor *mon = h->monitor;
    note[0] = '\0';
    if (mon == NULL)
        return;
    lab_mutex_lock(&mon->mu);
    storm *s = &mon->storm;
    if (s->peak >= HARNESS_STORM_PEAK_RPCS_PER_S)
        snprintf(note, n, "; meanwhile a retry storm: %d %s calls in one second to server %d (at %.1f s): "
                 "is a rejected request resent at once, in a loop, without the change that would make "
                 "it succeed?", s->peak, s->peak_method, s->peak_server, seconds(s->peak_ms));
    lab_mutex_unlock(&mon->mu);
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
        int leader_term = -1;
        for (int i = 0; i < h->n && ok; i++)
            ok = poll_server(mon, i, &leader_term, reason, sizeof reason);
        if (!ok)
            harness_fail(h, CLASS_SAFETY, "%s", reason);
        else if (!check_stability(mon, leader_term, reason, sizeof reason))
            harness_fail(h, CLASS_LIVENESS, "%s", reason);
        sample_storm(mon);
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
    mon->stable.healthy_since_ms = -1;
    mon->storm.counts = lab_calloc((size_t)h->n, sizeof *mon->storm.counts);
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
    free(mon->storm.counts);
    lab_cond_destroy(&mon->cv);
    lab_mutex_destroy(&mon->mu);
    free(mon);
    h->monitor = NULL;
}

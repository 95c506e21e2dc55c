/*
 * sim.c: the deterministic scheduler of simulation mode (see sim.h): the
 * token, the choice of the next thread, virtual time, simulated threads,
 * start and stop. sim_sync.c has the mutexes, condition variables, sleeps
 * and clock reads built on it; sim_detect.c the deadlock and stall
 * detectors.
 *
 * How one step goes. The running thread (sim.current, the token holder)
 * enters the layer and takes sim.lock. It records what it now waits for, if
 * anything, and calls sim_step(): the clock advances LAB_SIM_STEP_US, expired
 * timers wake their threads, and the strategy picks the next runnable
 * thread. If nothing can run, the clock jumps to the earliest deadline; if
 * there is none, every thread is blocked for good: a deadlock. If the pick
 * is another thread, the token is handed over (sim.current = next, a signal
 * on next's own condition variable) and the caller waits on its own until
 * the token comes back. Every decision depends only on the simulation's
 * state and its seeded stream, never on the OS's timing, so a seed replays.
 *
 * Locking: sim.lock (a raw pthread mutex: this is the layer itself) guards
 * every field of sim and of every sim_thread, except the atomics, which
 * threads outside the simulation may read. A simulated thread runs its own
 * code only while it holds the token, so at most one of them is ever
 * between two scheduling points.
 */
#if defined(__linux__) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE   /* sched_setaffinity, CPU_COUNT: pinning, Linux only */
#endif
#include "lab/sim_internal.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef __linux__
#include <sched.h>
#include <unistd.h>
#endif

#include "lab/diag.h"
#include "lab/fatal.h"

atomic_bool lab_sim_on;
struct sim_state sim = {.lock = PTHREAD_MUTEX_INITIALIZER, .cpu = -1};

/* ---- options -------------------------------------------------------------- */

bool lab_sim_requested(void)
{
    static atomic_int cached;   /* 0 unknown, 1 no, 2 yes */
    int v = atomic_load_explicit(&cached, memory_order_relaxed);
    if (v == 0) {
        const char *text = getenv("LAB_SIM");
        v = text && strcmp(text, "1") == 0 ? 2 : 1;
        atomic_store_explicit(&cached, v, memory_order_relaxed);
    }
    return v == 2;
}

static bool env_int64(const char *name, int64_t *out)
{
    const char *text = getenv(name);
    if (text == NULL || *text == '\0')
        return false;
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (*end != '\0' || errno != 0)
        lab_fatal("%s must be a decimal number, not '%s'", name, text);
    *out = (int64_t)v;
    return true;
}

const char *lab_sim_strategy_name(lab_sim_strategy s)
{
    return s == LAB_SIM_PCT ? "pct" : "random";
}

lab_sim_options lab_sim_default_options(uint64_t test_seed)
{
    lab_sim_options o = {
        .strategy = LAB_SIM_RANDOM,
        .pct_depth = 3,
        .pct_steps = 1000000,
        .stall_seconds = 5,
        .pin = true,
    };
    /* The scheduler's stream is its own: a test's network and harness
     * streams are derived from the same seed under other labels. */
    lab_rand r;
    lab_rand_seed_labelled(&r, test_seed, "scheduler");
    o.seed = lab_rand_next(&r);
    const char *seed_text = getenv("LAB_SIM_SEED");
    if (seed_text && *seed_text) {
        char *end;
        errno = 0;
        unsigned long long v = strtoull(seed_text, &end, 10);
        if (*end != '\0' || errno != 0)
            lab_fatal("LAB_SIM_SEED must be a decimal number below 2^64, not '%s'", seed_text);
        o.seed = (uint64_t)v;
    }
    const char *strategy = getenv("LAB_SIM_STRATEGY");
    if (strategy && *strategy) {
        if (strcmp(strategy, "pct") == 0)
            o.strategy = LAB_SIM_PCT;
        else if (strcmp(strategy, "random") != 0)
            lab_fatal("LAB_SIM_STRATEGY must be random or pct, not '%s'", strategy);
    }
    int64_t v;
    if (env_int64("LAB_SIM_PCT_DEPTH", &v))
        o.pct_depth = v >= 1 && v <= 100 ? (int)v : 3;
    if (env_int64("LAB_SIM_PCT_STEPS", &v))
        o.pct_steps = v >= 1 ? v : o.pct_steps;
    if (env_int64("LAB_SIM_STALL_S", &v))
        o.stall_seconds = (double)v;
    if (env_int64("LAB_SIM_PIN", &v))
        o.pin = v != 0;
    return o;
}

/* ---- pinning: every simulated thread on one CPU (Linux) --------------------- */

/*
 * One thread runs at a time, so one CPU is enough, and a hand-off between
 * threads on the same CPU costs about 8 us against about 50 us across CPUs
 * on a virtual machine (design section 4). Elsewhere, no pinning: slower,
 * the same results.
 */
#ifdef __linux__
static cpu_set_t root_mask;        /* the first thread's affinity before pinning */
static bool root_mask_saved;
#endif

void sim_pin_self(void)
{
#ifdef __linux__
    if (sim.cpu < 0)
        return;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(sim.cpu, &set);
    (void)sched_setaffinity(0, sizeof set, &set);   /* an optimisation: failure is harmless */
#endif
}

static void choose_cpu(bool pin)
{
    sim.cpu = -1;
#ifdef __linux__
    root_mask_saved = pin && sched_getaffinity(0, sizeof root_mask, &root_mask) == 0;
    if (!root_mask_saved)
        return;
    /* One of the CPUs we may use, by process id: runs in parallel (make
     * stress -j) spread over the CPUs instead of piling onto the one they
     * started on. Which CPU it is changes nothing but speed. */
    int allowed = CPU_COUNT(&root_mask);
    int k = allowed > 0 ? (int)(getpid() % allowed) : 0;
    for (int cpu = 0; cpu < CPU_SETSIZE && sim.cpu < 0; cpu++)
        if (CPU_ISSET(cpu, &root_mask) && k-- == 0)
            sim.cpu = cpu;
#else
    (void)pin;
#endif
}

static void unpin_root(void)
{
#ifdef __linux__
    if (root_mask_saved)
        (void)sched_setaffinity(0, sizeof root_mask, &root_mask);
    root_mask_saved = false;
#endif
}

/* ---- the threads ------------------------------------------------------------ */

static sim_thread *new_sim_thread(lab_thread_info *info)
{
    sim_thread *s = lab_calloc(1, sizeof *s);
    s->info = info;
    s->id = sim.next_id++;
    s->state = SIM_RUNNABLE;
    s->deadline_us = SIM_NO_DEADLINE;
    if (pthread_cond_init(&s->turn, NULL) != 0)
        SIM_FATAL_LOCKED("pthread_cond_init failed");
    /* PCT: a random initial priority above every change point's (1..depth-1);
     * ties go to the older thread. */
    s->priority = sim.options.pct_depth + (int64_t)lab_rand_below(&sim.rng, (uint64_t)1 << 40);
    if (sim.nlive == sim.cap) {
        sim.cap = sim.cap ? 2 * sim.cap : 64;
        sim.live = lab_realloc(sim.live, (size_t)sim.cap * sizeof *sim.live);
        sim.scratch = lab_realloc(sim.scratch, (size_t)sim.cap * sizeof *sim.scratch);
    }
    sim.live[sim.nlive++] = s;   /* ids grow: live stays in id order */
    info->sim = s;
    return s;
}

static void free_sim_thread(sim_thread *s)
{
    pthread_cond_destroy(&s->turn);
    free(s);
}

static void remove_live(sim_thread *s)
{
    for (int k = 0; k < sim.nlive; k++)
        if (sim.live[k] == s) {
            memmove(&sim.live[k], &sim.live[k + 1], (size_t)(sim.nlive - k - 1) * sizeof *sim.live);
            sim.nlive--;
            return;
        }
    assert(!"a finished thread was not live");
}

void sim_wake(sim_thread *t, bool timed_out)
{
    assert(t->state == SIM_BLOCKED);
    t->state = SIM_RUNNABLE;
    t->timed_out = timed_out;
    t->wait = WAIT_NONE;
    t->deadline_us = SIM_NO_DEADLINE;
}

void sim_block(sim_thread *me, enum sim_wait wait, int64_t deadline_us)
{
    me->state = SIM_BLOCKED;
    me->wait = wait;
    me->timed_out = false;
    me->deadline_us = deadline_us;
    if (deadline_us < sim.next_deadline_us)
        sim.next_deadline_us = deadline_us;
}

/* Wakes every blocked thread whose deadline has come; recomputes the next one. */
static void expire_timers(int64_t now)
{
    int64_t next = SIM_NO_DEADLINE;
    for (int k = 0; k < sim.nlive; k++) {
        sim_thread *t = sim.live[k];
        if (t->state != SIM_BLOCKED || t->deadline_us == SIM_NO_DEADLINE)
            continue;
        if (t->deadline_us <= now)
            sim_wake(t, true);
        else if (t->deadline_us < next)
            next = t->deadline_us;
    }
    sim.next_deadline_us = next;
}

/* The strategy's choice among the runnable threads; NULL if there is none. */
static sim_thread *pick(void)
{
    int n = 0;
    for (int k = 0; k < sim.nlive; k++)
        if (sim.live[k]->state == SIM_RUNNABLE)
            sim.scratch[n++] = sim.live[k];
    if (n <= 1)
        return n ? sim.scratch[0] : NULL;
    if (sim.options.strategy == LAB_SIM_RANDOM)
        return sim.scratch[lab_rand_below(&sim.rng, (uint64_t)n)];
    sim_thread *best = sim.scratch[0];
    for (int k = 1; k < n; k++)
        if (sim.scratch[k]->priority > best->priority)
            best = sim.scratch[k];
    return best;
}

/* PCT's change points: at the i-th (in step order) the running thread drops
 * to priority i+1, below every initial priority. */
static void choose_change_points(void)
{
    free(sim.change_points);
    sim.nchange = sim.options.strategy == LAB_SIM_PCT ? sim.options.pct_depth - 1 : 0;
    sim.change_points = lab_calloc((size_t)(sim.nchange > 0 ? sim.nchange : 1), sizeof *sim.change_points);
    for (int i = 0; i < sim.nchange; i++)
        sim.change_points[i] = 1 + (int64_t)lab_rand_below(&sim.rng, (uint64_t)sim.options.pct_steps);
    for (int i = 1; i < sim.nchange; i++)   /* insertion sort: a handful */
        for (int j = i; j > 0 && sim.change_points[j - 1] > sim.change_points[j]; j--) {
            int64_t x = sim.change_points[j];
            sim.change_points[j] = sim.change_points[j - 1];
            sim.change_points[j - 1] = x;
        }
    sim.next_change = 0;
}

static void hand_token(sim_thread *me, sim_thread *next)
{
    atomic_store_explicit(&sim.switches, atomic_load_explicit(&sim.switches, memory_order_relaxed) + 1,
                          memory_order_relaxed);
    sim.current = next;
    bool ending = me->state == SIM_DONE;
    /* Signalled without sim.lock, so that next, woken on our CPU, finds the
     * lock free instead of waking only to wait for it (this halves the
     * system time of a hand-off). The predicate (sim.current) was set under
     * the lock, so no wake-up is lost; and next's record (its condition
     * variable) outlives this call even if next ran, ended and was joined
     * meanwhile: records are freed only by lab_sim_stop. */
    pthread_mutex_unlock(&sim.lock);
    pthread_cond_signal(&next->turn);
    pthread_mutex_lock(&sim.lock);
    if (ending)
        return;   /* an ending thread never runs again */
    while (sim.current != me)
        pthread_cond_wait(&me->turn, &sim.lock);
}

/*
 * One scheduling step by the running thread me (sim.lock held, me current).
 * me's state says whether it can go on (RUNNABLE), waits (BLOCKED) or has
 * ended (DONE). Returns when me holds the token again and is runnable (for
 * an ended thread: at once, having handed the token on).
 */
void sim_step(sim_thread *me)
{
    assert(sim.current == me && !sim.halted);
    uint64_t steps = atomic_load_explicit(&sim.steps, memory_order_relaxed) + 1;
    atomic_store_explicit(&sim.steps, steps, memory_order_relaxed);
    int64_t now = atomic_load_explicit(&sim.now_us, memory_order_relaxed) + LAB_SIM_STEP_US;
    while (sim.next_change < sim.nchange && sim.change_points[sim.next_change] <= (int64_t)steps) {
        me->priority = ++sim.next_change;
        /* (a DONE thread's priority no longer matters) */
    }
    if (now >= sim.next_deadline_us)
        expire_timers(now);
    sim_thread *next = pick();
    while (next == NULL) {
        if (sim.next_deadline_us == SIM_NO_DEADLINE) {
            atomic_store_explicit(&sim.now_us, now, memory_order_relaxed);
            sim_report_all_blocked(me);   /* does not return */
        }
        now = sim.next_deadline_us;       /* nothing can run: time jumps */
        expire_timers(now);
        next = pick();
    }
    atomic_store_explicit(&sim.now_us, now, memory_order_relaxed);
    uint64_t digest = atomic_load_explicit(&sim.digest, memory_order_relaxed);
    atomic_store_explicit(&sim.digest, lab_hash_mix(digest, (uint64_t)(next->id + 1)),
                          memory_order_relaxed);
    if (next != me)
        hand_token(me, next);
    assert(me->state == SIM_DONE || (sim.current == me && me->state == SIM_RUNNABLE));
}

sim_thread *sim_require(lab_thread_info *me, const char *what)
{
    sim_thread *s = me->sim;
    if (s == NULL)
        lab_fatal("thread '%s' is not a thread of the simulation, and tries to %s while one runs: "
                  "only threads made by lab_thread_create (and the thread that started the "
                  "simulation) may block in the lab layer", me->name, what);
    return s;
}

/* ---- thread life cycle (sync.c calls these) ----------------------------------- */

void lab_sim_thread_create(lab_thread *t, lab_thread_info *info, lab_thread_info *creator,
                           void *(*start)(void *))
{
    sim_thread *me = sim_require(creator, "create a thread");
    pthread_mutex_lock(&sim.lock);
    new_sim_thread(info);   /* runnable; its pthread waits for the token in lab_sim_thread_begin */
    int err = pthread_create(&t->handle, NULL, start, info);
    if (err != 0)
        SIM_FATAL_LOCKED("pthread_create failed: %s", strerror(err));
    if (!sim.halted)
        sim_step(me);
    pthread_mutex_unlock(&sim.lock);
}

void lab_sim_thread_begin(lab_thread_info *info)
{
    sim_thread *me = info->sim;
    sim_pin_self();
    pthread_mutex_lock(&sim.lock);
    me->handle = pthread_self();
    while (sim.current != me)
        pthread_cond_wait(&me->turn, &sim.lock);
    pthread_mutex_unlock(&sim.lock);
}

void lab_sim_thread_end(lab_thread_info *info)
{
    sim_thread *me = info->sim;
    pthread_mutex_lock(&sim.lock);
    me->state = SIM_DONE;
    remove_live(me);
    for (int k = 0; k < sim.nlive; k++) {
        sim_thread *t = sim.live[k];
        if (t->state == SIM_BLOCKED && t->wait == WAIT_JOIN && t->join_target == me)
            sim_wake(t, false);
    }
    if (!sim.halted)
        sim_step(me);   /* hands the token on and returns at once */
    pthread_mutex_unlock(&sim.lock);
}

void lab_sim_thread_join(struct lab_sim_thread *target, lab_thread_info *joiner)
{
    sim_thread *me = sim_require(joiner, "join a thread");
    pthread_mutex_lock(&sim.lock);
    if (!sim.halted)
        sim_step(me);
    while (target->state != SIM_DONE) {
        if (sim.halted)
            SIM_FATAL_LOCKED("thread '%s' joins '%s' after the simulation stopped", me->info->name,
                      target->info->name);
        me->join_target = target;
        sim_block(me, WAIT_JOIN, SIM_NO_DEADLINE);
        sim_check_cycle(me);
        sim_step(me);
    }
    me->join_target = NULL;
    pthread_mutex_unlock(&sim.lock);
}

/* A joined thread's record goes to sim.ended, freed by lab_sim_stop: see
 * hand_token for why not at once. */
void lab_sim_thread_free(struct lab_sim_thread *s)
{
    pthread_mutex_lock(&sim.lock);
    s->next_ended = sim.ended;
    sim.ended = s;
    pthread_mutex_unlock(&sim.lock);
}

/* ---- start and stop ------------------------------------------------------------ */


void lab_sim_start(const lab_sim_options *options)
{
    lab_thread_adopt("main");
    lab_thread_info *me = lab_thread_self();
    pthread_mutex_lock(&sim.lock);
    if (atomic_load(&lab_sim_on))
        SIM_FATAL_LOCKED("lab_sim_start: a simulation is already running");
    sim.options = *options;
    if (sim.options.pct_depth < 1)
        sim.options.pct_depth = 1;
    if (sim.options.pct_steps < 1)
        sim.options.pct_steps = 1;
    lab_rand_seed(&sim.rng, sim.options.seed);
    choose_change_points();
    sim.nlive = 0;
    sim.next_id = 0;
    sim.halted = false;
    atomic_store(&sim.steps, 0);
    atomic_store(&sim.switches, 0);
    atomic_store(&sim.digest, LAB_HASH_INIT);
    atomic_store(&sim.now_us, LAB_SIM_EPOCH_US);
    sim.next_deadline_us = SIM_NO_DEADLINE;
    sim.root = new_sim_thread(me);
    sim.root->handle = pthread_self();
    sim.current = sim.root;
    pthread_mutex_unlock(&sim.lock);

    /* The watchdog is made before pinning, so it keeps the whole machine. */
    sim_stall_watch_start();
    choose_cpu(sim.options.pin);
    sim_pin_self();
    atomic_store(&lab_sim_on, true);
}

void lab_sim_stop(void)
{
    lab_thread_info *me = lab_thread_self();
    pthread_mutex_lock(&sim.lock);
    if (!atomic_load(&lab_sim_on) || me->sim != sim.root)
        SIM_FATAL_LOCKED("lab_sim_stop: thread '%s' did not start the running simulation", me->name);
    if (sim.nlive != 1) {
        char names[400];
        size_t len = 0;
        names[0] = '\0';
        for (int k = 0; k < sim.nlive && len < sizeof names; k++)
            if (sim.live[k] != sim.root)
                len += (size_t)snprintf(names + len, sizeof names - len, "%s'%s'", len ? ", " : "",
                                        sim.live[k]->info->name);
        SIM_FATAL_LOCKED("lab_sim_stop: %d simulated thread(s) still running: %s", sim.nlive - 1, names);
    }
    atomic_store(&lab_sim_on, false);
    sim.nlive = 0;
    sim.current = NULL;
    me->sim = NULL;
    free_sim_thread(sim.root);
    sim.root = NULL;
    while (sim.ended) {
        sim_thread *s = sim.ended;
        sim.ended = s->next_ended;
        free_sim_thread(s);
    }
    pthread_mutex_unlock(&sim.lock);
    sim_stall_watch_stop();
    unpin_root();
}

bool lab_sim_active(void)
{
    return atomic_load_explicit(&lab_sim_on, memory_order_relaxed);
}

bool lab_sim_is_simulated_thread(void)
{
    return lab_sim_active() && lab_thread_self()->sim != NULL;
}

uint64_t lab_sim_steps(void)
{
    return atomic_load_explicit(&sim.steps, memory_order_relaxed);
}

/* These three read atomics only: async-signal-safe, for a crash report. */
uint64_t lab_sim_switches(void)
{
    return atomic_load_explicit(&sim.switches, memory_order_relaxed);
}

uint64_t lab_sim_digest(void)
{
    return atomic_load_explicit(&sim.digest, memory_order_relaxed);
}

int64_t lab_sim_elapsed_us(void)
{
    return atomic_load_explicit(&sim.now_us, memory_order_relaxed) - LAB_SIM_EPOCH_US;
}

const lab_sim_options *lab_sim_options_in_use(void)
{
    return &sim.options;
}

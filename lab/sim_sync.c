/*
 * sim_sync.c: mutexes, condition variables, sleeps, spins and clock reads in
 * simulation mode, on the scheduler of sim.c. Their semantics are pthreads':
 *
 *  - lock: a scheduling point, then the mutex if it is free, else the thread
 *    blocks until an unlock makes it runnable, and tries again (no order
 *    among waiters is promised, as with pthreads). Blocking checks for a
 *    cycle of threads waiting for one another's mutexes: a deadlock.
 *  - unlock: the mutex is free; its waiters become runnable; a scheduling
 *    point (it publishes).
 *  - wait: releases the mutex, blocks until a signal picks it, a broadcast,
 *    or its deadline on the virtual clock; then takes the mutex again as a
 *    lock does. No spurious wake-ups are made up (pthreads allows them;
 *    nothing requires them).
 *  - signal wakes one waiter, drawn from the scheduler's stream; broadcast
 *    wakes them all. Both are scheduling points.
 *  - sleep blocks until the clock reaches its deadline; a clock read and a
 *    spin are scheduling points, so a thread polling either sees time pass.
 *
 * The pthread objects inside lab_mutex and lab_cond are initialised and
 * destroyed as usual but never used while a simulation runs: one thread runs
 * at a time, and sim.lock guards the bookkeeping that replaces them.
 */
#include "lab/sim_internal.h"

#include <assert.h>

#include "lab/diag.h"
#include "lab/fatal.h"

static void show_blocked(lab_thread_info *me, int kind, const lab_mutex *m)
{
    atomic_store_explicit(&me->blocked_on, m, memory_order_relaxed);
    atomic_store_explicit(&me->blocked_kind, kind, memory_order_relaxed);
}

static int64_t sim_now(void)
{
    return atomic_load_explicit(&sim.now_us, memory_order_relaxed);
}

/* A scheduling point for a thread that can go on: sim.lock held. */
static void yield(sim_thread *me)
{
    if (!sim.halted && me->invisible == 0)
        sim_step(me);
}

/* What may not happen in an invisible section: blocking. */
static void forbid_invisible(sim_thread *me, const char *what)
{
    if (me->invisible > 0)
        SIM_FATAL_LOCKED("thread '%s' would %s inside lab_sim_invisible_begin/end, which must not block",
                  me->info->name, what);
}

void lab_sim_invisible_begin(void)
{
    if (!sim_on())
        return;
    sim_thread *me = lab_thread_self()->sim;
    if (me)
        me->invisible++;   /* the thread's own field, and it holds the token */
}

void lab_sim_invisible_end(void)
{
    if (!sim_on())
        return;
    sim_thread *me = lab_thread_self()->sim;
    if (me && me->invisible > 0)
        me->invisible--;
}

/* Takes m for me, blocking while another holds it; sim.lock held. */
static void acquire(sim_thread *me, lab_mutex *m)
{
    while (atomic_load_explicit(&m->holder, memory_order_relaxed) != NULL) {
        if (sim.halted)
            SIM_FATAL_LOCKED("thread '%s' waits for mutex '%s' after the simulation stopped on a deadlock",
                      me->info->name, m->name ? m->name : "?");
        forbid_invisible(me, "wait for a mutex");
        me->mutex = m;
        sim_block(me, WAIT_MUTEX, SIM_NO_DEADLINE);
        sim_check_cycle(me);
        sim_step(me);
    }
    me->mutex = NULL;
    atomic_store_explicit(&m->holder, me->info, memory_order_relaxed);
}

/* m was released: whoever waits for it may try again. sim.lock held. */
static void release(lab_mutex *m)
{
    atomic_store_explicit(&m->holder, NULL, memory_order_relaxed);
    for (int k = 0; k < sim.nlive; k++) {
        sim_thread *t = sim.live[k];
        if (t->state == SIM_BLOCKED && t->wait == WAIT_MUTEX && t->mutex == m)
            sim_wake(t, false);
    }
}

void lab_sim_mutex_lock(lab_mutex *m, lab_thread_info *info)
{
    sim_thread *me = sim_require(info, "lock a mutex");
    pthread_mutex_lock(&sim.lock);
    yield(me);
    acquire(me, m);
    pthread_mutex_unlock(&sim.lock);
}

void lab_sim_mutex_unlock(lab_mutex *m, lab_thread_info *info)
{
    sim_thread *me = sim_require(info, "unlock a mutex");
    pthread_mutex_lock(&sim.lock);
    release(m);
    yield(me);
    pthread_mutex_unlock(&sim.lock);
}

bool lab_sim_cond_wait(lab_cond *c, lab_mutex *m, lab_thread_info *info, int64_t deadline_us)
{
    sim_thread *me = sim_require(info, "wait on a condition variable");
    assert(atomic_load_explicit(&m->holder, memory_order_relaxed) == info);
    pthread_mutex_lock(&sim.lock);
    yield(me);
    if (sim_now() >= deadline_us) {   /* already past: no wait, the mutex kept */
        pthread_mutex_unlock(&sim.lock);
        return false;
    }
    if (sim.halted)
        SIM_FATAL_LOCKED("thread '%s' waits on a condition variable after the simulation stopped on a deadlock",
                  info->name);
    forbid_invisible(me, "wait on a condition variable");
    release(m);
    show_blocked(info, LAB_THREAD_WAITING, m);
    me->cond = c;
    me->mutex = m;
    sim_block(me, WAIT_COND, deadline_us);
    if (atomic_load_explicit(&info->waits_for, memory_order_relaxed) != NULL)
        sim_check_cycle(me);   /* a wait that only one thread can end: an edge */
    sim_step(me);
    me->cond = NULL;
    acquire(me, m);
    show_blocked(info, LAB_THREAD_RUNNING, NULL);
    bool before = sim_now() < deadline_us;
    pthread_mutex_unlock(&sim.lock);
    return before;
}

void lab_sim_cond_signal(lab_cond *c, bool all, lab_thread_info *info)
{
    sim_thread *me = sim_require(info, all ? "broadcast a condition variable" : "signal a condition variable");
    pthread_mutex_lock(&sim.lock);
    int n = 0;
    for (int k = 0; k < sim.nlive; k++) {
        sim_thread *t = sim.live[k];
        if (t->state == SIM_BLOCKED && t->wait == WAIT_COND && t->cond == c)
            sim.scratch[n++] = t;
    }
    if (all) {
        for (int k = 0; k < n; k++)
            sim_wake(sim.scratch[k], false);
    } else if (n > 0) {
        sim_wake(sim.scratch[n == 1 ? 0 : lab_rand_below(&sim.rng, (uint64_t)n)], false);
    }
    yield(me);
    pthread_mutex_unlock(&sim.lock);
}

void lab_sim_transit(void)
{
    if (sim_on() && lab_sim_is_simulated_thread())
        lab_sim_sleep_us(LAB_SIM_TRANSIT_US, lab_thread_self());
}

void lab_sim_sleep_us(int64_t us, lab_thread_info *info)
{
    sim_thread *me = sim_require(info, "sleep");
    pthread_mutex_lock(&sim.lock);
    if (us <= 0 || sim.halted) {   /* a sleep of 0 is a plain scheduling point */
        yield(me);
        pthread_mutex_unlock(&sim.lock);
        return;
    }
    forbid_invisible(me, "sleep");
    show_blocked(info, LAB_THREAD_SLEEPING, NULL);
    sim_block(me, WAIT_SLEEP, sim_now() + us);
    sim_step(me);
    show_blocked(info, LAB_THREAD_RUNNING, NULL);
    pthread_mutex_unlock(&sim.lock);
}

int64_t lab_sim_now_us(lab_thread_info *info)
{
    if (info->sim == NULL)   /* a thread outside the simulation only reads the clock */
        return sim_now();
    pthread_mutex_lock(&sim.lock);
    yield(info->sim);
    int64_t now = sim_now();
    pthread_mutex_unlock(&sim.lock);
    return now;
}

bool lab_sim_spin(atomic_int *flag, lab_thread_info *info)
{
    if (info->sim != NULL) {
        pthread_mutex_lock(&sim.lock);
        yield(info->sim);
        pthread_mutex_unlock(&sim.lock);
    }
    return atomic_load_explicit(flag, memory_order_acquire) != 0;
}

/* What stands for CPU time: every step costs LAB_SIM_STEP_US of the
 * simulated machine's time, so a busy thread uses all of it. */
double lab_sim_cpu_seconds(void)
{
    return (double)atomic_load_explicit(&sim.steps, memory_order_relaxed) * LAB_SIM_STEP_US / 1e6;
}

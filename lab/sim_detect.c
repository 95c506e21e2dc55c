/*
 * sim_detect.c: what simulation mode finds that real time cannot (see
 * sim.h): deadlocks, at the step that makes them, and threads that never
 * reach a scheduling point, by a real-time watchdog.
 *
 * A deadlock is either a cycle in the wait-for graph (a thread blocked on a
 * mutex waits for its holder, a joining thread for the thread it joins),
 * checked each time a thread blocks on one, or no thread able to run with
 * no timer pending (sim_step finds that). Both are exact: no timeout is
 * involved, and no other thread's timers can hide a cycle.
 */
#include "lab/sim_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lab/fatal.h"

static _Atomic(lab_sim_deadlock_hook) deadlock_hook;
static _Atomic(lab_sim_stall_hook) stall_hook;

/* ---- deadlocks ------------------------------------------------------------------ */

void lab_sim_set_deadlock_hook(lab_sim_deadlock_hook hook)
{
    atomic_store(&deadlock_hook, hook);
}

/* The live simulated thread whose record is info; NULL if none (ended, or
 * never part of this simulation). Compares pointers only. */
static sim_thread *live_thread_of(const lab_thread_info *info)
{
    for (int k = 0; info != NULL && k < sim.nlive; k++)
        if (sim.live[k]->info == info)
            return sim.live[k];
    return NULL;
}

/* The thread that alone can end t's untimed condition wait, if t named one
 * (lab_thread_set_waits_for); NULL otherwise. */
static sim_thread *cond_server(const sim_thread *t)
{
    if (t->state != SIM_BLOCKED || t->wait != WAIT_COND || t->deadline_us != SIM_NO_DEADLINE)
        return NULL;
    return live_thread_of(atomic_load_explicit(&t->info->waits_for, memory_order_relaxed));
}

/* Whom t waits for, through a mutex's holder, a join, or a condition wait
 * that only one named thread can end; NULL if nobody in particular (another
 * condition variable, a sleep) or if t can run. */
static sim_thread *waits_for(const sim_thread *t)
{
    if (t->state != SIM_BLOCKED)
        return NULL;
    if (t->wait == WAIT_JOIN)
        return t->join_target;
    if (t->wait == WAIT_COND)
        return cond_server(t);
    if (t->wait != WAIT_MUTEX)
        return NULL;
    lab_thread_info *holder = atomic_load_explicit(&t->mutex->holder, memory_order_relaxed);
    return holder ? holder->sim : NULL;
}

static const char *mutex_name(const lab_mutex *m)
{
    return m && m->name ? m->name : "?";
}

/* "'A' waits for mutex 'm' held by 'B'" and the like, appended to out. */
static size_t describe_wait(const sim_thread *t, char *out, size_t len, size_t n)
{
    if (len >= n)
        return len;
    const char *name = t->info->name;
    int w = 0;
    switch (t->wait) {
    case WAIT_MUTEX: {
        lab_thread_info *holder = atomic_load_explicit(&t->mutex->holder, memory_order_relaxed);
        w = snprintf(out + len, n - len, "'%s' waits for mutex '%s' held by '%s'", name,
                     mutex_name(t->mutex), holder ? holder->name : "nobody");
        break;
    }
    case WAIT_JOIN:
        w = snprintf(out + len, n - len, "'%s' joins '%s'", name, t->join_target->info->name);
        break;
    case WAIT_COND:
        w = snprintf(out + len, n - len, "'%s' waits on a condition variable with mutex '%s'", name,
                     mutex_name(t->mutex));
        break;
    case WAIT_SLEEP:
        w = snprintf(out + len, n - len, "'%s' sleeps", name);
        break;
    case WAIT_NONE:
        w = snprintf(out + len, n - len, "'%s' is runnable", name);
        break;
    }
    len += w > 0 ? (size_t)w : 0;
    const char *activity = atomic_load_explicit(&t->info->activity, memory_order_relaxed);
    const sim_thread *server = cond_server(t);
    char tail[160] = "";
    if (activity && server)
        snprintf(tail, sizeof tail, " (%s, which only '%s' can end)", activity, server->info->name);
    else if (activity)
        snprintf(tail, sizeof tail, " (%s)", activity);
    else if (server)
        snprintf(tail, sizeof tail, " (which only '%s' can end)", server->info->name);
    if (len < n) {
        w = snprintf(out + len, n - len, "%s", tail);
        len += w > 0 ? (size_t)w : 0;
    }
    return len;
}

/* sim.lock held by the reporting thread, which keeps the token: nothing else
 * will ever run. The hook runs without sim.lock, so it may read the clock
 * and take free mutexes. */
static _Noreturn void report_deadlock(const char *message)
{
    sim.halted = true;
    pthread_mutex_unlock(&sim.lock);
    lab_sim_deadlock_hook hook = atomic_load(&deadlock_hook);
    if (hook)
        hook(message);
    lab_fatal("%s", message);
}

void sim_check_cycle(sim_thread *me)
{
    char message[1024];
    size_t len = (size_t)snprintf(message, sizeof message, "deadlock: ");
    const sim_thread *t = me;
    for (int hops = 0; hops <= sim.nlive; hops++) {
        sim_thread *u = waits_for(t);
        if (u == NULL)
            return;
        if (hops > 0 && len < sizeof message)
            len += (size_t)snprintf(message + len, sizeof message - len, "; ");
        len = describe_wait(t, message, len, sizeof message);
        if (u == me)
            report_deadlock(message);
        t = u;
    }
}

void sim_report_all_blocked(sim_thread *me)
{
    (void)me;
    char message[1024];
    size_t len = (size_t)snprintf(message, sizeof message,
                                  "deadlock: every thread is blocked and no timer is pending: ");
    for (int k = 0; k < sim.nlive && len < sizeof message; k++) {
        if (k > 0)
            len += (size_t)snprintf(message + len, sizeof message - len, "; ");
        len = describe_wait(sim.live[k], message, len, sizeof message);
    }
    if (sim.nlive == 0)
        snprintf(message + len, sizeof message - len, "(no thread is left)");
    report_deadlock(message);
}

/* ---- the stall watchdog: a thread that never reaches a scheduling point ------------ */

/*
 * Nothing can preempt a simulated thread that loops without calling the
 * lab layer: every other thread waits for the token. This watchdog, a
 * plain pthread outside the simulation on real time, sees the step counter
 * stand still and reports the token's holder by name.
 */
static pthread_mutex_t watch_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t watch_cv = PTHREAD_COND_INITIALIZER;
static bool watch_running, watch_stopping;
static pthread_t watch_thread;
static atomic_bool watch_enabled = true;

void lab_sim_set_stall_hook(lab_sim_stall_hook hook)
{
    atomic_store(&stall_hook, hook);
}

void lab_sim_stall_watch(bool on)
{
    atomic_store(&watch_enabled, on);
}

static double real_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static double watch_limit_s;   /* set before the watchdog starts */

static void *stall_watch_main(void *arg)
{
    (void)arg;
    double limit = watch_limit_s;
    uint64_t last_steps = lab_sim_steps();
    double last_change = real_seconds();
    pthread_mutex_lock(&watch_lock);
    while (!watch_stopping) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);   /* pthread_cond_timedwait's clock, also on macOS */
        ts.tv_nsec += 100 * 1000 * 1000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&watch_cv, &watch_lock, &ts);
        uint64_t steps = lab_sim_steps();
        double now = real_seconds();
        if (steps != last_steps || !atomic_load(&watch_enabled) || atomic_load(&sim.halted)) {
            last_steps = steps;
            last_change = now;
            continue;
        }
        if (now - last_change < limit)
            continue;
        pthread_mutex_unlock(&watch_lock);
        /* The holder of the token is running its own code, not in the layer:
         * sim.lock is free, and current cannot change while it stalls. */
        pthread_mutex_lock(&sim.lock);
        char name[48] = "?";
        pthread_t handle = pthread_self();
        bool known = sim.current != NULL;
        if (known) {
            snprintf(name, sizeof name, "%s", sim.current->info->name);
            handle = sim.current->handle;
        }
        pthread_mutex_unlock(&sim.lock);
        lab_sim_stall_hook hook = atomic_load(&stall_hook);
        if (hook && known)
            hook(handle, name, now - last_change);
        else {
            fprintf(stderr, "fatal: simulation stalled: thread '%s' ran %.1f s without reaching a "
                    "scheduling point (an infinite loop that never calls the lab layer?)\n",
                    name, now - last_change);
            abort();
        }
        last_change = real_seconds();
        pthread_mutex_lock(&watch_lock);
    }
    pthread_mutex_unlock(&watch_lock);
    return NULL;
}

void sim_stall_watch_start(void)
{
    if (sim.options.stall_seconds <= 0)
        return;
    atomic_store(&watch_enabled, true);
    watch_limit_s = sim.options.stall_seconds;
    pthread_mutex_lock(&watch_lock);
    watch_stopping = false;
    pthread_mutex_unlock(&watch_lock);
    int err = pthread_create(&watch_thread, NULL, stall_watch_main, NULL);
    if (err != 0)
        lab_fatal("pthread_create (simulation watchdog) failed: %s", strerror(err));
    watch_running = true;
}

void sim_stall_watch_stop(void)
{
    if (!watch_running)
        return;
    pthread_mutex_lock(&watch_lock);
    watch_stopping = true;
    pthread_cond_signal(&watch_cv);
    pthread_mutex_unlock(&watch_lock);
    pthread_join(watch_thread, NULL);
    watch_running = false;
}

/*
 * sync.c: threads, mutexes, condition variables, sleeps and clocks over
 * POSIX threads, plus lock-holder bookkeeping for diagnostics.
 *
 * Portable to macOS: condition variables time out against CLOCK_REALTIME
 * (macOS has no pthread_condattr_setclock), while every deadline a caller
 * passes is on the monotonic clock; the conversion happens here, once.
 *
 * While a simulation runs (lab/sim.h: LAB_SIM=1), every call below that can
 * block or publish goes to the simulated implementation instead (lab/sim.c,
 * lab/sim_sync.c): one `if (sim_on())` at the top of each; with no
 * simulation the real path is exactly what it was.
 */
#include "lab/sync.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "lab/diag.h"
#include "lab/fatal.h"
#include "lab/sim_internal.h"
#include "lab/sync_internal.h"

/* The calling thread's info; NULL for threads not made by lab_thread_create
 * or adopted (the test runner's threads), which get one of their own. */
static _Thread_local lab_thread_info *current_thread;
static _Thread_local lab_thread_info foreign_thread_info = {.name = "main", .group = -1};

static lab_thread_info *self_info(void)
{
    return current_thread ? current_thread : &foreign_thread_info;
}

lab_thread_info *lab_thread_self(void)
{
    return self_info();
}

/* What the calling thread is blocked on, for hang dumps (lab/diag.h). */
static void set_blocked(lab_thread_info *me, int kind, const lab_mutex *m)
{
    atomic_store_explicit(&me->blocked_on, m, memory_order_relaxed);
    atomic_store_explicit(&me->blocked_kind, kind, memory_order_relaxed);
}

static void check(int err, const char *what)
{
    if (err != 0)
        lab_fatal("%s failed: %s", what, strerror(err));
}

/* ---- threads -------------------------------------------------------------- */

static void *thread_start(void *p)
{
    lab_thread_info *info = p;
    current_thread = info;
    if (info->sim)
        lab_sim_thread_begin(info);   /* waits for the token */
    lab_registry_add(info);
    void *result = info->fn(info->arg);
    lab_registry_remove(info);
    if (info->sim)
        lab_sim_thread_end(info);     /* hands the token on */
    return result;
}

void lab_thread_create(lab_thread *t, const char *name, void *(*fn)(void *), void *arg)
{
    lab_thread_info *info = lab_calloc(1, sizeof *info);
    snprintf(info->name, sizeof info->name, "%s", name ? name : "thread");
    info->fn = fn;
    info->arg = arg;
    info->group = self_info()->group;
    t->info = info;
    lab_registry_created(info);
    if (sim_on()) {
        lab_sim_thread_create(t, info, self_info(), thread_start);
        return;
    }
    check(pthread_create(&t->handle, NULL, thread_start, info), "pthread_create");
}

void *lab_thread_join(lab_thread *t)
{
    void *result = NULL;
    struct lab_sim_thread *sim_record = t->info->sim;
    if (sim_record)   /* until it ends, on the simulation's terms; then it exits for real */
        lab_sim_thread_join(sim_record, self_info());
    check(pthread_join(t->handle, &result), "pthread_join");
    if (sim_record)
        lab_sim_thread_free(sim_record);
    lab_registry_joined(t->info);
    free(t->info);
    t->info = NULL;
    return result;
}

const char *lab_thread_name(void)
{
    return self_info()->name;
}

void lab_thread_set_group(int group)
{
    self_info()->group = group;
}

int lab_thread_group(void)
{
    return self_info()->group;
}

void lab_thread_set_activity(const char *what)
{
    atomic_store_explicit(&self_info()->activity, what, memory_order_relaxed);
}

lab_thread_info *lab_thread_current(void)
{
    return self_info();
}

void lab_thread_set_waits_for(const lab_thread_info *server)
{
    atomic_store_explicit(&self_info()->waits_for, server, memory_order_relaxed);
}

void lab_thread_adopt(const char *name)
{
    if (current_thread != NULL)
        return;
    lab_thread_info *info = lab_calloc(1, sizeof *info);
    snprintf(info->name, sizeof info->name, "%s", name ? name : "main");
    info->adopted = true;
    info->group = -1;
    current_thread = info;
    lab_registry_add(info);
}

/* ---- mutexes -------------------------------------------------------------- */

void lab_mutex_init(lab_mutex *m, const char *name)
{
    check(pthread_mutex_init(&m->handle, NULL), "pthread_mutex_init");
    m->name = name;
    atomic_init(&m->holder, NULL);
}

void lab_mutex_destroy(lab_mutex *m)
{
    /* Destroying a held mutex means its holder is still running on memory
     * about to be freed: say who, not just EBUSY. */
    lab_thread_info *holder = atomic_load(&m->holder);
    char name[sizeof holder->name];
    if (holder == self_info())
        lab_fatal("thread '%s' destroys mutex '%s' while it holds it", self_info()->name,
                  m->name ? m->name : "?");
    if (holder != NULL && lab_registry_name_of(holder, name, sizeof name))
        lab_fatal("thread '%s' is still running, holding mutex '%s', which thread '%s' destroys: "
                  "stop and join every thread that uses it first", name, m->name ? m->name : "?",
                  self_info()->name);
    check(pthread_mutex_destroy(&m->handle), "pthread_mutex_destroy");
}

void lab_mutex_lock(lab_mutex *m)
{
    lab_thread_info *me = self_info();
    if (atomic_load_explicit(&m->holder, memory_order_relaxed) == me)
        lab_fatal("thread '%s' locks mutex '%s' that it already holds (self-deadlock)",
                  me->name, m->name ? m->name : "?");
    set_blocked(me, LAB_THREAD_LOCKING, m);
    if (sim_on())
        lab_sim_mutex_lock(m, me);
    else
        check(pthread_mutex_lock(&m->handle), "pthread_mutex_lock");
    set_blocked(me, LAB_THREAD_RUNNING, NULL);
    atomic_store_explicit(&m->holder, me, memory_order_relaxed);
}

void lab_mutex_unlock(lab_mutex *m)
{
    lab_thread_info *me = self_info();
    if (atomic_load_explicit(&m->holder, memory_order_relaxed) != me)
        lab_fatal("thread '%s' unlocks mutex '%s' that it does not hold",
                  me->name, m->name ? m->name : "?");
    atomic_store_explicit(&m->holder, NULL, memory_order_relaxed);
    if (sim_on())
        lab_sim_mutex_unlock(m, me);
    else
        check(pthread_mutex_unlock(&m->handle), "pthread_mutex_unlock");
}

bool lab_mutex_held_by_me(const lab_mutex *m)
{
    return atomic_load_explicit(&((lab_mutex *)m)->holder, memory_order_relaxed) == self_info();
}

const char *lab_mutex_holder_name(const lab_mutex *m)
{
    lab_thread_info *h = atomic_load(&((lab_mutex *)m)->holder);
    return h ? h->name : NULL;
}

/* ---- condition variables -------------------------------------------------- */

void lab_cond_init(lab_cond *c)
{
    check(pthread_cond_init(&c->handle, NULL), "pthread_cond_init");
}

void lab_cond_destroy(lab_cond *c)
{
    check(pthread_cond_destroy(&c->handle), "pthread_cond_destroy");
}

void lab_cond_wait(lab_cond *c, lab_mutex *m)
{
    lab_thread_info *me = self_info();
    if (sim_on()) {
        lab_sim_cond_wait(c, m, me, SIM_NO_DEADLINE);
        return;
    }
    assert(atomic_load_explicit(&m->holder, memory_order_relaxed) == me);
    atomic_store_explicit(&m->holder, NULL, memory_order_relaxed);
    set_blocked(me, LAB_THREAD_WAITING, m);
    check(pthread_cond_wait(&c->handle, &m->handle), "pthread_cond_wait");
    set_blocked(me, LAB_THREAD_RUNNING, NULL);
    atomic_store_explicit(&m->holder, me, memory_order_relaxed);
}

static struct timespec realtime_deadline(int64_t deadline_ms)
{
    int64_t remaining_ns = (deadline_ms - lab_now_ms()) * 1000000 * lab_time_dilation();
    if (remaining_ns < 0)
        remaining_ns = 0;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t ns = (int64_t)ts.tv_nsec + remaining_ns;
    ts.tv_sec += (time_t)(ns / 1000000000);
    ts.tv_nsec = (long)(ns % 1000000000);
    return ts;
}

bool lab_cond_wait_until(lab_cond *c, lab_mutex *m, int64_t deadline_ms)
{
    if (sim_on())
        return lab_sim_cond_wait(c, m, self_info(), deadline_ms * 1000);
    if (lab_now_ms() >= deadline_ms)
        return false;
    struct timespec ts = realtime_deadline(deadline_ms);
    lab_thread_info *me = self_info();
    assert(atomic_load_explicit(&m->holder, memory_order_relaxed) == me);
    atomic_store_explicit(&m->holder, NULL, memory_order_relaxed);
    set_blocked(me, LAB_THREAD_WAITING, m);
    int err = pthread_cond_timedwait(&c->handle, &m->handle, &ts);
    set_blocked(me, LAB_THREAD_RUNNING, NULL);
    atomic_store_explicit(&m->holder, me, memory_order_relaxed);
    if (err != 0 && err != ETIMEDOUT)
        check(err, "pthread_cond_timedwait");
    /* The realtime clock may have been adjusted: judge by the monotonic one. */
    return lab_now_ms() < deadline_ms;
}

void lab_cond_signal(lab_cond *c)
{
    if (sim_on()) {
        lab_sim_cond_signal(c, false, self_info());
        return;
    }
    check(pthread_cond_signal(&c->handle), "pthread_cond_signal");
}

void lab_cond_broadcast(lab_cond *c)
{
    if (sim_on()) {
        lab_sim_cond_signal(c, true, self_info());
        return;
    }
    check(pthread_cond_broadcast(&c->handle), "pthread_cond_broadcast");
}

/* ---- time ----------------------------------------------------------------- */

enum { MAX_TIME_DILATION = 1000 };
static atomic_int time_dilation;   /* 0 until LAB_TIME_DILATION has been read */

int lab_time_dilation(void)
{
    int k = atomic_load_explicit(&time_dilation, memory_order_relaxed);
    if (k == 0) {   /* racing first readers all store the same value */
        const char *text = getenv("LAB_TIME_DILATION");
        long v = text ? strtol(text, NULL, 10) : 1;
        k = v >= 1 && v <= MAX_TIME_DILATION ? (int)v : 1;
        atomic_store_explicit(&time_dilation, k, memory_order_relaxed);
    }
    return k;
}

int64_t lab_now_us(void)
{
    if (sim_on())   /* virtual time; no dilation */
        return lab_sim_now_us(self_info());
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ((int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000) / lab_time_dilation();
}

int64_t lab_now_ms(void)
{
    return lab_now_us() / 1000;
}

void lab_sleep_ms(int64_t ms)
{
    if (sim_on()) {
        lab_sim_sleep_us(ms > 0 ? ms * 1000 : 0, self_info());
        return;
    }
    if (ms <= 0)
        return;
    ms *= lab_time_dilation();
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000};
    lab_thread_info *me = self_info();
    set_blocked(me, LAB_THREAD_SLEEPING, NULL);
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
    set_blocked(me, LAB_THREAD_RUNNING, NULL);
}

static double rusage_seconds(int who)
{
    struct rusage ru;
    if (getrusage(who, &ru) != 0)
        return 0;
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

/* In simulation: the simulated machine's CPU, LAB_SIM_STEP_US per scheduling
 * step (lab/sim.h), since real CPU time says nothing when one thread runs at
 * a time and the clock is virtual. */
double lab_cpu_seconds(void)
{
    if (sim_on())
        return lab_sim_cpu_seconds();
    return rusage_seconds(RUSAGE_SELF);
}

double lab_children_cpu_seconds(void)
{
    return rusage_seconds(RUSAGE_CHILDREN);
}

/* ---- bounded spinning ----------------------------------------------------- */

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __asm__ __volatile__("pause");
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

enum { SPIN_CHECKS_PER_CLOCK_READ = 64 };

static int cpu_count(void)
{
    static atomic_int cached;
    int n = atomic_load_explicit(&cached, memory_order_relaxed);
    if (n == 0) {
        long online = sysconf(_SC_NPROCESSORS_ONLN);
        n = online > 0 ? (int)online : 1;
        atomic_store_explicit(&cached, n, memory_order_relaxed);
    }
    return n;
}

enum { ONCE_NOT_RUN, ONCE_RUNNING, ONCE_DONE };

void lab_once_run(lab_once *once, void (*init)(void))
{
    if (atomic_load_explicit(&once->state, memory_order_acquire) == ONCE_DONE)
        return;
    int expected = ONCE_NOT_RUN;
    if (atomic_compare_exchange_strong(&once->state, &expected, ONCE_RUNNING)) {
        init();
        atomic_store_explicit(&once->state, ONCE_DONE, memory_order_release);
        return;
    }
    while (atomic_load_explicit(&once->state, memory_order_acquire) != ONCE_DONE)
        lab_sleep_ms(1);
}

bool lab_spin_until_set(atomic_int *flag, int max_us)
{
    if (sim_on())   /* one thread runs at a time: spinning cannot see a change */
        return lab_sim_spin(flag, self_info());
    if (atomic_load_explicit(flag, memory_order_acquire))
        return true;
    if (cpu_count() < 2 || lab_time_dilation() > 1)   /* slowed down: spinning only burns time */
        return false;
    int64_t give_up = lab_now_us() + max_us;
    for (;;) {
        for (int i = 0; i < SPIN_CHECKS_PER_CLOCK_READ; i++) {
            if (atomic_load_explicit(flag, memory_order_acquire))
                return true;
            cpu_relax();
        }
        if (lab_now_us() >= give_up)
            return atomic_load_explicit(flag, memory_order_acquire) != 0;
    }
}

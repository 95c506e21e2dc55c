/*
 * pool.c: a growing pool of worker threads with a spin-then-sleep hand-off.
 *
 * Each worker has its own slot. Idle workers form a LIFO stack, so the worker
 * that finished most recently (and is probably still spinning) gets the next
 * job. A submitter fills the slot, raises the worker's flag and signals its
 * condition variable; the signal is what wakes a worker that stopped spinning.
 */
#include "lab/pool.h"

#include <assert.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "lab/diag.h"
#include "lab/fatal.h"
#include "lab/sync.h"

/* How long an idle worker spins for its next job before sleeping: long
 * enough to catch a caller issuing back-to-back RPCs, short enough not to
 * matter when the next job is far away. */
enum { IDLE_SPIN_US = 10 };

typedef struct worker {
    lab_thread thread;
    lab_pool *pool;
    atomic_int has_job;        /* raised by the submitter; read while spinning */
    lab_pool_job *job;         /* guarded by pool->mu */
    lab_cond wake;             /* signalled when a job arrives or the pool stops */
    struct worker *next_idle;  /* guarded by pool->mu */
    struct worker *next_all;   /* guarded by pool->mu */
} worker;

struct lab_pool {
    lab_mutex mu;
    char name_prefix[32];
    /* guarded by mu: */
    worker *idle;              /* stack of workers waiting for a job */
    worker *all;               /* every worker, for destroy */
    int nthreads;
    int busy;                  /* workers running a job; invariant 0 <= busy <= nthreads */
    bool stopping;
    lab_cond quiet;            /* signalled when busy drops to 0 */
};

static void *worker_main(void *arg);

lab_pool *lab_pool_make(const char *thread_name_prefix)
{
    lab_pool *pool = lab_calloc(1, sizeof *pool);
    lab_mutex_init(&pool->mu, "pool->mu");
    lab_cond_init(&pool->quiet);
    snprintf(pool->name_prefix, sizeof pool->name_prefix, "%s",
             thread_name_prefix ? thread_name_prefix : "pool");
    return pool;
}

/* Called with pool->mu held. */
static worker *start_worker(lab_pool *pool)
{
    assert(lab_mutex_held_by_me(&pool->mu));
    worker *w = lab_calloc(1, sizeof *w);
    w->pool = pool;
    atomic_init(&w->has_job, 0);
    lab_cond_init(&w->wake);
    w->next_all = pool->all;
    pool->all = w;
    pool->nthreads++;
    char name[48];
    snprintf(name, sizeof name, "%s %d", pool->name_prefix, pool->nthreads);
    /* A pool thread serves everyone: it is in no caller's group. */
    int group = lab_thread_group();
    lab_thread_set_group(-1);
    lab_thread_create(&w->thread, name, worker_main, w);
    lab_thread_set_group(group);
    return w;
}

void lab_pool_submit(lab_pool *pool, lab_pool_job *job)
{
    lab_mutex_lock(&pool->mu);
    assert(!pool->stopping);
    worker *w = pool->idle;
    if (w)
        pool->idle = w->next_idle;
    else
        w = start_worker(pool);
    assert(w->job == NULL);
    w->job = job;
    pool->busy++;
    atomic_store_explicit(&w->has_job, 1, memory_order_release);
    lab_cond_signal(&w->wake);
    lab_mutex_unlock(&pool->mu);
}

/* Waits for a job or for the pool to stop; called and returns with mu held. */
static lab_pool_job *next_job(worker *w)
{
    assert(lab_mutex_held_by_me(&w->pool->mu));
    lab_pool *pool = w->pool;
    if (!w->job && !pool->stopping) {
        lab_mutex_unlock(&pool->mu);
        lab_spin_until_set(&w->has_job, IDLE_SPIN_US);
        lab_mutex_lock(&pool->mu);
    }
    while (!w->job && !pool->stopping)
        lab_cond_wait(&w->wake, &pool->mu);
    lab_pool_job *job = w->job;
    w->job = NULL;
    atomic_store_explicit(&w->has_job, 0, memory_order_relaxed);
    return job;
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    lab_pool *pool = w->pool;
    lab_mutex_lock(&pool->mu);
    for (;;) {
        lab_pool_job *job = next_job(w);
        if (!job)
            break;   /* stopping, and nothing was handed to us */
        lab_mutex_unlock(&pool->mu);
        job->run(job);
        lab_mutex_lock(&pool->mu);
        assert(pool->busy > 0);
        if (--pool->busy == 0)
            lab_cond_broadcast(&pool->quiet);
        w->next_idle = pool->idle;
        pool->idle = w;
    }
    lab_mutex_unlock(&pool->mu);
    return NULL;
}

void lab_pool_destroy(lab_pool *pool)
{
    lab_mutex_lock(&pool->mu);
    while (pool->busy > 0)
        lab_cond_wait(&pool->quiet, &pool->mu);
    pool->stopping = true;
    for (worker *w = pool->all; w; w = w->next_all)
        lab_cond_signal(&w->wake);
    lab_mutex_unlock(&pool->mu);

    worker *w = pool->all;
    while (w) {
        worker *next = w->next_all;
        lab_thread_join(&w->thread);
        lab_cond_destroy(&w->wake);
        free(w);
        w = next;
    }
    lab_cond_destroy(&pool->quiet);
    lab_mutex_destroy(&pool->mu);
    free(pool);
}

/*
 * pool.h: a pool of worker threads that grows when all are busy.
 *
 * labrpc runs every RPC handler on a pool thread, so that a caller can stop
 * waiting for a handler that is stuck (its server was deleted) and so that a
 * blocked handler never stalls other deliveries: when no worker is idle the
 * pool starts another. The common path creates no thread: an idle worker
 * spins briefly for its next job before it sleeps, because waking a sleeping
 * thread on another core costs more than a whole simulated RPC.
 *
 *     struct my_job { lab_pool_job job; ... };
 *     static void run(lab_pool_job *j) { struct my_job *m = (struct my_job *)j; ... }
 *     m->job.run = run;
 *     lab_pool_submit(pool, &m->job);
 *
 * The job's run function owns the job from then on (it frees it if needed).
 * lab_pool_destroy waits for running jobs to finish and joins every worker.
 */
#ifndef LAB_POOL_H
#define LAB_POOL_H

typedef struct lab_pool_job lab_pool_job;
struct lab_pool_job {
    void (*run)(lab_pool_job *job);
};

typedef struct lab_pool lab_pool;

lab_pool *lab_pool_make(const char *thread_name_prefix);
void lab_pool_submit(lab_pool *pool, lab_pool_job *job);
void lab_pool_destroy(lab_pool *pool);

#endif

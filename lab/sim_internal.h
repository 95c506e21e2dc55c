/*
 * sim_internal.h: what sim.c (the scheduler), sim_sync.c (mutexes,
 * condition variables, time) and sync.c (the dispatch) share about
 * simulation mode. Not for use outside lab/.
 */
#ifndef LAB_SIM_INTERNAL_H
#define LAB_SIM_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "lab/fatal.h"
#include "lab/rand.h"
#include "lab/sim.h"
#include "lab/sync_internal.h"

#define SIM_NO_DEADLINE INT64_MAX

enum sim_run_state { SIM_RUNNABLE, SIM_BLOCKED, SIM_DONE };
enum sim_wait { WAIT_NONE, WAIT_MUTEX, WAIT_COND, WAIT_SLEEP, WAIT_JOIN };

/* A simulated thread. Every field: sim.lock. */
typedef struct lab_sim_thread {
    lab_thread_info *info;
    int id;                      /* creation order in this simulation: what the digest records */
    enum sim_run_state state;
    enum sim_wait wait;          /* BLOCKED: on what */
    const lab_mutex *mutex;      /* WAIT_MUTEX: wanted; WAIT_COND: released by the wait */
    const lab_cond *cond;        /* WAIT_COND */
    struct lab_sim_thread *join_target;  /* WAIT_JOIN */
    int64_t deadline_us;         /* WAIT_COND, WAIT_SLEEP: when it times out; SIM_NO_DEADLINE */
    bool timed_out;              /* the last wait ended by its deadline */
    int64_t priority;            /* PCT: the runnable thread of highest priority runs */
    pthread_cond_t turn;         /* signalled when the token comes to this thread */
    pthread_t handle;            /* its pthread, once it runs (for the stall watchdog's report) */
    int invisible;               /* lab_sim_invisible_begin depth: no scheduling points */
    struct lab_sim_thread *next_ended;   /* in sim.ended, once joined */
} sim_thread;

struct sim_state {
    pthread_mutex_t lock;
    lab_sim_options options;
    lab_rand rng;                /* the scheduler's seeded stream */
    sim_thread **live;           /* threads not ended, in id order */
    sim_thread **scratch;        /* pick's candidates; as large as live */
    int nlive, cap;
    int next_id;
    sim_thread *current;         /* the token's holder: the one thread that runs */
    sim_thread *root;            /* the thread that called lab_sim_start */
    sim_thread *ended;           /* joined threads' records, freed by lab_sim_stop */
    atomic_bool halted;          /* a deadlock was reported: nothing runs again */
    _Atomic int64_t now_us;      /* the virtual clock; read without the lock from outside */
    int64_t next_deadline_us;    /* <= every blocked thread's deadline */
    _Atomic uint64_t steps;
    _Atomic uint64_t switches;   /* steps that handed the token to another thread */
    _Atomic uint64_t digest;     /* FNV-1a of the ids of the threads picked, step by step */
    int64_t *change_points;      /* PCT, sorted */
    int nchange, next_change;
    int cpu;                     /* where every simulated thread runs; -1: not pinned */
};

extern struct sim_state sim;
extern atomic_bool lab_sim_on;   /* a simulation runs: sync.c dispatches to it */

/* lab_fatal from code that holds sim.lock: released first, so that a fatal
 * hook that prints through the lab layer (DPRINTF) cannot deadlock on it. */
#define SIM_FATAL_LOCKED(...)                 \
    do {                                      \
        pthread_mutex_unlock(&sim.lock);      \
        lab_fatal(__VA_ARGS__);               \
    } while (0)

static inline bool sim_on(void)
{
    return atomic_load_explicit(&lab_sim_on, memory_order_relaxed);
}

/* sim.c: the scheduler's own operations; sim.lock held. */
void sim_step(sim_thread *me);
void sim_block(sim_thread *me, enum sim_wait wait, int64_t deadline_us);
void sim_wake(sim_thread *t, bool timed_out);
void sim_check_cycle(sim_thread *me);         /* reports a wait-for cycle through me */
_Noreturn void sim_report_all_blocked(sim_thread *me);
sim_thread *sim_require(lab_thread_info *me, const char *what);  /* fatal for a foreign thread */
void sim_pin_self(void);
void sim_stall_watch_start(void);
void sim_stall_watch_stop(void);

/* For sync.c: the simulated implementation of each call of sync.h. */
void lab_sim_thread_create(lab_thread *t, lab_thread_info *info, lab_thread_info *creator,
                           void *(*start)(void *));
void lab_sim_thread_begin(lab_thread_info *info);   /* the new thread, first: waits for the token */
void lab_sim_thread_end(lab_thread_info *info);     /* the thread, last: hands the token on */
void lab_sim_thread_join(struct lab_sim_thread *target, lab_thread_info *joiner);
void lab_sim_thread_free(struct lab_sim_thread *s);  /* after pthread_join: kept until lab_sim_stop */
void lab_sim_mutex_lock(lab_mutex *m, lab_thread_info *me);
void lab_sim_mutex_unlock(lab_mutex *m, lab_thread_info *me);
/* Waits until signalled or until the virtual clock reaches deadline_us
 * (SIM_NO_DEADLINE: none). Returns whether the clock is still before it. */
bool lab_sim_cond_wait(lab_cond *c, lab_mutex *m, lab_thread_info *me, int64_t deadline_us);
void lab_sim_cond_signal(lab_cond *c, bool all, lab_thread_info *me);
void lab_sim_sleep_us(int64_t us, lab_thread_info *me);
int64_t lab_sim_now_us(lab_thread_info *me);
bool lab_sim_spin(atomic_int *flag, lab_thread_info *me);
double lab_sim_cpu_seconds(void);

#endif

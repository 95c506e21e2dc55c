/*
 * sync.h: the one small layer for threads, locks, condition variables, sleeps
 * and clocks. Everything in raftlab (framework and student Raft alike) goes
 * through it; nothing else calls pthreads, nanosleep or clock_gettime.
 *
 * Semantics are exactly those of pthreads, so that a later deterministic,
 * virtual-time scheduler can replace the implementation without changing a
 * caller. On top of plain pthreads the layer records which thread holds which
 * mutex, so that a hang dump can say who waits for whom.
 *
 * Usage:
 *     lab_mutex mu;  lab_mutex_init(&mu, "rf->mu");
 *     lab_cond  cv;  lab_cond_init(&cv);
 *     lab_thread t;  lab_thread_create(&t, "S0 ticker", ticker, rf);
 *     lab_mutex_lock(&mu);
 *     while (!ready)
 *         lab_cond_wait(&cv, &mu);           // or lab_cond_wait_until(&cv, &mu, deadline_ms)
 *     lab_mutex_unlock(&mu);
 *     lab_thread_join(&t);
 *
 * Times are milliseconds on a monotonic clock (lab_now_ms), never wall time.
 */
#ifndef LAB_SYNC_H
#define LAB_SYNC_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct lab_thread_info lab_thread_info;

/* A thread started with lab_thread_create. */
typedef struct lab_thread {
    pthread_t handle;
    lab_thread_info *info;   /* name and bookkeeping; freed by lab_thread_join */
} lab_thread;

/* A mutex that remembers its name and its current holder. */
typedef struct lab_mutex {
    pthread_mutex_t handle;
    const char *name;                    /* static string, for diagnostics */
    _Atomic(lab_thread_info *) holder;   /* set while locked */
} lab_mutex;

typedef struct lab_cond {
    pthread_cond_t handle;
} lab_cond;

/* Threads. name is copied; it shows in lock-holder reports and hang dumps. */
void lab_thread_create(lab_thread *t, const char *name, void *(*fn)(void *), void *arg);
void *lab_thread_join(lab_thread *t);
const char *lab_thread_name(void);              /* the calling thread's name */

/* Mutexes. name must outlive the mutex (a string literal is best). */
void lab_mutex_init(lab_mutex *m, const char *name);
void lab_mutex_destroy(lab_mutex *m);
void lab_mutex_lock(lab_mutex *m);
void lab_mutex_unlock(lab_mutex *m);
bool lab_mutex_held_by_me(const lab_mutex *m);  /* for asserts */
const char *lab_mutex_holder_name(const lab_mutex *m); /* NULL when free */

/* Condition variables. The mutex must be held, as with pthreads. */
void lab_cond_init(lab_cond *c);
void lab_cond_destroy(lab_cond *c);
void lab_cond_wait(lab_cond *c, lab_mutex *m);
/* Waits until signalled or until lab_now_ms() >= deadline_ms.
 * Returns false on timeout. Spurious wake-ups are possible, as with pthreads. */
bool lab_cond_wait_until(lab_cond *c, lab_mutex *m, int64_t deadline_ms);
void lab_cond_signal(lab_cond *c);
void lab_cond_broadcast(lab_cond *c);

/*
 * One-time initialisation, for state a lab_mutex cannot guard because the
 * mutex itself needs initialising:
 *     static lab_once once = LAB_ONCE_INIT;
 *     lab_once_run(&once, init);        // init runs exactly once, ever
 * Every caller returns after init has returned, and sees what it wrote. A
 * caller that finds another thread inside init waits in 1 ms sleeps (only
 * the first callers can meet this), never by spinning: in simulation mode
 * one thread runs at a time, and a spinning waiter would never let the
 * initialising thread finish.
 */
typedef struct lab_once {
    atomic_int state;
} lab_once;
#define LAB_ONCE_INIT { 0 }
void lab_once_run(lab_once *once, void (*init)(void));

/*
 * Time. LAB_TIME_DILATION=k in the environment (read once; default 1) runs
 * every clock, sleep and timed wait of this layer k times slower than real
 * time, so a whole program keeps its timing under a tool that slows it down
 * (make VALGRIND=1 sets it for the Raft suites): a 100 ms sleep takes k*100
 * real ms, and lab_now_ms() advances 1 ms per k real ms.
 */
int lab_time_dilation(void);
int64_t lab_now_ms(void);       /* monotonic milliseconds */
int64_t lab_now_us(void);       /* monotonic microseconds */
void lab_sleep_ms(int64_t ms);
double lab_cpu_seconds(void);   /* user+sys CPU of this process so far */
double lab_children_cpu_seconds(void); /* user+sys CPU of reaped child processes */

/*
 * Bounded spinning, the layer's one concession to speed: waking a thread that
 * sleeps on another core costs tens of microseconds on a virtual machine, so
 * a hand-off first spins a few microseconds on a flag before it blocks.
 * Returns true if *flag became non-zero within max_us microseconds. Does
 * nothing (returns the flag's value) on a one-CPU machine. A deterministic
 * scheduler makes this a plain load.
 */
bool lab_spin_until_set(atomic_int *flag, int max_us);

#endif

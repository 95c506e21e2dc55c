/*
 * sim.h: simulation mode, the second implementation of lab/sync.h: a seeded,
 * deterministic scheduler with virtual time (design section 11).
 *
 * While a simulation runs, exactly one of its threads runs at a time. Every
 * call of lab/sync.h that can block or publish (thread create, join and
 * exit, mutex lock and unlock, condition wait, signal and broadcast, sleep,
 * spin, clock read) is a scheduling point, where the scheduler picks the
 * next thread to run from a stream of the run's seed. Time is virtual: it
 * advances by LAB_SIM_STEP_US at every scheduling point, and when no thread
 * can run it jumps to the earliest deadline of a sleep or a timed wait.
 * Every thread stays a real pthread; a running thread hands a token to the
 * next one. Same program, same seed: the same interleaving, the same times.
 *
 *     lab_sim_options o = lab_sim_default_options(seed);  // LAB_SIM_* from the environment
 *     lab_sim_start(&o);          // the calling thread is the simulation's first thread
 *     ... lab_thread_create, lab_mutex_lock, lab_sleep_ms: all simulated ...
 *     lab_sim_stop();             // every other simulated thread must have been joined
 *
 * The Raft harness starts a simulation in each test process when LAB_SIM=1
 * (make ... SIM=1) and never stops it: the process ends with the test.
 *
 * Deadlocks are found exactly, at the moment they happen: a thread that
 * blocks on a mutex (or a join) closing a cycle of threads that wait for one
 * another, or every thread blocked with no timer pending. Either calls the
 * deadlock hook with a one-line description ("deadlock: 'A' waits for mutex
 * 'm2' held by 'B', which waits for mutex 'm1' held by 'A'"); without a hook,
 * lab_fatal. A thread that runs on without reaching a scheduling point (an
 * infinite loop) cannot be preempted: a real-time watchdog calls the stall
 * hook after LAB_SIM_STALL_S seconds with no scheduling step.
 *
 * Threads outside the simulation (Criterion's, a sanitizer's, one that never
 * went through lab_thread_create) may read the clock (they see virtual time,
 * without a scheduling point) but may not block in the lab layer while a
 * simulation runs: that is a fatal error naming them.
 *
 * Environment, read by lab_sim_default_options:
 *   LAB_SIM=1                  the harness runs its tests in simulation
 *   LAB_SIM_SEED=<n>           the scheduler's seed (default: derived from the test's seed)
 *   LAB_SIM_STRATEGY=random|pct  uniform choice among runnable threads (default), or PCT
 *   LAB_SIM_PCT_DEPTH=<d>      PCT's bug depth: d-1 priority change points (default 3)
 *   LAB_SIM_PCT_STEPS=<k>      PCT's change points fall in the first k steps (default 1000000)
 *   LAB_SIM_STALL_S=<s>        the infinite-loop watchdog's limit in real seconds (default 5)
 *   LAB_SIM_PIN=0              do not pin the simulated threads to one CPU (Linux)
 */
#ifndef LAB_SIM_H
#define LAB_SIM_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

/* Virtual microseconds each scheduling step costs: a thread that polls the
 * clock in a loop sees time pass, and steps per virtual second measure how
 * busy the program is (lab_cpu_seconds in simulation is steps times this). */
#define LAB_SIM_STEP_US 1

/* Virtual microseconds an RPC's request, and again its reply, spends
 * between threads (labrpc). In real time a hand-off from thread to thread
 * costs tens of microseconds (about 50 across cores on the measured VM, a
 * reliable labrpc round trip 57): without it a simulated call would return
 * in a few steps, faster than any machine, and a test whose clients offer
 * the next command as soon as the last one commits (2C churn) would commit
 * twenty times as many as in real time, its scheduling steps counted as
 * CPU with them. */
#define LAB_SIM_TRANSIT_US 100

/* Virtual time starts here (lab_now_us), not at 0, which code may take for "never". */
#define LAB_SIM_EPOCH_US 1000000000LL

typedef enum lab_sim_strategy {
    LAB_SIM_RANDOM,   /* the next thread: uniform among the runnable ones */
    LAB_SIM_PCT,      /* Burckhardt et al., ASPLOS 2010: the runnable thread of highest
                         priority; random priorities, depth-1 random change points */
} lab_sim_strategy;

typedef struct lab_sim_options {
    uint64_t seed;
    lab_sim_strategy strategy;
    int pct_depth;            /* >= 1 */
    int64_t pct_steps;        /* change points are drawn in [1, pct_steps] */
    double stall_seconds;     /* the infinite-loop watchdog; <= 0: none */
    bool pin;                 /* all simulated threads on one CPU (Linux; elsewhere ignored) */
} lab_sim_options;

/* LAB_SIM=1 in the environment (read once). */
bool lab_sim_requested(void);
/* Options from the environment; the seed is LAB_SIM_SEED if set, else derived from test_seed. */
lab_sim_options lab_sim_default_options(uint64_t test_seed);
const char *lab_sim_strategy_name(lab_sim_strategy s);

/* Starts a simulation; the calling thread becomes its first thread. Fatal if
 * one is running. */
void lab_sim_start(const lab_sim_options *options);
/* Ends it, from its first thread, once every other simulated thread has
 * ended and been joined; the clock is real again. */
void lab_sim_stop(void);
bool lab_sim_active(void);
bool lab_sim_is_simulated_thread(void);   /* the caller is one of the simulation's threads */
/* In a simulation, the calling simulated thread waits LAB_SIM_TRANSIT_US of
 * virtual time, as a message in transit between threads; elsewhere nothing. */
void lab_sim_transit(void);

/*
 * Between these two calls the calling thread's lab calls are not scheduling
 * points: no other thread runs and no virtual time passes. DPRINTF uses
 * them, so that a replay with VERBOSE=1 is the same run as the one that
 * failed without it. The section must not block (a lock it takes must be
 * free: one that is only ever taken in such sections always is). They nest;
 * outside a simulation they do nothing.
 */
void lab_sim_invisible_begin(void);
void lab_sim_invisible_end(void);

/* Statistics of the running (or last) simulation. */
uint64_t lab_sim_steps(void);             /* scheduling steps so far */
uint64_t lab_sim_switches(void);          /* steps that handed the token to another thread */
uint64_t lab_sim_digest(void);            /* a hash of the sequence of threads that ran */
int64_t lab_sim_elapsed_us(void);         /* virtual time since start */
const lab_sim_options *lab_sim_options_in_use(void);

/* Called on the thread that found a deadlock, with every other simulated
 * thread stopped; message starts "deadlock: ". It should report and end the
 * process (it must not return into the simulation: nothing can run). */
typedef void (*lab_sim_deadlock_hook)(const char *message);
void lab_sim_set_deadlock_hook(lab_sim_deadlock_hook hook);

/* Called on the watchdog's own thread (outside the simulation) when no
 * scheduling step happened for stall_seconds of real time: thread is the
 * one that holds the token (running without a scheduling point), name its
 * name. It may dump stacks and end the process; if it returns, the watchdog
 * keeps watching. Without a hook: a message on stderr, then abort. */
typedef void (*lab_sim_stall_hook)(pthread_t thread, const char *name, double seconds);
void lab_sim_set_stall_hook(lab_sim_stall_hook hook);
/* Turns the stall watchdog off (false) while the caller does something long
 * and legitimate outside the simulation (a hang dump with gdb), and on again. */
void lab_sim_stall_watch(bool on);

#endif

/*
 * harness_watchdog.c: turns a hang into a HANG failure within seconds, not a
 * silent wait for Criterion's timeout. Every call the harness makes into a
 * Raft (make, start, get_state, snapshot, kill) and every wait on one (for a
 * crashed server's handlers) is watched: if it has not returned after
 * WATCH_LIMIT_S seconds, or the test is still running HANG_LIMIT_S seconds
 * after it began, the watchdog thread prints what every thread is doing
 * (harness/support/hang_dump.h) and the FAIL HANG line, and ends the process:
 * a thread stuck inside student code cannot be unwound.
 *
 * It also ends the test process when the Criterion runner that forked it is
 * gone (killed by `timeout` or by the grader): the worker is a session
 * leader, out of reach of a kill of the runner's process group.
 */
#include <assert.h>
#include <stdio.h>
#include <unistd.h>

#include "harness/harness_internal.h"
#include "harness/support/hang_dump.h"
#include "harness/support/test_support.h"
#include "lab/sim.h"

enum {
    WATCH_LIMIT_S = LAB_WATCH_LIMIT_S,   /* no call into Raft takes this long unless it is stuck */
    BACKGROUND_EXTRA_S = 2, /* a background thread's call is reported only after this more */
    HANG_GRACE_S = LAB_HANG_GRACE_S,     /* after the test limit, for the main thread to say PERF */
    ORPHAN_POLL_MS = 500, /* how often to look whether the runner is still there */
    MAX_WATCHED = 64,
};

typedef struct watched_call {
    bool active;
    /* Kept as given, formatted only when reported: a call is watched on every
     * tester call into Raft, the safety monitor's polls included. */
    const char *what;      /* a string literal: "raft_get_state" */
    int server;            /* or -1 */
    pthread_t thread;
    const char *thread_name;  /* the calling thread's, alive while it waits */
    int64_t since_ms;
    bool background;       /* made by the safety monitor */
} watched_call;

/* The safety monitor polls every few milliseconds, so in a deadlock its call
 * is nearly always the first stuck; the tester's own stuck call (raft_snapshot
 * in the apply-channel deadlock) says more, so it is reported first. */
static _Thread_local bool in_background;

void harness_watch_set_background(void)
{
    in_background = true;
}

static lab_mutex watch_mu;   /* guards everything below */
static lab_cond watch_cv;    /* a nearer deadline, or stop */
static watched_call calls[MAX_WATCHED];
static int64_t test_deadline_ms;
static int64_t next_wake_ms;
static bool running, stopping;
static lab_thread watchdog;
static pid_t runner_pid;     /* our parent when the test began */

static int64_t watch_limit_ms(void)
{
    return test_latency_ms(WATCH_LIMIT_S * 1000LL);
}

int harness_watch_enter(const char *what, int server)
{
    lab_mutex_lock(&watch_mu);
    int token = -1;
    for (int k = 0; k < MAX_WATCHED && token < 0; k++)
        if (!calls[k].active)
            token = k;
    if (token >= 0) {
        watched_call *c = &calls[token];
        c->active = true;
        c->what = what;
        c->server = server;
        c->thread = pthread_self();
        c->thread_name = lab_thread_name();
        c->since_ms = lab_now_ms();
        c->background = in_background;
        if (running && c->since_ms + watch_limit_ms() < next_wake_ms)
            lab_cond_signal(&watch_cv);
    }
    lab_mutex_unlock(&watch_mu);
    return token;
}

void harness_watch_leave(int token)
{
    if (token < 0)
        return;
    lab_mutex_lock(&watch_mu);
    calls[token].active = false;
    lab_mutex_unlock(&watch_mu);
}

/* When c counts as stuck. */
static int64_t due_ms(const watched_call *c)
{
    return c->since_ms + watch_limit_ms() + (c->background ? test_latency_ms(BACKGROUND_EXTRA_S * 1000LL) : 0);
}

/* watch_mu held: the stuck call that fell due first, or -1. Sets *wake to the next deadline. */
static int find_stuck(int64_t now, int64_t *wake)
{
    assert(lab_mutex_held_by_me(&watch_mu));
    int stuck = -1;
    *wake = test_deadline_ms;
    for (int k = 0; k < MAX_WATCHED; k++) {
        if (!calls[k].active)
            continue;
        int64_t due = due_ms(&calls[k]);
        if (due <= now && (stuck < 0 || due < due_ms(&calls[stuck])))
            stuck = k;
        if (due < *wake)
            *wake = due;
    }
    return stuck;
}

static _Noreturn void fire(const char *reason)
{
    if (lab_sim_active())   /* simulation: the dump (gdb) takes real seconds without a step */
        lab_sim_stall_watch(false);
    fflush(stdout);
    printf("--- hang: %s; what every thread is doing:\n", reason);
    fflush(stdout);
    hang_dump(STDOUT_FILENO);
    printf("--- end of hang dump\n");
    fflush(stdout);
    harness_report_and_exit(CLASS_HANG, reason);
}

static void *watchdog_main(void *arg)
{
    (void)arg;
    lab_mutex_lock(&watch_mu);
    while (!stopping) {
        int64_t now = lab_now_ms();
        int stuck = find_stuck(now, &next_wake_ms);
        if (stuck >= 0 || now >= test_deadline_ms)
            break;
        if (getppid() != runner_pid)
            _exit(HARNESS_EXIT_REPORTED);   /* nobody is left to read a report */
        int64_t poll_at = now + ORPHAN_POLL_MS;
        lab_cond_wait_until(&watch_cv, &watch_mu, next_wake_ms < poll_at ? next_wake_ms : poll_at);
    }
    if (stopping) {
        lab_mutex_unlock(&watch_mu);
        return NULL;
    }
    char reason[REASON_LEN], blocked[300] = "", deadlock[300] = "";
    int64_t now = lab_now_ms();
    int stuck = find_stuck(now, &next_wake_ms);
    if (stuck >= 0) {
        watched_call c = calls[stuck];
        lab_mutex_unlock(&watch_mu);
        char what[128];
        if (c.server >= 0)
            snprintf(what, sizeof what, "%s(server %d)", c.what, c.server);
        else
            snprintf(what, sizeof what, "%s", c.what);
        hang_describe_thread(c.thread, blocked, sizeof blocked);
        int secs = (int)((now - c.since_ms) / 1000);
        if (hang_find_deadlock(deadlock, sizeof deadlock))
            snprintf(reason, sizeof reason, "%s did not return within %d s; %s", what, secs, deadlock);
        else if (blocked[0])
            snprintf(reason, sizeof reason, "%s did not return within %d s; thread '%s' %s", what,
                     secs, c.thread_name, blocked);
        else
            snprintf(reason, sizeof reason, "%s did not return within %d s", what, secs);
    } else {
        lab_mutex_unlock(&watch_mu);
        snprintf(reason, sizeof reason, "test still running %d s after it began (limit %d s)",
                 HARNESS_TEST_LIMIT_S + HANG_GRACE_S, HARNESS_TEST_LIMIT_S);
    }
    fire(reason);
}

void harness_watchdog_start(void)
{
    static bool initialised;
    if (!initialised) {
        lab_mutex_init(&watch_mu, "watchdog");
        lab_cond_init(&watch_cv);
        initialised = true;
    }
    hang_dump_init();
    lab_mutex_lock(&watch_mu);
    test_deadline_ms = lab_now_ms() + test_latency_ms((HARNESS_TEST_LIMIT_S + HANG_GRACE_S) * 1000LL);
    next_wake_ms = test_deadline_ms;
    runner_pid = getppid();
    running = true;
    stopping = false;
    lab_mutex_unlock(&watch_mu);
    lab_thread_create(&watchdog, "watchdog", watchdog_main, NULL);
}

void harness_watchdog_stop(void)
{
    lab_mutex_lock(&watch_mu);
    if (!running) {
        lab_mutex_unlock(&watch_mu);
        return;
    }
    stopping = true;
    running = false;
    lab_cond_signal(&watch_cv);
    lab_mutex_unlock(&watch_mu);
    lab_thread_join(&watchdog);
}

/*
 * Simulation mode (make ... SIM=1; lab/sim.h). The scheduler finds a
 * deadlock at the step that makes it (a cycle of threads waiting for one
 * another's mutexes, or every thread blocked with no timer pending) and
 * reports it here at once, with the cycle: the same dump and HANG line as a
 * stuck call. The watchdog above runs on the virtual clock there, where its
 * limits still catch a livelock, or a deadlock through a condition variable
 * that other threads' timers keep alive (the apply channel's), in virtual
 * seconds. A thread that never reaches a scheduling point stops the virtual
 * clock, so it is the scheduler's own real-time watchdog (LAB_SIM_STALL_S,
 * default 5 s) that names it.
 */
static void sim_deadlock(const char *message)
{
    fire(message);
}

static void sim_stall(pthread_t thread, const char *name, double seconds)
{
    (void)thread;   /* the dump shows every thread's stack */
    if (!harness_test_running())
        return;     /* the test is over and its process is ending */
    char reason[REASON_LEN];
    snprintf(reason, sizeof reason, "thread '%s' ran %.0f s of real time without reaching a scheduling "
             "point (an infinite loop that never calls the lab layer?)", name, seconds);
    fire(reason);
}

void harness_watchdog_sim_begin(uint64_t seed)
{
    lab_sim_set_deadlock_hook(sim_deadlock);
    lab_sim_set_stall_hook(sim_stall);
    lab_sim_options options = lab_sim_default_options(seed);
    lab_sim_start(&options);
}

/*
 * test_sim.c: the simulation scheduler (lab/sim.h) through the ordinary
 * lab/sync.h calls: one thread at a time, pthreads' semantics for mutexes
 * and condition variables, virtual time, joins, and the same schedule from
 * the same seed. The deadlock and stall detectors are in test_sim_detect.c.
 * Each test starts its own simulation with a fixed seed; real time is read
 * with clock_gettime on purpose, to see that virtual time does not wait.
 */
#include <criterion/criterion.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "checks/unit/test_sim_helpers.h"
#include "harness/support/test_support.h"
#include "lab/sim.h"
#include "lab/sync.h"

TestSuite(sim, .timeout = 60, .fini = test_check_leaks);

/* ---- mutual exclusion -------------------------------------------------------- */

enum { WORKERS = 4, ROUNDS = 200 };

typedef struct counter {
    lab_mutex mu;
    int value;          /* mu */
    atomic_int inside;  /* threads between lock and unlock: never more than one */
    atomic_int running; /* simulated threads running user code at once */
    int max_running;
    int max_inside;
} counter;

static void enter_user_code(counter *c)
{
    int r = atomic_fetch_add(&c->running, 1) + 1;
    if (r > c->max_running)
        c->max_running = r;
}

static void *increment_main(void *arg)
{
    counter *c = arg;
    for (int k = 0; k < ROUNDS; k++) {
        lab_mutex_lock(&c->mu);
        int in = atomic_fetch_add(&c->inside, 1) + 1;
        if (in > c->max_inside)
            c->max_inside = in;
        int v = c->value;
        (void)lab_now_us();   /* a scheduling point inside the critical section */
        enter_user_code(c);
        c->value = v + 1;
        atomic_fetch_sub(&c->running, 1);
        atomic_fetch_sub(&c->inside, 1);
        lab_mutex_unlock(&c->mu);
    }
    return NULL;
}

/* Catches: a lock that lets two threads in (the read-modify-write across a
 * scheduling point would lose increments), or a scheduler that lets two
 * simulated threads run at once. */
Test(sim, mutex_gives_mutual_exclusion)
{
    sim_test_start(1);
    counter c = {0};
    lab_mutex_init(&c.mu, "counter");
    lab_thread t[WORKERS];
    for (int i = 0; i < WORKERS; i++)
        lab_thread_create(&t[i], "incrementer", increment_main, &c);
    for (int i = 0; i < WORKERS; i++)
        lab_thread_join(&t[i]);
    cr_assert_eq(c.value, WORKERS * ROUNDS);
    cr_assert_eq(c.max_inside, 1, "%d threads were inside the mutex at once", c.max_inside);
    cr_assert_eq(c.max_running, 1);
    cr_assert_gt(lab_sim_switches(), 100, "the threads should have interleaved (%llu switches)",
                 (unsigned long long)lab_sim_switches());
    lab_mutex_destroy(&c.mu);
    lab_sim_stop();
}

/* ---- condition variables ----------------------------------------------------- */

typedef struct waiters {
    lab_mutex mu;
    lab_cond cv;
    int tickets;   /* mu: how many waiters may leave */
    int woken;     /* mu */
} waiters;

static void *waiter_main(void *arg)
{
    waiters *w = arg;
    lab_mutex_lock(&w->mu);
    while (w->tickets == 0)
        lab_cond_wait(&w->cv, &w->mu);
    w->tickets--;
    w->woken++;
    lab_mutex_unlock(&w->mu);
    return NULL;
}

static int woken(waiters *w)
{
    lab_mutex_lock(&w->mu);
    int n = w->woken;
    lab_mutex_unlock(&w->mu);
    return n;
}

/* Catches: signal waking nobody or everybody, broadcast missing a waiter. */
Test(sim, signal_wakes_one_and_broadcast_wakes_all)
{
    sim_test_start(2);
    waiters w = {0};
    lab_mutex_init(&w.mu, "waiters");
    lab_cond_init(&w.cv);
    lab_thread t[3];
    for (int i = 0; i < 3; i++)
        lab_thread_create(&t[i], "waiter", waiter_main, &w);
    lab_sleep_ms(10);   /* all three are waiting by now: nothing else can run */
    lab_mutex_lock(&w.mu);
    w.tickets = 1;
    lab_cond_signal(&w.cv);
    lab_mutex_unlock(&w.mu);
    lab_sleep_ms(10);
    cr_assert_eq(woken(&w), 1);
    lab_mutex_lock(&w.mu);
    w.tickets = 2;
    lab_cond_broadcast(&w.cv);
    lab_mutex_unlock(&w.mu);
    for (int i = 0; i < 3; i++)
        lab_thread_join(&t[i]);
    cr_assert_eq(woken(&w), 3);
    lab_cond_destroy(&w.cv);
    lab_mutex_destroy(&w.mu);
    lab_sim_stop();
}

/* Catches: a timed wait that returns early, never, or late on the virtual
 * clock, or that waits out its timeout in real time. */
Test(sim, timed_wait_times_out_at_its_deadline)
{
    sim_test_start(3);
    lab_mutex mu;
    lab_cond cv;
    lab_mutex_init(&mu, "mu");
    lab_cond_init(&cv);
    int64_t real0 = real_now_ms();
    lab_mutex_lock(&mu);
    int64_t deadline = lab_now_ms() + 5000;
    bool signalled = lab_cond_wait_until(&cv, &mu, deadline);
    int64_t now = lab_now_ms();
    cr_assert(lab_mutex_held_by_me(&mu), "the wait must return with the mutex held");
    lab_mutex_unlock(&mu);
    cr_assert(!signalled);
    cr_assert(now >= deadline && now <= deadline + 1, "woke at %lld for a deadline at %lld",
              (long long)now, (long long)deadline);
    cr_assert_lt(real_now_ms() - real0, test_latency_ms(1000), "a 5-second virtual wait took %lld real ms",
                 (long long)(real_now_ms() - real0));
    /* A deadline already past: no wait at all. */
    lab_mutex_lock(&mu);
    cr_assert(!lab_cond_wait_until(&cv, &mu, lab_now_ms() - 1));
    lab_mutex_unlock(&mu);
    lab_cond_destroy(&cv);
    lab_mutex_destroy(&mu);
    lab_sim_stop();
}

typedef struct signal_later {
    lab_mutex mu;
    lab_cond cv;
    bool set;   /* mu */
    int64_t delay_ms;
} signal_later;

static void *signal_later_main(void *arg)
{
    signal_later *s = arg;
    lab_sleep_ms(s->delay_ms);
    lab_mutex_lock(&s->mu);
    s->set = true;
    lab_cond_signal(&s->cv);
    lab_mutex_unlock(&s->mu);
    return NULL;
}

/* Catches: a timed wait that ignores a signal and sleeps to its deadline. */
Test(sim, timed_wait_returns_when_signalled)
{
    sim_test_start(4);
    signal_later s = {.delay_ms = 30};
    lab_mutex_init(&s.mu, "mu");
    lab_cond_init(&s.cv);
    lab_thread t;
    int64_t start = lab_now_ms();
    lab_thread_create(&t, "signaller", signal_later_main, &s);
    lab_mutex_lock(&s.mu);
    int64_t deadline = start + 1000;
    bool in_time = true;
    while (!s.set && in_time)
        in_time = lab_cond_wait_until(&s.cv, &s.mu, deadline);
    int64_t took = lab_now_ms() - start;
    lab_mutex_unlock(&s.mu);
    cr_assert(in_time && s.set);
    cr_assert(took >= 30 && took <= 31, "woke after %lld virtual ms; the signal came at 30", (long long)took);
    lab_thread_join(&t);
    lab_cond_destroy(&s.cv);
    lab_mutex_destroy(&s.mu);
    lab_sim_stop();
}

/* ---- threads and time ---------------------------------------------------------- */

static void *sleep_then_return(void *arg)
{
    lab_sleep_ms(2000);
    return arg;
}

/* Catches: a join that returns before the thread ended, or loses its result. */
Test(sim, join_waits_for_the_end_and_returns_the_result)
{
    sim_test_start(5);
    int token;
    lab_thread t;
    int64_t start = lab_now_ms();
    lab_thread_create(&t, "sleeper", sleep_then_return, &token);
    cr_assert_eq(lab_thread_join(&t), &token);
    cr_assert_geq(lab_now_ms() - start, 2000);
    lab_sim_stop();
}

/* Catches: a clock that waits in real time, or jumps to the wrong deadline
 * when several threads sleep. */
Test(sim, virtual_time_jumps_to_the_earliest_deadline)
{
    sim_test_start(6);
    int64_t real0 = real_now_ms();
    int64_t start = lab_now_ms();
    lab_thread t;
    int token;
    lab_thread_create(&t, "sleeper", sleep_then_return, &token);   /* wakes at +2000 */
    lab_sleep_ms(700);
    int64_t first = lab_now_ms() - start;
    lab_thread_join(&t);
    int64_t second = lab_now_ms() - start;
    cr_assert(first >= 700 && first <= 701, "the 700 ms sleeper woke at %lld", (long long)first);
    cr_assert(second >= 2000 && second <= 2001, "the 2000 ms sleeper ended at %lld", (long long)second);
    lab_sleep_ms(100000);   /* 100 s */
    cr_assert_geq(lab_now_ms() - start, 102000);
    cr_assert_lt(real_now_ms() - real0, test_latency_ms(1000), "102 s of virtual time took %lld real ms",
                 (long long)(real_now_ms() - real0));
    lab_sim_stop();
}

/* Catches: a polling loop that never sees time pass (it would spin forever
 * waiting for a deadline), or a cost per step other than the documented one. */
Test(sim, each_scheduling_step_costs_a_fixed_virtual_time)
{
    sim_test_start(7);
    int64_t t0 = lab_now_us();
    uint64_t s0 = lab_sim_steps();
    for (int i = 0; i < 1000; i++)
        (void)lab_now_us();
    int64_t t1 = lab_now_us();
    uint64_t steps = lab_sim_steps() - s0;
    cr_assert_eq(steps, 1001);
    cr_assert_eq(t1 - t0, (int64_t)steps * LAB_SIM_STEP_US);
    /* A loop that polls the clock for a deadline ends. */
    int64_t deadline = lab_now_ms() + 3;
    while (lab_now_ms() < deadline)
        ;
    cr_assert_geq(lab_now_ms(), deadline);
    /* Simulated CPU is steps times the cost: the polling loop used all of it. */
    cr_assert_float_eq(lab_cpu_seconds(), (double)lab_sim_steps() * LAB_SIM_STEP_US / 1e6, 1e-9);
    lab_sim_stop();
}

/* Catches: a thread outside the simulation (Criterion's, a sanitizer's)
 * being scheduled, or blocked, by it: it reads the virtual clock and goes on. */
static void *outsider_main(void *arg)
{
    int64_t *seen = arg;
    *seen = lab_now_ms();
    return NULL;
}

Test(sim, threads_outside_the_simulation_read_the_clock_without_blocking)
{
    sim_test_start(8);
    lab_sleep_ms(5000);
    int64_t now = lab_now_ms();
    int64_t seen = 0;
    pthread_t outsider;
    pthread_create(&outsider, NULL, outsider_main, &seen);
    pthread_join(outsider, NULL);   /* holding the token: the outsider must not need it */
    cr_assert(seen >= now && seen <= now + 1, "outsider saw %lld, virtual now %lld", (long long)seen,
              (long long)now);
    cr_assert(lab_sim_is_simulated_thread());
    lab_sim_stop();
    cr_assert(!lab_sim_active());
}

/* Catches: DPRINTF (which locks and reads the clock) changing the schedule,
 * so that a failure found without VERBOSE would not come back with it. */
Test(sim, an_invisible_section_takes_no_step_and_no_time)
{
    sim_test_start(9);
    lab_mutex mu;
    lab_mutex_init(&mu, "print");
    uint64_t steps = lab_sim_steps();
    int64_t t0 = lab_sim_elapsed_us();
    lab_sim_invisible_begin();
    lab_mutex_lock(&mu);
    for (int i = 0; i < 100; i++)
        (void)lab_now_us();
    lab_mutex_unlock(&mu);
    lab_sim_invisible_end();
    cr_assert_eq(lab_sim_steps(), steps);
    cr_assert_eq(lab_sim_elapsed_us(), t0);
    (void)lab_now_us();   /* and after it, steps again */
    cr_assert_eq(lab_sim_steps(), steps + 1);
    lab_mutex_destroy(&mu);
    lab_sim_stop();
}

/* ---- determinism ----------------------------------------------------------------- */

/* Catches: any dependence of the schedule on the OS (real time, thread ids,
 * the order pthreads happen to start): the same seed must give the same
 * trace, and different seeds different ones. */
Test(sim, the_same_seed_gives_the_same_schedule_and_different_seeds_differ)
{
    enum { SEEDS = 40 };
    uint64_t digests[SEEDS];
    char first_trace[SIM_TRACE_MAX], again[SIM_TRACE_MAX];
    for (int s = 0; s < SEEDS; s++) {
        digests[s] = sim_test_run_program(LAB_SIM_RANDOM, 1000 + (uint64_t)s, first_trace);
        uint64_t d = sim_test_run_program(LAB_SIM_RANDOM, 1000 + (uint64_t)s, again);
        cr_assert_eq(d, digests[s], "seed %d: two runs, two schedules", s);
        cr_assert_str_eq(first_trace, again, "seed %d: two runs, two traces", s);
    }
    int distinct = 0;
    for (int s = 0; s < SEEDS; s++) {
        bool seen = false;
        for (int r = 0; r < s && !seen; r++)
            seen = digests[r] == digests[s];
        distinct += !seen;
    }
    cr_assert_eq(distinct, SEEDS, "only %d distinct schedules from %d seeds", distinct, SEEDS);
}

/* Catches: PCT depending on anything but its seed, or not varying with it. */
Test(sim, pct_is_deterministic_and_varies_with_the_seed)
{
    enum { SEEDS = 20 };
    uint64_t digests[SEEDS];
    char trace[SIM_TRACE_MAX], again[SIM_TRACE_MAX];
    for (int s = 0; s < SEEDS; s++) {
        digests[s] = sim_test_run_program(LAB_SIM_PCT, 5000 + (uint64_t)s, trace);
        cr_assert_eq(sim_test_run_program(LAB_SIM_PCT, 5000 + (uint64_t)s, again), digests[s]);
        cr_assert_str_eq(trace, again);
    }
    int distinct = 0;
    for (int s = 0; s < SEEDS; s++) {
        bool seen = false;
        for (int r = 0; r < s && !seen; r++)
            seen = digests[r] == digests[s];
        distinct += !seen;
    }
    cr_assert_geq(distinct, SEEDS / 2, "only %d distinct PCT schedules from %d seeds", distinct, SEEDS);
}

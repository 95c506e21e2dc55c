/*
 * test_once.c: lab_once_run (lab/sync.h), in real time and in simulation.
 * Many threads call it at once; the initialiser must run exactly once, and
 * every caller must return only after it has finished and see what it
 * wrote, even when the initialiser itself sleeps or reads the clock (both
 * are scheduling points in simulation, where a spinning waiter would keep
 * the initialiser from ever finishing).
 */
#include <criterion/criterion.h>
#include <stdatomic.h>

#include "checks/unit/test_sim_helpers.h"
#include "harness/support/test_support.h"
#include "lab/sim.h"
#include "lab/sync.h"

TestSuite(once, .timeout = 60, .fini = test_check_leaks);

enum { CALLERS = 8 };

static lab_once the_once;
static atomic_int init_runs;
static int initialised_value;           /* written by slow_init only */
static atomic_int callers_saw_value;

static void slow_init(void)
{
    atomic_fetch_add(&init_runs, 1);
    (void)lab_now_ms();                 /* a scheduling point in simulation */
    lab_sleep_ms(20);                   /* callers arrive while it runs */
    initialised_value = 42;
}

static void *caller_main(void *arg)
{
    (void)arg;
    lab_once_run(&the_once, slow_init);
    if (initialised_value == 42)
        atomic_fetch_add(&callers_saw_value, 1);
    return NULL;
}

static void reset(void)
{
    the_once = (lab_once)LAB_ONCE_INIT;
    atomic_store(&init_runs, 0);
    atomic_store(&callers_saw_value, 0);
    initialised_value = 0;
}

static void run_callers(void)
{
    lab_thread threads[CALLERS];
    for (int i = 0; i < CALLERS; i++)
        lab_thread_create(&threads[i], "once caller", caller_main, NULL);
    for (int i = 0; i < CALLERS; i++)
        lab_thread_join(&threads[i]);
    cr_assert_eq(atomic_load(&init_runs), 1, "the initialiser ran %d times", atomic_load(&init_runs));
    cr_assert_eq(atomic_load(&callers_saw_value), CALLERS,
                 "%d of %d callers returned before the initialiser had finished",
                 CALLERS - atomic_load(&callers_saw_value), CALLERS);
    lab_once_run(&the_once, slow_init);   /* a later call does nothing */
    cr_assert_eq(atomic_load(&init_runs), 1);
}

/* Catches: an initialiser run twice, or a caller let through early. */
Test(once, runs_once_and_every_caller_sees_its_result)
{
    reset();
    run_callers();
}

/* Catches: a waiter that spins without a scheduling point, which in
 * simulation never lets the initialiser finish (the stall watchdog fires). */
Test(once, runs_once_in_simulation)
{
    for (uint64_t seed = 1; seed <= 20; seed++) {
        reset();
        sim_test_start(seed);
        run_callers();
        lab_sim_stop();
    }
}

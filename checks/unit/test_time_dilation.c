/*
 * test_time_dilation.c: LAB_TIME_DILATION=k runs the lab layer's clock,
 * sleeps and timed waits k times slower than real time (VALGRIND=1 uses it
 * for the Raft suites). Real time is read here with clock_gettime on
 * purpose: it is the one thing the lab layer must not be trusted to report.
 * Each Criterion test is its own process, so each reads the variable afresh.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <time.h>

#include "lab/sync.h"

static int64_t real_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void dilate_by_3(void)
{
    setenv("LAB_TIME_DILATION", "3", 1);
}

Test(time_dilation, sleep_takes_k_times_longer_in_real_time, .init = dilate_by_3)
{
    cr_assert_eq(lab_time_dilation(), 3);
    int64_t real0 = real_now_ms(), lab0 = lab_now_ms();
    lab_sleep_ms(100);
    int64_t real_took = real_now_ms() - real0, lab_took = lab_now_ms() - lab0;
    cr_assert_geq(real_took, 300, "a 100 ms sleep took %lld real ms, expected at least 300",
                  (long long)real_took);
    cr_assert(lab_took >= 100 && lab_took < 100 + real_took / 3 + 50,
              "the lab clock advanced %lld ms over a 100 ms sleep", (long long)lab_took);
}

Test(time_dilation, timed_wait_deadline_is_on_the_slow_clock, .init = dilate_by_3)
{
    lab_mutex mu;
    lab_cond cv;
    lab_mutex_init(&mu, "mu");
    lab_cond_init(&cv);
    lab_mutex_lock(&mu);
    int64_t real0 = real_now_ms();
    int64_t deadline = lab_now_ms() + 100;
    while (lab_cond_wait_until(&cv, &mu, deadline))
        ;   /* nobody signals: only spurious wake-ups end a wait early */
    int64_t real_took = real_now_ms() - real0;
    lab_mutex_unlock(&mu);
    cr_assert_geq(real_took, 300, "a 100 ms timed wait took %lld real ms, expected at least 300",
                  (long long)real_took);
    cr_assert_geq(lab_now_ms(), deadline);
    lab_cond_destroy(&cv);
    lab_mutex_destroy(&mu);
}

Test(time_dilation, unset_or_invalid_means_real_time)
{
    unsetenv("LAB_TIME_DILATION");
    cr_assert_eq(lab_time_dilation(), 1);
}

Test(time_dilation, garbage_is_ignored)
{
    setenv("LAB_TIME_DILATION", "fast", 1);
    cr_assert_eq(lab_time_dilation(), 1);
}

/*
 * test_sim_detect.c: what the simulation finds at once that real time
 * finds late or never: a cycle of threads waiting for one another's
 * mutexes, every thread blocked with no timer pending (a lost wake-up, a
 * lock held across an apply-channel send), a thread looping without ever
 * reaching a scheduling point, and a thread outside the simulation trying
 * to block in it. Each test's hook checks the report and exits 42, the
 * test's expected exit code; any other end fails it.
 */
#include <criterion/criterion.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "applych/applych.h"
#include "checks/unit/test_sim_helpers.h"
#include "lab/fatal.h"
#include "lab/sim.h"
#include "lab/sync.h"

TestSuite(sim_detect, .timeout = 30);

static const char *const *expected_words;

/* Exits 42 when message has every expected word, else 43 (with the message). */
static void exit_if_it_says_all(const char *message)
{
    bool good = true;
    for (const char *const *w = expected_words; *w && good; w++)
        good = strstr(message, *w) != NULL;
    if (!good)
        fprintf(stderr, "unexpected report: %s\n", message);
    fflush(stderr);
    _exit(good ? 42 : 43);
}

static void expect_deadlock(const char *const *words)
{
    expected_words = words;
    lab_sim_set_deadlock_hook(exit_if_it_says_all);
}

/* ---- a two-lock cycle ---------------------------------------------------------- */

typedef struct two_locks {
    lab_mutex a, b;
} two_locks;

static void *lock_b_then_a(void *arg)
{
    two_locks *l = arg;
    lab_mutex_lock(&l->b);
    lab_sleep_ms(10);   /* by now the main thread holds a */
    lab_mutex_lock(&l->a);
    lab_mutex_unlock(&l->a);
    lab_mutex_unlock(&l->b);
    return NULL;
}

/* Catches: a lock-order inversion found only by a watchdog seconds later,
 * or reported without who holds what. The other thread's timer (a sleeper)
 * must not hide it. */
static void *sleep_forever(void *arg)
{
    (void)arg;
    for (;;)
        lab_sleep_ms(1000);
    return NULL;
}

Test(sim_detect, two_lock_cycle_is_a_deadlock_at_once, .exit_code = 42)
{
    static const char *const words[] = {"deadlock: ", "'main' waits for mutex 'b' held by 'inverter'",
                                         "'inverter' waits for mutex 'a' held by 'main'", NULL};
    expect_deadlock(words);
    sim_test_start(11);
    two_locks l;
    lab_mutex_init(&l.a, "a");
    lab_mutex_init(&l.b, "b");
    lab_thread timer, inverter;
    lab_thread_create(&timer, "ticker", sleep_forever, NULL);
    lab_thread_create(&inverter, "inverter", lock_b_then_a, &l);
    lab_sleep_ms(5);    /* the inverter holds b */
    lab_mutex_lock(&l.a);
    int64_t t0 = lab_now_ms();
    lab_mutex_lock(&l.b);
    fprintf(stderr, "not detected (%lld ms)\n", (long long)(lab_now_ms() - t0));
    exit(44);
}

/* ---- a join that closes a cycle ---------------------------------------------------- */

static lab_mutex kill_mu;

static void *ticker_wanting_the_lock(void *arg)
{
    (void)arg;
    lab_sleep_ms(10);          /* by now the killer holds the lock */
    lab_mutex_lock(&kill_mu);
    lab_mutex_unlock(&kill_mu);
    return NULL;
}

/* Catches: raft_kill joining its ticker while holding the lock the ticker
 * needs to see that it was killed (a join is a wait-for edge too). */
Test(sim_detect, joining_a_thread_that_waits_for_our_lock_is_a_deadlock, .exit_code = 42)
{
    static const char *const words[] = {"deadlock: ", "'main' joins 'ticker'",
                                        "'ticker' waits for mutex 'rf->mu' held by 'main'", NULL};
    expect_deadlock(words);
    sim_test_start(16);
    lab_mutex_init(&kill_mu, "rf->mu");
    lab_thread timer, t;
    lab_thread_create(&timer, "sleeper", sleep_forever, NULL);   /* a timer: not all blocked */
    lab_thread_create(&t, "ticker", ticker_wanting_the_lock, NULL);
    lab_mutex_lock(&kill_mu);
    lab_thread_join(&t);
    exit(44);
}

/* ---- every thread blocked, no timer ------------------------------------------------ */

typedef struct lost {
    lab_mutex mu;
    lab_cond cv;
} lost;

static void *wait_without_a_predicate(void *arg)
{
    lost *l = arg;
    lab_sleep_ms(10);   /* the signal comes before the wait: it is lost */
    lab_mutex_lock(&l->mu);
    lab_cond_wait(&l->cv, &l->mu);
    lab_mutex_unlock(&l->mu);
    return NULL;
}

/* Catches: a lost wake-up (a wait with no predicate loop, after the signal)
 * that real time reports only as a timeout, without naming the waiter. */
Test(sim_detect, lost_wake_up_is_a_deadlock_at_once, .exit_code = 42)
{
    static const char *const words[] = {"deadlock: every thread is blocked and no timer is pending",
                                        "'waiter' waits on a condition variable with mutex 'lost'",
                                        "'main' joins 'waiter'", NULL};
    expect_deadlock(words);
    sim_test_start(12);
    lost l;
    lab_mutex_init(&l.mu, "lost");
    lab_cond_init(&l.cv);
    lab_thread t;
    lab_thread_create(&t, "waiter", wait_without_a_predicate, &l);
    lab_mutex_lock(&l.mu);
    lab_cond_signal(&l.cv);
    lab_mutex_unlock(&l.mu);
    lab_thread_join(&t);
    exit(44);
}

/* ---- a lock held across an apply-channel send ------------------------------------------ */

typedef struct service {
    lab_mutex mu;      /* the Raft's lock */
    applych *ch;
} service;

/* The Raft's applier: holds its lock while it sends, the classic bug. */
static void *applier_holding_the_lock(void *arg)
{
    service *s = arg;
    lab_mutex_lock(&s->mu);
    for (int index = 1; index <= 2; index++) {
        apply_msg m = {.command_valid = true, .command_index = index};
        applych_send(s->ch, &m);
    }
    lab_mutex_unlock(&s->mu);
    return NULL;
}

/* The service: after the first message it calls back into Raft
 * (raft_snapshot), which needs the lock the sender holds. */
static void *service_calling_back(void *arg)
{
    service *s = arg;
    apply_msg m;
    applych_receive(s->ch, &m);
    apply_msg_free(&m);
    lab_mutex_lock(&s->mu);
    lab_mutex_unlock(&s->mu);
    applych_receive(s->ch, &m);
    apply_msg_free(&m);
    return NULL;
}

/* Catches: the apply-channel deadlock of design section 3 left to a
 * 10-second watchdog, or found only once every thread is blocked: a sleeper
 * keeps a timer pending, as a Raft's ticker does, and must not hide the
 * cycle. The report names the sender, what it is doing and whom it waits
 * for. */
Test(sim_detect, lock_held_across_an_apply_channel_send_is_a_deadlock, .exit_code = 42)
{
    static const char *const words[] = {"deadlock: ", "'receiver' waits for mutex 'rf->mu' held by 'sender'",
                                        "'sender' waits on a condition variable with mutex 'applych->mu' "
                                        "(blocked sending on the apply channel, which only 'receiver' can end)",
                                        NULL};
    expect_deadlock(words);
    sim_test_start(13);
    service s;
    lab_mutex_init(&s.mu, "rf->mu");
    s.ch = applych_make();
    lab_thread sender, receiver, sleeper;
    lab_thread_create(&sleeper, "sleeper", sleep_forever, NULL);
    lab_thread_create(&sender, "sender", applier_holding_the_lock, &s);
    lab_thread_create(&receiver, "receiver", service_calling_back, &s);
    lab_thread_join(&receiver);
    exit(44);
}

/* ---- a thread that never reaches a scheduling point --------------------------------- */

static void exit_if_spinner(pthread_t thread, const char *name, double seconds)
{
    (void)thread;
    bool good = strcmp(name, "spinner") == 0 && seconds >= 1.0;
    if (!good)
        fprintf(stderr, "stall reported for '%s' after %.1f s\n", name, seconds);
    fflush(stderr);
    _exit(good ? 42 : 43);
}

static void *spin_forever(void *arg)
{
    volatile uint64_t *n = arg;
    for (;;)
        (*n)++;
    return NULL;
}

/* Catches: an infinite loop that no virtual-time limit can see (time only
 * moves at scheduling points) hanging the run until an outer timeout. */
Test(sim_detect, a_thread_that_never_yields_is_reported_by_name, .exit_code = 42)
{
    lab_sim_set_stall_hook(exit_if_spinner);
    sim_test_start_with(LAB_SIM_RANDOM, 14, 1.0);
    static volatile uint64_t n;
    lab_thread t;
    int64_t real0 = real_now_ms();
    lab_thread_create(&t, "spinner", spin_forever, (void *)&n);
    lab_thread_join(&t);
    fprintf(stderr, "the join returned after %lld ms\n", (long long)(real_now_ms() - real0));
    exit(44);
}

/* ---- a thread outside the simulation --------------------------------------------------- */

static void exit_if_outsider_named(const char *message)
{
    static const char *const words[] = {"'main' is not a thread of the simulation",
                                        "lock a mutex", NULL};
    expected_words = words;
    exit_if_it_says_all(message);
}

static lab_mutex shared;

static void *outsider_locking(void *arg)
{
    (void)arg;
    lab_mutex_lock(&shared);   /* fatal: it cannot take part in the schedule */
    return NULL;
}

/* Catches: a thread the simulation does not schedule (Criterion's, a raw
 * pthread) racing with the simulated ones on a lab mutex. */
Test(sim_detect, a_thread_outside_the_simulation_may_not_block_in_it, .exit_code = 42)
{
    lab_set_fatal_hook(exit_if_outsider_named);
    lab_mutex_init(&shared, "shared");
    sim_test_start(15);
    pthread_t outsider;
    pthread_create(&outsider, NULL, outsider_locking, NULL);
    pthread_join(outsider, NULL);
    exit(44);
}

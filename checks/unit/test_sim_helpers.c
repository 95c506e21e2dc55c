/*
 * test_sim_helpers.c: see test_sim_helpers.h.
 */
#include "checks/unit/test_sim_helpers.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "lab/sync.h"

void sim_test_start_with(lab_sim_strategy strategy, uint64_t seed, double stall_seconds)
{
    lab_sim_options o = lab_sim_default_options(0);
    o.seed = seed;
    o.strategy = strategy;
    o.stall_seconds = stall_seconds;
    lab_sim_start(&o);
}

void sim_test_start(uint64_t seed)
{
    sim_test_start_with(LAB_SIM_RANDOM, seed, 5);
}

int64_t real_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

typedef struct program {
    lab_mutex mu;
    lab_cond cv;
    char trace[SIM_TRACE_MAX];   /* mu */
    size_t len;                  /* mu */
    int items;                   /* mu: produced, not consumed */
} program;

typedef struct actor {
    program *p;
    char letter;
} actor;

static void note(program *p, char c)
{
    if (p->len + 1 < sizeof p->trace)
        p->trace[p->len++] = c;
}

/* Producers add items and note their letter; the consumer waits for items. */
static void *producer_main(void *arg)
{
    actor *a = arg;
    program *p = a->p;
    for (int k = 0; k < 6; k++) {
        lab_mutex_lock(&p->mu);
        note(p, a->letter);
        p->items++;
        lab_cond_signal(&p->cv);
        lab_mutex_unlock(&p->mu);
        if (k % 2 == 1)
            lab_sleep_ms(1);
    }
    return NULL;
}

static void *consumer_main(void *arg)
{
    actor *a = arg;
    program *p = a->p;
    for (int k = 0; k < 18; k++) {
        lab_mutex_lock(&p->mu);
        while (p->items == 0)
            lab_cond_wait(&p->cv, &p->mu);
        p->items--;
        note(p, a->letter);
        lab_mutex_unlock(&p->mu);
    }
    return NULL;
}

uint64_t sim_test_run_program(lab_sim_strategy strategy, uint64_t seed, char *trace)
{
    sim_test_start_with(strategy, seed, 5);
    program p = {0};
    lab_mutex_init(&p.mu, "program");
    lab_cond_init(&p.cv);
    actor actors[4] = {{&p, 'a'}, {&p, 'b'}, {&p, 'c'}, {&p, 'z'}};
    lab_thread t[4];
    for (int i = 0; i < 3; i++)
        lab_thread_create(&t[i], "producer", producer_main, &actors[i]);
    lab_thread_create(&t[3], "consumer", consumer_main, &actors[3]);
    for (int i = 0; i < 4; i++)
        lab_thread_join(&t[i]);
    lab_cond_destroy(&p.cv);
    lab_mutex_destroy(&p.mu);
    snprintf(trace, SIM_TRACE_MAX, "%.*s", (int)p.len, p.trace);
    uint64_t digest = lab_sim_digest();
    lab_sim_stop();
    return digest;
}

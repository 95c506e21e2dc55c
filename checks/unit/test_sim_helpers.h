/*
 * test_sim_helpers.h: what the simulation scheduler's tests share: starting
 * a simulation with a fixed seed, real time, and a small multi-threaded
 * program whose trace shows the interleaving a seed chose.
 */
#ifndef TESTS_UNIT_TEST_SIM_HELPERS_H
#define TESTS_UNIT_TEST_SIM_HELPERS_H

#include <stdint.h>

#include "lab/sim.h"

enum { SIM_TRACE_MAX = 512 };

/* Starts a simulation on the calling thread: uniform random choice, seed,
 * the stall watchdog at 5 s, pinned. */
void sim_test_start(uint64_t seed);
/* The same with a strategy and a stall limit. */
void sim_test_start_with(lab_sim_strategy strategy, uint64_t seed, double stall_seconds);
int64_t real_now_ms(void);   /* CLOCK_MONOTONIC, not the lab layer's clock */
/* Runs a program of four threads (a mutex, a condition variable, sleeps)
 * in a simulation of its own and stops it; the order in which the threads
 * got the mutex goes into trace (SIM_TRACE_MAX bytes); returns the
 * scheduler's digest. */
uint64_t sim_test_run_program(lab_sim_strategy strategy, uint64_t seed, char *trace);

#endif

/*
 * hang_dump.h: what every thread is doing when a test hangs. First a table
 * from the lab layer's records (each thread's name, the mutex it waits for
 * and who holds it), any deadlock cycle among them, then every thread's
 * stack: by attaching gdb where it is installed and allowed to attach (on
 * Linux the process first allows it, so Ubuntu's ptrace restriction to
 * descendants does not stop it), otherwise from inside the process, each
 * thread interrupted by a signal and asked for its own backtrace.
 * LAB_HANG_DUMP=inprocess skips gdb; LAB_HANG_DUMP=none prints the table only.
 */
#ifndef TESTS_SUPPORT_HANG_DUMP_H
#define TESTS_SUPPORT_HANG_DUMP_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

void hang_dump_init(void);   /* once, early: installs the stack-capture signal handler */
void hang_dump(int fd);

/* One line on what the thread is blocked on, e.g. "waits for mutex 'rf->mu',
 * held by 'S1 ticker' (running)"; "" if the thread is not registered. */
void hang_describe_thread(pthread_t thread, char *out, size_t cap);

/* A cycle of threads each waiting for a mutex the next one holds, as one
 * line; false if there is none. */
bool hang_find_deadlock(char *out, size_t cap);

#endif

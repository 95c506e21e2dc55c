/*
 * backtrace.h: one thread's stack, symbolised to "function at file:line"
 * where the tools allow (addr2line on Linux, atos on macOS; the dynamic
 * symbol table otherwise). Everything but backtrace_init is
 * async-signal-safe in practice, so a crash handler can use it: it formats
 * by hand, and runs the symboliser with fork and execve.
 */
#ifndef TESTS_SUPPORT_BACKTRACE_H
#define TESTS_SUPPORT_BACKTRACE_H

#include <stdbool.h>
#include <stddef.h>

enum { BACKTRACE_MAX_FRAMES = 48 };

/* Once, before any use from a signal handler: finds the executable and the
 * symboliser, and warms up backtrace() (its first call may allocate). */
void backtrace_init(void);

/* The full path of an executable found on $PATH, into out; false if none. */
bool backtrace_find_program(const char *name, char *out, size_t n);

/* The working directory with a trailing '/' ("" if unknown), which reports
 * cut from file names; set by backtrace_init. */
const char *backtrace_cwd_prefix(void);

/* The calling thread's return addresses; skips the first skip frames. */
int backtrace_capture(void **frames, int max, int skip);

/* Writes "    #k function at file:line" per frame to fd. If first_user is
 * not NULL, it receives where it happened, as "function (file:line)": the
 * first frame outside the framework (so, in the Raft), else the first
 * outside the reporting code; "" if none is known. */
void backtrace_print(int fd, void *const *frames, int n, char *first_user, size_t first_user_len);

/* A small async-signal-safe string builder for the reports. */
typedef struct sbuf {
    char *buf;
    size_t cap, len;
} sbuf;

void sbuf_str(sbuf *b, const char *s);
void sbuf_hex(sbuf *b, unsigned long long x);
void sbuf_dec(sbuf *b, long long x);
void sbuf_write(int fd, const char *s);   /* the whole string, retrying short writes */

#endif

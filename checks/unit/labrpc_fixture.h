/*
 * labrpc_fixture.h: a "junk" server for the labrpc tests, after the
 * original's JunkServer: a few handlers with known replies, a log of what
 * ran, and a slow handler that a test can release.
 */
#ifndef TESTS_UNIT_LABRPC_FIXTURE_H
#define TESTS_UNIT_LABRPC_FIXTURE_H

#include <stdbool.h>
#include <stdint.h>

#include "lab/sync.h"
#include "labrpc/labrpc.h"

typedef struct junk {
    lab_mutex mu;
    lab_cond released_cv;
    bool released;        /* guarded by mu: lets Junk.Slow return early */
    int log_count;        /* guarded by mu: handler runs */
    int slow_running;     /* guarded by mu */
} junk;

/* Junk.Atoi (string -> int), Junk.Greet (int N -> "handler2-N"),
 * Junk.Slow (sleeps 20 s unless released -> int 0), Junk.Length (string ->
 * its length), Junk.Ys (int N -> N 'y's). */
labrpc_server *junk_server(junk *j);
void junk_init(junk *j);
void junk_release(junk *j);     /* ends every Junk.Slow early */
void junk_destroy(junk *j);
int junk_log_count(junk *j);
int junk_slow_running(junk *j);

/* One-value calls. */
bool call_greet(labrpc_end *e, int n, char **reply_out);
bool call_atoi(labrpc_end *e, const char *s, int *reply_out);

#endif

/*
 * debug.h: debug printing for Raft code.
 *
 *     DPRINTF(VOTE, rf->me, "granting vote to S%d in term %d", cand, term);
 *
 * prints, when the environment variable VERBOSE is set (to 1 or more):
 *
 *     001234 VOTE S2 granting vote to S0 in term 3
 *
 * i.e. milliseconds since the program started, the topic, the server, the
 * message, one line each, flushed at once so lines from all threads and from
 * the harness interleave in time order. Pipe the output through tools/raftlog
 * to get a column per server. DPRINTF2 prints only when VERBOSE >= 2, for
 * chatty topics such as heartbeats.
 *
 * Topics are bare words; by convention: TIMER VOTE LEAD TERM LOG APPEND
 * COMMIT APPLY PERSIST SNAP DROP TEST (TEST is the harness's own).
 *
 * A failing test's timeline page (README "Seeing a run") shows every DPRINTF
 * line beside the servers' lanes, with or without VERBOSE: while a run
 * records one, DPRINTF lines are recorded (and printed only with VERBOSE).
 * DANNOTATE marks a moment on your server's lane of that page, with a label:
 *
 *     DANNOTATE(rf->me, "became leader of term %d", rf->current_term);
 *
 * It is a DPRINTF with the topic MARK (printed with VERBOSE like any other).
 *
 * UNUSED(a, b, ...) marks parameters, variables or static functions that
 * unfinished code does not use yet, so that it compiles with -Werror; the
 * skeleton has one per function you fill in. Delete it once you use them.
 */
#ifndef LAB_DEBUG_H
#define LAB_DEBUG_H

/* The level DPRINTF lines are taken at: VERBOSE as a number (read once; 0 if
 * unset), but at least 1 while the run records a timeline (lab/trace.h). */
int debug_verbosity(void);
void debug_printf(const char *topic, int me, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define DPRINTF(topic, me, ...)                                  \
    do {                                                         \
        if (debug_verbosity() >= 1)                              \
            debug_printf(#topic, (me), __VA_ARGS__);             \
    } while (0)

#define DPRINTF2(topic, me, ...)                                 \
    do {                                                         \
        if (debug_verbosity() >= 2)                              \
            debug_printf(#topic, (me), __VA_ARGS__);             \
    } while (0)

#define DANNOTATE(me, ...) DPRINTF(MARK, me, __VA_ARGS__)

/* Passing them to a function that ignores them is a use that no compiler
 * warns about, and costs nothing once inlined. */
static inline void unused_(int ignored, ...)
{
    (void)ignored;
}
#define UNUSED(...) unused_(0, __VA_ARGS__)

#endif

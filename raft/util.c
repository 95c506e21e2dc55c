/*
 * util.c: debug printing for Raft code (see util.h for the line format).
 *
 * VERBOSE is read once, by whichever thread asks first; that moment is also
 * time zero for the timestamps. Each line is formatted into one buffer and
 * written with one fwrite and an fflush under a lock, so lines from different
 * threads never mix mid-line and appear at once, in time order.
 */
#include "raft/util.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lab/fatal.h"
#include "lab/sync.h"

enum { INIT_NONE, INIT_BUSY, INIT_DONE };

static atomic_int init_state = INIT_NONE;   /* INIT_DONE publishes the fields below */
static int verbosity;                       /* written once, before INIT_DONE */
static int64_t start_ms;                    /* written once, before INIT_DONE */
static lab_mutex print_mu;                  /* serialises writes to stdout */

static int parse_verbosity(const char *s)
{
    if (s == NULL || *s == '\0')
        return 0;
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s)           /* VERBOSE=yes or similar: treat as 1 */
        return 1;
    if (v < 0)
        return 0;
    return v > 1000 ? 1000 : (int)v;
}

/*
 * Runs the initialisation exactly once. A lab_mutex cannot be initialised
 * statically, so the once is built from an atomic: the thread that moves the
 * state from NONE to BUSY initialises; any thread that loses that race sleeps
 * in 1 ms steps until DONE (this can only happen at the very first call).
 */
static void debug_init(void)
{
    if (atomic_load_explicit(&init_state, memory_order_acquire) == INIT_DONE)
        return;
    int expected = INIT_NONE;
    if (atomic_compare_exchange_strong(&init_state, &expected, INIT_BUSY)) {
        start_ms = lab_now_ms();
        verbosity = parse_verbosity(getenv("VERBOSE"));
        lab_mutex_init(&print_mu, "debug_printf");
        atomic_store_explicit(&init_state, INIT_DONE, memory_order_release);
        return;
    }
    while (atomic_load_explicit(&init_state, memory_order_acquire) != INIT_DONE)
        lab_sleep_ms(1);
}

int debug_verbosity(void)
{
    debug_init();
    return verbosity;
}

static void write_line(const char *line, size_t len)
{
    lab_mutex_lock(&print_mu);
    fwrite(line, 1, len, stdout);
    fflush(stdout);
    lab_mutex_unlock(&print_mu);
}

void debug_printf(const char *topic, int me, const char *fmt, ...)
{
    debug_init();
    long long ms = (long long)(lab_now_ms() - start_ms);

    char small[512];
    int prefix = snprintf(small, sizeof small, "%06lld %-7s S%d ", ms, topic, me);
    if (prefix < 0 || (size_t)prefix >= sizeof small)
        lab_fatal("debug_printf: topic too long: %.40s...", topic);

    va_list ap;
    va_start(ap, fmt);
    int body = vsnprintf(small + prefix, sizeof small - (size_t)prefix, fmt, ap);
    va_end(ap);
    if (body < 0)
        lab_fatal("debug_printf: bad format \"%s\"", fmt);

    size_t len = (size_t)prefix + (size_t)body;   /* without the newline */
    if (len < sizeof small) {          /* it all fit; the newline replaces the NUL */
        small[len] = '\n';
        write_line(small, len + 1);
        return;
    }

    /* A long message: format it again into a buffer of the right size. */
    char *big = lab_malloc(len + 2);
    memcpy(big, small, (size_t)prefix);
    va_start(ap, fmt);
    vsnprintf(big + prefix, (size_t)body + 1, fmt, ap);
    va_end(ap);
    big[len] = '\n';
    write_line(big, len + 1);
    free(big);
}

/*
 * debug.c: debug printing for Raft code (see debug.h for the line format).
 *
 * VERBOSE is read once, by whichever thread asks first; that moment is also
 * time zero for the timestamps. Each line is stamped, formatted into one
 * buffer and written with one fwrite and an fflush, all under one lock, so
 * lines from different threads never mix mid-line and appear at once, with
 * timestamps in order. While a timeline is recorded (lab/trace.h), each
 * line also goes to the recorder, printed or not.
 */
#include "lab/debug.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lab/fatal.h"
#include "lab/sim.h"
#include "lab/sync.h"
#include "lab/trace.h"

static lab_once init_once = LAB_ONCE_INIT;
static int verbosity;                       /* written once, by debug_init_once */
static int64_t start_ms;                    /* written once, by debug_init_once */
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

static void debug_init_once(void)
{
    start_ms = lab_now_ms();
    verbosity = parse_verbosity(getenv("VERBOSE"));
    lab_mutex_init(&print_mu, "debug_printf");
}

static void debug_init(void)
{
    lab_once_run(&init_once, debug_init_once);
}

int debug_verbosity(void)
{
    debug_init();
    return verbosity == 0 && lab_trace_on() ? 1 : verbosity;
}

/* The message alone (no prefix), for the timeline. */
static void record_line(const char *topic, int me, const char *fmt, va_list ap)
{
    char small[512];
    int len = vsnprintf(small, sizeof small, fmt, ap);
    if (len < 0)
        return;
    if ((size_t)len >= sizeof small)   /* a longer line is cut: the page is no place for dumps */
        len = (int)sizeof small - 1;
    lab_trace_event e = lab_trace_blank(strcmp(topic, "MARK") == 0 ? LAB_TRACE_MARK : LAB_TRACE_LOG);
    e.server = (int16_t)(me >= 0 && me < INT16_MAX ? me : -1);
    e.name = (int16_t)lab_trace_name_id(topic);
    e.text = lab_trace_copy_text(small, (size_t)len);
    lab_trace_record(&e);
}

/*
 * Formats "<ms> <topic> S<me> <message>\n" ("S*" for a line about no one
 * server, me < 0: the tester's) and writes it with one fwrite.
 * Caller holds print_mu, so that the clock is read in the same order as the
 * lines are written: timestamps in the output never go backwards.
 */
static void print_line(const char *topic, int me, const char *fmt, va_list ap)
{
    assert(lab_mutex_held_by_me(&print_mu));
    long long ms = (long long)(lab_now_ms() - start_ms);

    char small[512];
    /* At most 20 + 1 + 64 + 2 + 11 + 1 bytes: the prefix always fits. */
    int prefix = me >= 0 ? snprintf(small, sizeof small, "%06lld %-7.64s S%d ", ms, topic, me)
                         : snprintf(small, sizeof small, "%06lld %-7.64s S* ", ms, topic);
    assert(prefix > 0 && (size_t)prefix < sizeof small / 2);

    va_list again;
    va_copy(again, ap);
    int body = vsnprintf(small + prefix, sizeof small - (size_t)prefix, fmt, ap);
    if (body < 0)       /* an encoding error; not worth a fatal under the lock */
        body = snprintf(small + prefix, sizeof small - (size_t)prefix,
                        "(unprintable message: \"%.100s\")", fmt);

    size_t len = (size_t)prefix + (size_t)body;   /* without the newline */
    char *line = small;
    if (len >= sizeof small) {      /* too long: format again at the right size */
        line = lab_malloc(len + 1);
        memcpy(line, small, (size_t)prefix);
        vsnprintf(line + prefix, (size_t)body + 1, fmt, again);
    }
    va_end(again);
    line[len] = '\n';               /* replaces the terminating NUL */
    fwrite(line, 1, len + 1, stdout);
    fflush(stdout);
    if (line != small)
        free(line);
}

void debug_printf(const char *topic, int me, const char *fmt, ...)
{
    debug_init();
    va_list ap;
    va_start(ap, fmt);
    /* Simulation (lab/sim.h): printing is no scheduling point, so that a run
     * replayed with VERBOSE=1 is the very run that failed without it. */
    lab_sim_invisible_begin();
    if (lab_trace_on()) {
        va_list again;
        va_copy(again, ap);
        record_line(topic, me, fmt, again);
        va_end(again);
    }
    if (verbosity >= 1) {
        lab_mutex_lock(&print_mu);
        print_line(topic, me, fmt, ap);
        lab_mutex_unlock(&print_mu);
    }
    lab_sim_invisible_end();
    va_end(ap);
}

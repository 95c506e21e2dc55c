/*
 * trace.c: the recorder behind lab/trace.h. Events live in chunks that are
 * allocated as the run needs them and never move or go away, so a reader
 * (the page writer, perhaps in a crash handler) can walk them while writers
 * append. A writer takes a slot with one atomic increment, fills it, then
 * marks it complete; a reader skips slots not yet complete.
 */
#include "lab/trace.h"

#include <stdlib.h>
#include <string.h>

#include "lab/sim.h"
#include "lab/sync.h"

enum {
    CHUNK_EVENTS = 1 << 14,
    MAX_CHUNKS = (int)(LAB_TRACE_MAX_EVENTS / CHUNK_EVENTS),
    MAX_NAMES = 128,
    NAME_LEN = 48,
};

typedef struct trace_slot {
    lab_trace_event event;
    atomic_int complete;
} trace_slot;

atomic_bool lab_trace_enabled_;
static _Atomic int64_t start_us;
static atomic_size_t slots_taken;
static atomic_size_t dropped;
static atomic_size_t text_bytes;
static _Atomic(trace_slot *) chunks[MAX_CHUNKS];

typedef struct trace_name {
    char text[NAME_LEN];
    atomic_int complete;
} trace_name;
static trace_name names[MAX_NAMES];
static atomic_int names_taken;

/* The clock of lab/sync.h, read without a scheduling point in simulation
 * (recording must change nothing in the run) and without a lock anywhere
 * (a crash handler reads it): the virtual clock is an atomic. */
static int64_t clock_us(void)
{
    if (lab_sim_active())
        return LAB_SIM_EPOCH_US + lab_sim_elapsed_us();
    return lab_now_us();
}

void lab_trace_enable(void)
{
    if (lab_trace_on())
        return;
    atomic_store(&start_us, clock_us());
    atomic_store(&lab_trace_enabled_, true);
}

int64_t lab_trace_now(void)
{
    return clock_us() - atomic_load_explicit(&start_us, memory_order_relaxed);
}

lab_trace_event lab_trace_blank(lab_trace_kind kind)
{
    lab_trace_event e = {
        .t0 = lab_trace_now(), .t1 = -1, .t2 = -1, .t3 = -1,
        .a = -1, .b = -1, .c = -1, .d = -1,
        .kind = (int16_t)kind, .server = -1, .peer = -1, .name = -1, .text = NULL,
    };
    return e;
}

/* The chunk holding slot i, allocated by the first writer to need it. */
static trace_slot *chunk_for(size_t i)
{
    size_t k = i / CHUNK_EVENTS;
    trace_slot *chunk = atomic_load_explicit(&chunks[k], memory_order_acquire);
    if (chunk)
        return chunk;
    trace_slot *fresh = calloc(CHUNK_EVENTS, sizeof *fresh);
    if (fresh == NULL)
        return NULL;
    trace_slot *expected = NULL;
    if (atomic_compare_exchange_strong_explicit(&chunks[k], &expected, fresh, memory_order_acq_rel,
                                                memory_order_acquire))
        return fresh;
    free(fresh);   /* another writer's came first */
    return expected;
}

void lab_trace_record(const lab_trace_event *e)
{
    if (!lab_trace_on())
        return;
    size_t i = atomic_fetch_add_explicit(&slots_taken, 1, memory_order_relaxed);
    trace_slot *chunk = i < (size_t)LAB_TRACE_MAX_EVENTS ? chunk_for(i) : NULL;
    if (chunk == NULL) {
        atomic_fetch_add_explicit(&dropped, 1, memory_order_relaxed);
        return;
    }
    trace_slot *s = &chunk[i % CHUNK_EVENTS];
    s->event = *e;
    atomic_store_explicit(&s->complete, 1, memory_order_release);
}

const char *lab_trace_copy_text(const char *s, size_t len)
{
    size_t used = atomic_fetch_add_explicit(&text_bytes, len + 1, memory_order_relaxed);
    if (used + len + 1 > (size_t)LAB_TRACE_MAX_TEXT)
        return NULL;
    char *copy = malloc(len + 1);
    if (copy == NULL)
        return NULL;
    memcpy(copy, s, len);
    copy[len] = '\0';
    return copy;
}

int lab_trace_name_id(const char *name)
{
    if (strlen(name) >= NAME_LEN)
        return -1;
    int taken = atomic_load_explicit(&names_taken, memory_order_acquire);
    if (taken > MAX_NAMES)
        taken = MAX_NAMES;
    for (int k = 0; k < taken; k++)
        if (atomic_load_explicit(&names[k].complete, memory_order_acquire) &&
            names[k].text[0] == name[0] && strcmp(names[k].text, name) == 0)
            return k;
    /* New (or being added by another thread at this moment: then it gets two
     * numbers, which the page shows as one name). */
    int k = atomic_fetch_add_explicit(&names_taken, 1, memory_order_acq_rel);
    if (k >= MAX_NAMES)
        return -1;
    memcpy(names[k].text, name, strlen(name) + 1);
    atomic_store_explicit(&names[k].complete, 1, memory_order_release);
    return k;
}

size_t lab_trace_count(void)
{
    size_t n = atomic_load_explicit(&slots_taken, memory_order_acquire);
    return n < (size_t)LAB_TRACE_MAX_EVENTS ? n : (size_t)LAB_TRACE_MAX_EVENTS;
}

const lab_trace_event *lab_trace_at(size_t i)
{
    if (i >= (size_t)LAB_TRACE_MAX_EVENTS)
        return NULL;
    trace_slot *chunk = atomic_load_explicit(&chunks[i / CHUNK_EVENTS], memory_order_acquire);
    if (chunk == NULL)
        return NULL;
    trace_slot *s = &chunk[i % CHUNK_EVENTS];
    return atomic_load_explicit(&s->complete, memory_order_acquire) ? &s->event : NULL;
}

size_t lab_trace_dropped(void)
{
    return atomic_load_explicit(&dropped, memory_order_relaxed);
}

int lab_trace_name_count(void)
{
    int n = atomic_load_explicit(&names_taken, memory_order_acquire);
    return n < MAX_NAMES ? n : MAX_NAMES;
}

const char *lab_trace_name(int id)
{
    if (id < 0 || id >= MAX_NAMES || !atomic_load_explicit(&names[id].complete, memory_order_acquire))
        return NULL;
    return names[id].text;
}

const char *lab_trace_kind_name(lab_trace_kind kind)
{
    static const char *const kind_names[LAB_TRACE_KINDS] = {
        "call", "log", "mark", "connect", "disconnect", "crash", "restart", "start",
        "apply", "apply_snapshot", "snapshot", "state", "check", "network", "test",
    };
    return kind >= 0 && kind < LAB_TRACE_KINDS ? kind_names[kind] : "?";
}

const char *lab_trace_fate_name(lab_trace_fate fate)
{
    static const char *const fate_names[LAB_TRACE_FATES] = {
        "replied", "request_dropped", "reply_dropped", "unreachable", "cut", "aborted",
    };
    return fate >= 0 && fate < LAB_TRACE_FATES ? fate_names[fate] : "?";
}

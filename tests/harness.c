/*
 * harness.c: the Raft tester's "config" (see harness.h), a port of 6.824's
 * raft/config.go with the same helpers, numbers and messages. Where C needs
 * more than Go (no garbage collector, no t.Fatalf from any goroutine), the
 * comments say what and why.
 *
 * Locking. h->mu guards the fields marked "mu" below; it is a leaf with
 * respect to Raft (never held across a call into Raft, the network or the
 * apply channel), so appliers and tester threads can always take it. The
 * fields marked "main" belong to the test's main thread, the only thread
 * that starts, crashes, connects or disconnects servers.
 */
#include "tests/harness.h"

#include <assert.h>
#include <criterion/criterion.h>
#include <criterion/hooks.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lab/fatal.h"
#include "lab/rand.h"
#include "lab/sync.h"
#include "labrpc/codec.h"
#include "labrpc/labrpc.h"
#include "persister/persister.h"
#include "raft/applych.h"
#include "raft/raft.h"
#include "raft/util.h"
#include "tests/support/test_support.h"

enum {
    END_NAME_LEN = 20,       /* the original's randstring(20) */
    REASON_LEN = 640,
    MAX_SANE_INDEX = 10 * 1000 * 1000,  /* a larger applied index is garbage */
};

/* One command as the tester saw server i apply it. */
typedef struct applied {
    uint8_t *cmd;
    size_t len;
    bool present;
} applied;

typedef struct slot {
    /* mu: */
    raft *rf;              /* the instance testers may call; NULL once crashing */
    int refs;              /* tester threads inside a call on rf */
    bool connected;
    applied *log;          /* log[index]: what this server applied there */
    int log_cap;
    int last_applied;      /* the snapshot applier's */
    /* main: */
    raft *instance;        /* alive until raft_kill, even after rf is NULL */
    applych *ch;
    lab_thread applier;
    bool has_applier;
    persister *saved;
    char (*end_names)[END_NAME_LEN + 1];   /* [j]: this server's end to server j */
    labrpc_end **ends;
    bool has_ends;
    char name[16];         /* the server's name on the network: its index */
} slot;

struct harness {
    int n;
    bool snapshot;         /* the snapshot applier (2D) */
    labrpc_network *net;
    uint64_t seed;
    int64_t make_ms;       /* for the 120-second limit */

    lab_mutex mu;
    lab_cond cv;           /* broadcast: a failure recorded, a slot's refs hit 0 */
    /* mu: */
    slot *slots;
    lab_rand rand;
    int max_index;         /* highest index applied by anyone */
    bool finished;
    bool failed;           /* a failure recorded off the main thread */
    char fail_class[16];
    char fail_reason[REASON_LEN];

    /* main: begin's baselines */
    int64_t t0_ms;
    int64_t rpcs0, bytes0;
    int max_index0;
};

typedef struct applier_arg {
    harness *h;
    int me;
    raft *rf;
    applych *ch;
} applier_arg;

/* ---- failure reporting --------------------------------------------------- */

/* One test per process, so these are per test. */
static _Thread_local bool on_main_thread;   /* the thread that made the harness */
static atomic_int failure_reported;         /* a FAIL line is out: print no other */
static atomic_int test_running;             /* from make until cleanup or failure */
static char test_name[256];                 /* "suite/test" */
static uint64_t current_seed;
static char timeout_line[512];              /* preformatted for the signal handler */
static size_t timeout_line_len;
static struct sigaction previous_sigprof;

static void print_fail_line(const char *cls, const char *reason)
{
    if (atomic_exchange(&failure_reported, 1))
        return;
    printf("FAIL %s: %s: %s\nseed: %" PRIu64 "\n", cls, test_name, reason, current_seed);
    fflush(stdout);
}

/* Main thread only: report and fail the test through Criterion. */
static _Noreturn void raise_failure(const char *cls, const char *reason)
{
    assert(on_main_thread);
    atomic_store(&test_running, 0);
    print_fail_line(cls, reason);
    DPRINTF(TEST, -1, "FAIL %s: %s", cls, reason);
    cr_assert_fail("%s", reason);
    abort();   /* not reached: cr_assert_fail leaves the test */
}

static void format_reason(char *buf, size_t n, const char *fmt, va_list ap)
{
    vsnprintf(buf, n, fmt, ap);
    size_t len = strlen(buf);   /* one line: drop a trailing newline (Go's messages have some) */
    while (len > 0 && buf[len - 1] == '\n')
        buf[--len] = '\0';
}

void harness_fail(harness *h, const char *cls, const char *fmt, ...)
{
    char reason[REASON_LEN];
    va_list ap;
    va_start(ap, fmt);
    format_reason(reason, sizeof reason, fmt, ap);
    va_end(ap);

    if (on_main_thread)
        raise_failure(cls, reason);

    /* Another thread: only the main thread may leave a Criterion test, so
     * record the first failure and wake the main thread's sleep. */
    DPRINTF(TEST, -1, "failure on %s: %s", lab_thread_name(), reason);
    lab_mutex_lock(&h->mu);
    if (!h->failed) {
        h->failed = true;
        snprintf(h->fail_class, sizeof h->fail_class, "%s", cls);
        snprintf(h->fail_reason, sizeof h->fail_reason, "%s", reason);
        lab_cond_broadcast(&h->cv);
    }
    lab_mutex_unlock(&h->mu);
}

bool harness_has_failed(harness *h)
{
    lab_mutex_lock(&h->mu);
    bool failed = h->failed;
    lab_mutex_unlock(&h->mu);
    return failed;
}

/* Main thread: raise what another thread recorded; enforce the time limit. */
void harness_check(harness *h)
{
    assert(on_main_thread);
    char cls[16], reason[REASON_LEN];
    lab_mutex_lock(&h->mu);
    bool failed = h->failed;
    if (failed) {
        memcpy(cls, h->fail_class, sizeof cls);
        memcpy(reason, h->fail_reason, sizeof reason);
    }
    lab_mutex_unlock(&h->mu);
    if (failed)
        raise_failure(cls, reason);
    if (lab_now_ms() - h->make_ms > HARNESS_TEST_LIMIT_S * 1000LL)
        raise_failure("PERF", "test took longer than 120 seconds");
}

/* Sleeps, but a recorded failure cuts it short: the main thread raises it
 * within moments instead of after a long sleep; another thread gets false
 * and should stop. */
bool harness_sleep(harness *h, int64_t ms)
{
    int64_t deadline = lab_now_ms() + ms;
    lab_mutex_lock(&h->mu);
    while (!h->failed && lab_now_ms() < deadline)
        lab_cond_wait_until(&h->cv, &h->mu, deadline);
    bool failed = h->failed;
    lab_mutex_unlock(&h->mu);
    if (on_main_thread)
        harness_check(h);
    return !failed;
}

/* Criterion's per-test timeout arrives as SIGPROF: say so in our format, then
 * let whatever handled it before (a stack dump, or the default) go on. */
static void on_sigprof(int sig, siginfo_t *info, void *context)
{
    if (atomic_load(&test_running) && !atomic_exchange(&failure_reported, 1)) {
        ssize_t ignored = write(STDOUT_FILENO, timeout_line, timeout_line_len);
        (void)ignored;
    }
    if (previous_sigprof.sa_flags & SA_SIGINFO) {
        previous_sigprof.sa_sigaction(sig, info, context);
    } else if (previous_sigprof.sa_handler != SIG_DFL && previous_sigprof.sa_handler != SIG_IGN) {
        previous_sigprof.sa_handler(sig);
    }
    signal(SIGPROF, SIG_DFL);
    raise(SIGPROF);
}

/* Criterion counts an exit(0) in the middle of a test as a pass; a Raft that
 * calls exit must fail the test instead. */
static void on_exit_during_test(void)
{
    if (!atomic_load(&test_running))
        return;
    print_fail_line("CRASH", "the process exited before the test finished");
    _exit(1);
}

static void on_lab_fatal(const char *message)
{
    if (atomic_load(&test_running)) {
        char reason[REASON_LEN];
        snprintf(reason, sizeof reason, "fatal: %s", message);
        print_fail_line("CRASH", reason);
    }
    /* returning lets lab_fatal abort */
}

static void install_process_hooks(void)
{
    static bool installed;
    if (installed)
        return;
    installed = true;
    atexit(on_exit_during_test);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_sigprof;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGPROF, &sa, &previous_sigprof);
}

/* ---- random choices ------------------------------------------------------- */

static const char name_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

uint64_t harness_rand(harness *h, uint64_t bound)
{
    lab_mutex_lock(&h->mu);
    uint64_t x = lab_rand_below(&h->rand, bound);
    lab_mutex_unlock(&h->mu);
    return x;
}

int64_t harness_rand_int(harness *h)
{
    lab_mutex_lock(&h->mu);
    int64_t x = (int64_t)(lab_rand_next(&h->rand) >> 1);
    lab_mutex_unlock(&h->mu);
    return x;
}

void harness_rand_string(harness *h, char *buf, size_t n)
{
    lab_mutex_lock(&h->mu);
    for (size_t k = 0; k < n; k++)
        buf[k] = name_alphabet[lab_rand_below(&h->rand, 64)];
    buf[n] = '\0';
    lab_mutex_unlock(&h->mu);
}

/* ---- commands --------------------------------------------------------------- */

static void encode_int(codec_buffer *b, int64_t cmd)
{
    codec_buffer_init(b);
    codec_put_int64(b, cmd);
}

static bool decode_int(const uint8_t *cmd, size_t len, int64_t *v)
{
    codec_decoder d;
    codec_decoder_init(&d, cmd, len);
    int64_t x = 0;
    codec_get_int64(&d, &x);
    if (!codec_decoder_done(&d))
        return false;
    *v = x;
    return true;
}

/* A command as Go's %v would show it: the number, or the string (cut short). */
static void format_command(char *buf, size_t n, const uint8_t *cmd, size_t len)
{
    int64_t v;
    if (decode_int(cmd, len, &v)) {
        snprintf(buf, n, "%" PRId64, v);
        return;
    }
    codec_decoder d;
    codec_decoder_init(&d, cmd, len);
    const uint8_t *s;
    size_t slen;
    if (codec_get_bytes_view(&d, &s, &slen) && codec_decoder_done(&d)) {
        if (slen <= 40)
            snprintf(buf, n, "%.*s", (int)slen, (const char *)s);
        else
            snprintf(buf, n, "%.40s...(%zu chars)", (const char *)s, slen);
        return;
    }
    snprintf(buf, n, "<%zu bytes>", len);
}

/* ---- the tester's view of applied commands --------------------------------- */

/* mu held. */
static applied *log_at(harness *h, int i, int index)
{
    slot *s = &h->slots[i];
    if (index < 0 || index >= s->log_cap)
        return NULL;
    return s->log[index].present ? &s->log[index] : NULL;
}

/* mu held. */
static void log_set(harness *h, int i, int index, const uint8_t *cmd, size_t len)
{
    slot *s = &h->slots[i];
    assert(index >= 0 && index < MAX_SANE_INDEX);
    if (index >= s->log_cap) {
        int cap = s->log_cap ? s->log_cap : 64;
        while (cap <= index)
            cap *= 2;
        s->log = lab_realloc(s->log, (unsigned long)cap * sizeof *s->log);
        memset(s->log + s->log_cap, 0, (size_t)(cap - s->log_cap) * sizeof *s->log);
        s->log_cap = cap;
    }
    applied *a = &s->log[index];
    free(a->cmd);
    a->cmd = lab_malloc(len);
    memcpy(a->cmd, cmd, len);
    a->len = len;
    a->present = true;
}

/* mu held. */
static void log_clear(harness *h, int i)
{
    slot *s = &h->slots[i];
    for (int k = 0; k < s->log_cap; k++)
        free(s->log[k].cmd);
    free(s->log);
    s->log = NULL;
    s->log_cap = 0;
}

static bool same_command(const applied *a, const uint8_t *cmd, size_t len)
{
    return a->len == len && memcmp(a->cmd, cmd, len) == 0;
}

/*
 * config.go's checkLogs, mu held: record that server i applied cmd at index,
 * and complain (into err) if any server applied something else there.
 * Returns whether server i had applied index-1 ("prevok").
 */
static bool check_logs(harness *h, int i, int index, const uint8_t *cmd, size_t len,
                       char *err, size_t errlen)
{
    if (index < 1 || index >= MAX_SANE_INDEX)
        return false;   /* the caller reports it as out of order */
    for (int j = 0; j < h->n; j++) {
        applied *old = log_at(h, j, index);
        if (old && !same_command(old, cmd, len)) {
            char a[80], b[80];
            format_command(a, sizeof a, cmd, len);
            format_command(b, sizeof b, old->cmd, old->len);
            /* some server has already committed a different value here */
            snprintf(err, errlen, "commit index=%d server=%d %s != server=%d %s",
                     index, i, a, j, b);
        }
    }
    bool prevok = log_at(h, i, index - 1) != NULL;
    log_set(h, i, index, cmd, len);
    if (index > h->max_index)
        h->max_index = index;
    return prevok;
}

/*
 * A snapshot as the tester's service makes it: the index, then the list of
 * commands 0..index (element 0, like every index never applied, is an
 * absent placeholder: a flag, then the bytes when present). mu held.
 */
static void encode_snapshot(harness *h, int i, int index, codec_buffer *b)
{
    codec_buffer_init(b);
    codec_put_int(b, index);
    codec_put_int(b, index + 1);
    for (int k = 0; k <= index; k++) {
        applied *a = k > 0 ? log_at(h, i, k) : NULL;
        codec_put_bool(b, a != NULL);
        if (a)
            codec_put_bytes(b, a->cmd, a->len);
    }
}

/*
 * config.go's ingestSnap, mu held: replace server i's applied commands by a
 * snapshot's. index is the snapshot message's index, or -1 on restart.
 * Returns false with err set if the snapshot is unusable.
 */
static bool ingest_snapshot(harness *h, int i, const uint8_t *data, size_t len, int index,
                            char *err, size_t errlen)
{
    if (data == NULL || len == 0) {
        snprintf(err, errlen, "nil snapshot");
        return false;
    }
    codec_decoder d;
    codec_decoder_init(&d, data, len);
    int last_included = 0, count = 0;
    codec_get_int(&d, &last_included);
    codec_get_int(&d, &count);
    if (!codec_decoder_ok(&d) || last_included < 0 || last_included >= MAX_SANE_INDEX
        || count < 0 || (size_t)count > len || count >= MAX_SANE_INDEX) {
        snprintf(err, errlen, "snapshot decode error");
        return false;
    }
    applied *entries = lab_calloc((unsigned long)count + 1, sizeof *entries);
    for (int k = 0; k < count && codec_decoder_ok(&d); k++) {
        bool present = false;
        codec_get_bool(&d, &present);
        if (present && codec_get_bytes(&d, &entries[k].cmd, &entries[k].len))
            entries[k].present = true;
    }
    bool ok = codec_decoder_done(&d);
    if (ok && index != -1 && index != last_included) {
        snprintf(err, errlen, "server %d snapshot doesn't match m.SnapshotIndex", i);
        ok = false;
    } else if (!ok) {
        snprintf(err, errlen, "snapshot decode error");
    }
    if (ok) {
        log_clear(h, i);
        for (int k = 1; k < count; k++)
            if (entries[k].present)
                log_set(h, i, k, entries[k].cmd, entries[k].len);
        h->slots[i].last_applied = last_included;
    }
    for (int k = 0; k < count; k++)
        free(entries[k].cmd);
    free(entries);
    return ok;
}

/* ---- appliers ------------------------------------------------------------------ */

/*
 * The applier threads receive what server i applies and check it against
 * every other server's history: the heart of the tester's safety checks.
 * On an error they record it and keep reading, so that the Raft never
 * blocks on its apply channel because the tester stopped listening.
 * They exit when crash closes the channel.
 */
static void apply_command(harness *h, int i, const apply_msg *m, char *err, size_t errlen)
{
    lab_mutex_lock(&h->mu);
    bool prevok = check_logs(h, i, m->command_index, m->command, m->command_len, err, errlen);
    lab_mutex_unlock(&h->mu);
    if (m->command_index < 1 || m->command_index >= MAX_SANE_INDEX
        || (m->command_index > 1 && !prevok))
        snprintf(err, errlen, "server %d apply out of order %d", i, m->command_index);
}

static void *applier_main(void *p)
{
    applier_arg *a = p;
    harness *h = a->h;
    apply_msg m;
    while (applych_receive(a->ch, &m)) {
        char err[REASON_LEN] = "";
        if (m.command_valid)
            apply_command(h, a->me, &m, err, sizeof err);
        /* other kinds of message are ignored, as in the original */
        if (err[0])
            harness_fail(h, "SAFETY", "%s", err);
        apply_msg_free(&m);
    }
    free(a);
    return NULL;
}

/*
 * The 2D applier: commands must come exactly in order after the last one
 * (or the last snapshot); every SNAPSHOT_INTERVAL commands it hands Raft a
 * snapshot, synchronously, from this thread, while Raft may be trying to
 * send it the next message. A Raft that holds its lock while sending on
 * the apply channel, and takes it in raft_snapshot, deadlocks here, exactly
 * as in the original: that is a lesson, not a harness bug.
 */
static void *snapshot_applier_main(void *p)
{
    applier_arg *a = p;
    harness *h = a->h;
    int i = a->me;
    apply_msg m;
    while (applych_receive(a->ch, &m)) {
        char err[REASON_LEN] = "";
        if (m.snapshot_valid) {
            lab_mutex_lock(&h->mu);
            ingest_snapshot(h, i, m.snapshot, m.snapshot_len, m.snapshot_index, err, sizeof err);
            lab_mutex_unlock(&h->mu);
        } else if (m.command_valid) {
            lab_mutex_lock(&h->mu);
            int expected = h->slots[i].last_applied + 1;
            lab_mutex_unlock(&h->mu);
            if (m.command_index != expected)
                snprintf(err, sizeof err, "server %d apply out of order, expected index %d, got %d",
                         i, expected, m.command_index);
            else
                apply_command(h, i, &m, err, sizeof err);

            codec_buffer snap = CODEC_BUFFER_INIT;
            bool take = m.command_index >= 0 && m.command_index < MAX_SANE_INDEX
                        && (m.command_index + 1) % HARNESS_SNAPSHOT_INTERVAL == 0;
            lab_mutex_lock(&h->mu);
            h->slots[i].last_applied = m.command_index;
            if (take)
                encode_snapshot(h, i, m.command_index, &snap);
            lab_mutex_unlock(&h->mu);
            if (take) {
                DPRINTF(TEST, i, "snapshot through %d (%zu bytes)", m.command_index, snap.len);
                raft_snapshot(a->rf, m.command_index, snap.data, snap.len);
            }
            codec_buffer_free(&snap);
        }
        if (err[0])
            harness_fail(h, "SAFETY", "%s", err);
        apply_msg_free(&m);
    }
    free(a);
    return NULL;
}

/* ---- calls into a Raft ---------------------------------------------------------- */

/*
 * A tester thread that calls into server i's Raft holds a reference on the
 * slot for the duration of the call, and crash waits for the references to
 * drop before raft_kill. In Go a Start racing with Kill is harmless (the GC
 * keeps the Raft alive); in C it would be a use after free.
 */
static raft *slot_acquire(harness *h, int i, bool only_if_connected)
{
    assert(i >= 0 && i < h->n);
    lab_mutex_lock(&h->mu);
    slot *s = &h->slots[i];
    raft *rf = s->rf;
    if (rf && only_if_connected && !s->connected)
        rf = NULL;
    if (rf)
        s->refs++;
    lab_mutex_unlock(&h->mu);
    return rf;
}

static void slot_release(harness *h, int i)
{
    lab_mutex_lock(&h->mu);
    slot *s = &h->slots[i];
    assert(s->refs > 0);
    if (--s->refs == 0)
        lab_cond_broadcast(&h->cv);
    lab_mutex_unlock(&h->mu);
}

static bool start_on(harness *h, int i, bool only_if_connected, const void *cmd, size_t len,
                     int *index, int *term)
{
    int idx = -1, t = -1;
    bool ok = false;
    raft *rf = slot_acquire(h, i, only_if_connected);
    if (rf) {
        ok = raft_start(rf, cmd, len, &idx, &t);
        slot_release(h, i);
    }
    if (index)
        *index = idx;
    if (term)
        *term = t;
    return ok;
}

bool harness_raft_start_bytes(harness *h, int i, const void *cmd, size_t len, int *index, int *term)
{
    return start_on(h, i, false, cmd, len, index, term);
}

bool harness_raft_start(harness *h, int i, int64_t cmd, int *index, int *term)
{
    codec_buffer b;
    encode_int(&b, cmd);
    bool ok = start_on(h, i, false, b.data, b.len, index, term);
    codec_buffer_free(&b);
    return ok;
}

bool harness_raft_get_state(harness *h, int i, int *term, bool *is_leader)
{
    int t = -1;
    bool leader = false;
    raft *rf = slot_acquire(h, i, false);
    if (rf) {
        raft_get_state(rf, &t, &leader);
        slot_release(h, i);
    }
    if (term)
        *term = t;
    if (is_leader)
        *is_leader = leader;
    return rf != NULL;
}

bool harness_is_alive(harness *h, int i)
{
    lab_mutex_lock(&h->mu);
    bool alive = h->slots[i].rf != NULL;
    lab_mutex_unlock(&h->mu);
    return alive;
}

bool harness_is_connected(harness *h, int i)
{
    lab_mutex_lock(&h->mu);
    bool c = h->slots[i].connected;
    lab_mutex_unlock(&h->mu);
    return c;
}

/* ---- the network: connect, disconnect ------------------------------------------ */

/* Enable or disable server i's ends to, and the ends from, every server in
 * peers (an array of n flags). Main thread; mu not held. */
static void enable_links(harness *h, int i, const bool *peers, bool on)
{
    for (int j = 0; j < h->n; j++) {
        if (!peers[j])
            continue;
        if (h->slots[i].has_ends)
            labrpc_network_enable(h->net, h->slots[i].end_names[j], on);
        if (h->slots[j].has_ends)
            labrpc_network_enable(h->net, h->slots[j].end_names[i], on);
    }
}

void harness_connect(harness *h, int i)
{
    assert(on_main_thread);
    DPRINTF(TEST, i, "connect");
    bool peers[h->n];
    lab_mutex_lock(&h->mu);
    h->slots[i].connected = true;
    for (int j = 0; j < h->n; j++)
        peers[j] = h->slots[j].connected;
    lab_mutex_unlock(&h->mu);
    enable_links(h, i, peers, true);
}

void harness_disconnect(harness *h, int i)
{
    assert(on_main_thread);
    DPRINTF(TEST, i, "disconnect");
    bool peers[h->n];
    lab_mutex_lock(&h->mu);
    h->slots[i].connected = false;
    lab_mutex_unlock(&h->mu);
    for (int j = 0; j < h->n; j++)
        peers[j] = true;
    enable_links(h, i, peers, false);
}

/* ---- crash and start -------------------------------------------------------------- */

/*
 * Crash server i, so that it can be restarted from its persisted state.
 * The order is the whole point; each step makes the next one safe and quick:
 *
 *  1. Withdraw the instance from tester threads (rf = NULL) and disconnect.
 *  2. Delete its server: no new handler starts on it and callers waiting on
 *     it are released. Deleting the server before kill is what keeps a
 *     handler from running on a freed Raft.
 *  3. Retire its outgoing ends: its threads sleeping out a simulated delay
 *     (up to 7 s with long delays) return at once, so kill is quick.
 *  4. Close its apply channel: a Raft thread blocked sending (perhaps
 *     holding the Raft lock, which a handler waits for) is released.
 *  5. Wait for the server's running handlers to return (they may have needed
 *     steps 3 and 4 to get the Raft lock).
 *  6. Wait for tester threads still inside raft_start/raft_get_state.
 *  7. Join the applier: it leaves once the channel is closed, and it may be
 *     inside raft_snapshot, which needs the Raft alive.
 *  8. raft_kill: its threads exit and it frees itself; then free the channel.
 *  9. Give the slot a fresh persister holding a copy of what the instance
 *     saved, so a restart reads the last persisted state and nothing of the
 *     old instance can write to the new one's.
 *
 * The harness lock is never held while waiting in any of these steps: the
 * appliers need it, and a handler may be waiting for a Raft thread that
 * waits for an applier. (Waiting for references releases it as it waits.)
 */
void harness_crash_server(harness *h, int i)
{
    assert(on_main_thread);
    slot *s = &h->slots[i];
    DPRINTF(TEST, i, "crash");

    lab_mutex_lock(&h->mu);
    assert(s->rf == NULL || s->rf == s->instance);
    s->rf = NULL;
    lab_mutex_unlock(&h->mu);
    harness_disconnect(h, i);

    labrpc_server *srv = labrpc_network_delete_server(h->net, s->name);
    if (s->has_ends) {
        for (int j = 0; j < h->n; j++)
            labrpc_network_retire_end(h->net, s->end_names[j]);
        s->has_ends = false;
    }
    if (s->ch)
        applych_close(s->ch);
    if (srv)
        labrpc_server_wait_idle(srv);

    lab_mutex_lock(&h->mu);
    while (s->refs > 0)
        lab_cond_wait(&h->cv, &h->mu);
    lab_mutex_unlock(&h->mu);

    if (s->has_applier) {
        lab_thread_join(&s->applier);
        s->has_applier = false;
    }
    if (s->instance) {
        raft_kill(s->instance);
        s->instance = NULL;
    }
    if (s->ch) {
        applych_free(s->ch);
        s->ch = NULL;
    }
    if (s->saved) {
        persister *fresh = persister_copy(s->saved);
        persister_free(s->saved);
        s->saved = fresh;
    }
    /* A crashed slot has no Raft, no applier, no channel and no live ends. */
    assert(s->rf == NULL && s->instance == NULL && !s->has_applier && s->ch == NULL);
    assert(!s->has_ends && !s->connected);
}

/*
 * (Re)start server i: crash it, then a new instance on fresh ends (with
 * fresh random names, so the dead instance's ends stay dead) and the
 * persisted state. Its links stay disabled until connect.
 */
void harness_start_server(harness *h, int i)
{
    assert(on_main_thread);
    harness_crash_server(h, i);
    slot *s = &h->slots[i];
    DPRINTF(TEST, i, "start");

    for (int j = 0; j < h->n; j++) {
        harness_rand_string(h, s->end_names[j], END_NAME_LEN);
        s->ends[j] = labrpc_network_make_end(h->net, s->end_names[j]);
        labrpc_network_connect(h->net, s->end_names[j], h->slots[j].name);
    }
    s->has_ends = true;

    if (s->saved == NULL)
        s->saved = persister_make();
    /* Like a key/value server restoring itself, the tester ingests the
     * persisted snapshot before Raft starts: the first command Raft then
     * applies must be the one after the snapshot. */
    size_t snap_len = 0;
    uint8_t *snap = persister_read_snapshot(s->saved, &snap_len);
    char err[REASON_LEN] = "";
    bool ok = true;
    lab_mutex_lock(&h->mu);
    s->last_applied = 0;
    if (snap_len > 0)
        ok = ingest_snapshot(h, i, snap, snap_len, -1, err, sizeof err);
    lab_mutex_unlock(&h->mu);
    free(snap);
    if (!ok)
        harness_fail(h, "SAFETY", "%s", err);

    s->ch = applych_make();
    s->instance = raft_make(s->ends, h->n, i, s->saved, s->ch);
    if (s->instance == NULL)
        lab_fatal("raft_make returned NULL for server %d", i);
    lab_mutex_lock(&h->mu);
    s->rf = s->instance;
    lab_mutex_unlock(&h->mu);

    applier_arg *a = lab_malloc(sizeof *a);
    *a = (applier_arg){h, i, s->instance, s->ch};
    char tname[32];
    snprintf(tname, sizeof tname, "applier S%d", i);
    lab_thread_create(&s->applier, tname, h->snapshot ? snapshot_applier_main : applier_main, a);
    s->has_applier = true;

    labrpc_server *srv = labrpc_server_make();
    raft_register_service(s->instance, srv);
    labrpc_network_add_server(h->net, s->name, srv);
}

/* ---- make, begin, end, cleanup ---------------------------------------------------- */

harness *harness_make(int n, bool unreliable, bool snapshot)
{
    assert(n > 0);
    on_main_thread = true;
    current_seed = test_seed();
    const struct criterion_test *t = criterion_current_test;
    const struct criterion_suite *su = criterion_current_suite;
    snprintf(test_name, sizeof test_name, "%s/%s",
             su ? su->name : "?", t ? t->name : "?");
    int len = snprintf(timeout_line, sizeof timeout_line,
                       "FAIL PERF: %s: test took longer than %d seconds\nseed: %" PRIu64 "\n",
                       test_name, HARNESS_TEST_LIMIT_S, current_seed);
    timeout_line_len = len > 0 && (size_t)len < sizeof timeout_line ? (size_t)len : 0;
    install_process_hooks();
    lab_set_fatal_hook(on_lab_fatal);
    atomic_store(&failure_reported, 0);
    atomic_store(&test_running, 1);

    static bool warned;
    if (!warned && sysconf(_SC_NPROCESSORS_ONLN) < 2) {
        printf("warning: only one CPU, which may conceal locking bugs\n");
        fflush(stdout);
    }
    warned = true;

    harness *h = lab_calloc(1, sizeof *h);
    h->n = n;
    h->snapshot = snapshot;
    h->seed = current_seed;
    h->make_ms = lab_now_ms();
    lab_mutex_init(&h->mu, "harness->mu");
    lab_cond_init(&h->cv);
    /* One seed, separate streams: the network's choices do not shift when the
     * harness draws one more random number, and vice versa. */
    lab_rand_seed_labelled(&h->rand, h->seed, "harness");
    lab_rand net_seed;
    lab_rand_seed_labelled(&net_seed, h->seed, "labrpc");
    h->net = labrpc_network_make(lab_rand_next(&net_seed));

    h->slots = lab_calloc((unsigned long)n, sizeof *h->slots);
    for (int i = 0; i < n; i++) {
        slot *s = &h->slots[i];
        snprintf(s->name, sizeof s->name, "%d", i);
        s->end_names = lab_calloc((unsigned long)n, sizeof *s->end_names);
        s->ends = lab_calloc((unsigned long)n, sizeof *s->ends);
    }
    DPRINTF(TEST, -1, "make %d servers%s%s, seed %" PRIu64, n,
            unreliable ? ", unreliable" : "", snapshot ? ", snapshots" : "", h->seed);

    labrpc_network_set_reliable(h->net, !unreliable);
    /* Long delays on dead links (up to 7 s), so a leader that sends RPCs
     * synchronously, one stuck call holding up the others, fails. */
    labrpc_network_set_long_delays(h->net, true);
    for (int i = 0; i < n; i++)
        harness_start_server(h, i);
    for (int i = 0; i < n; i++)
        harness_connect(h, i);
    return h;
}

void harness_begin(harness *h, const char *description)
{
    assert(on_main_thread);
    printf("%s ...\n", description);
    fflush(stdout);
    DPRINTF(TEST, -1, "begin %s", description);
    h->t0_ms = lab_now_ms();
    h->rpcs0 = harness_rpc_total(h);
    h->bytes0 = harness_bytes_total(h);
    lab_mutex_lock(&h->mu);
    h->max_index0 = h->max_index;
    lab_mutex_unlock(&h->mu);
}

void harness_end(harness *h)
{
    harness_check(h);   /* a recorded failure, and the 120-second limit */
    double secs = (double)(lab_now_ms() - h->t0_ms) / 1000.0;
    int64_t rpcs = harness_rpc_total(h) - h->rpcs0;
    int64_t bytes = harness_bytes_total(h) - h->bytes0;
    lab_mutex_lock(&h->mu);
    int cmds = h->max_index - h->max_index0;
    lab_mutex_unlock(&h->mu);
    printf("  ... Passed --  %4.1f  %d %4" PRId64 " %7" PRId64 " %4d\n",
           secs, h->n, rpcs, bytes, cmds);
    fflush(stdout);
    DPRINTF(TEST, -1, "end");
}

/* Kill everything, free everything, then fail if anything went wrong late. */
void harness_cleanup(harness *h)
{
    assert(on_main_thread);
    DPRINTF(TEST, -1, "cleanup");
    lab_mutex_lock(&h->mu);
    h->finished = true;
    lab_mutex_unlock(&h->mu);
    for (int i = 0; i < h->n; i++)
        harness_crash_server(h, i);
    labrpc_network_cleanup(h->net);
    labrpc_network_destroy(h->net);

    /* Every other thread has gone; anything recorded late still fails. */
    char cls[16], reason[REASON_LEN];
    lab_mutex_lock(&h->mu);
    bool late_failure = h->failed;
    memcpy(cls, h->fail_class, sizeof cls);
    memcpy(reason, h->fail_reason, sizeof reason);
    lab_mutex_unlock(&h->mu);
    bool too_long = lab_now_ms() - h->make_ms > HARNESS_TEST_LIMIT_S * 1000LL;

    for (int i = 0; i < h->n; i++) {
        slot *s = &h->slots[i];
        assert(s->refs == 0 && s->instance == NULL && !s->has_applier);
        log_clear(h, i);
        persister_free(s->saved);
        free(s->end_names);
        free(s->ends);
    }
    free(h->slots);
    lab_cond_destroy(&h->cv);
    lab_mutex_destroy(&h->mu);
    free(h);

    if (late_failure)
        raise_failure(cls, reason);
    if (too_long)
        raise_failure("PERF", "test took longer than 120 seconds");
    atomic_store(&test_running, 0);
    lab_set_fatal_hook(NULL);
}

/* ---- checks --------------------------------------------------------------------------- */

/*
 * A leader among the connected servers: up to 10 rounds of a 450-549 ms
 * sleep then a poll (so about 5 s, the handout's "elect a new leader within
 * five seconds"). Two leaders in one term is a safety failure at once.
 */
int harness_check_one_leader(harness *h)
{
    int terms[h->n];
    bool leads[h->n];
    for (int iters = 0; iters < 10; iters++) {
        harness_sleep(h, 450 + (int64_t)harness_rand(h, 100));
        for (int i = 0; i < h->n; i++) {
            leads[i] = false;
            terms[i] = -1;
            if (harness_is_connected(h, i))
                harness_raft_get_state(h, i, &terms[i], &leads[i]);
        }
        int last_term_with_leader = -1, leader = -1;
        for (int i = 0; i < h->n; i++) {
            if (!leads[i])
                continue;
            int count = 0;
            for (int j = 0; j < h->n; j++)
                count += leads[j] && terms[j] == terms[i];
            if (count > 1)
                harness_fail(h, "SAFETY", "term %d has %d (>1) leaders", terms[i], count);
            if (terms[i] > last_term_with_leader) {
                last_term_with_leader = terms[i];
                leader = i;
            }
        }
        if (leader != -1) {
            DPRINTF(TEST, leader, "check_one_leader: leader in term %d", last_term_with_leader);
            return leader;
        }
    }
    harness_fail(h, "LIVENESS", "expected one leader, got none");
    return -1;
}

/* All connected servers agree on the term. */
int harness_check_terms(harness *h)
{
    harness_check(h);
    int term = -1;
    for (int i = 0; i < h->n; i++) {
        int xterm;
        bool leader;
        if (harness_is_connected(h, i) && harness_raft_get_state(h, i, &xterm, &leader)) {
            if (term == -1)
                term = xterm;
            else if (term != xterm)
                harness_fail(h, "LIVENESS", "servers disagree on term");
        }
    }
    DPRINTF(TEST, -1, "check_terms: term %d", term);
    return term;
}

/* No connected server thinks it leads (say, a lone server cut off). */
void harness_check_no_leader(harness *h)
{
    harness_check(h);
    for (int i = 0; i < h->n; i++) {
        int term;
        bool leader = false;
        if (harness_is_connected(h, i) && harness_raft_get_state(h, i, &term, &leader) && leader)
            harness_fail(h, "SAFETY",
                         "expected no leader among connected servers, but %d claims to be leader", i);
    }
    DPRINTF(TEST, -1, "check_no_leader: none");
}

/*
 * How many servers applied index, with a copy of the command in *cmd (may
 * be NULL). Committed values that differ are a safety failure. Returns -1
 * if a failure is recorded and the caller is not the main thread.
 */
static int committed(harness *h, int index, uint8_t **cmd, size_t *len)
{
    if (on_main_thread)
        harness_check(h);
    else if (harness_has_failed(h))
        return -1;
    char reason[REASON_LEN] = "";
    int count = 0;
    applied *first = NULL;
    lab_mutex_lock(&h->mu);
    for (int i = 0; i < h->n && !reason[0]; i++) {
        applied *a = log_at(h, i, index);
        if (!a)
            continue;
        if (first && !same_command(first, a->cmd, a->len)) {
            char x[80], y[80];
            format_command(x, sizeof x, first->cmd, first->len);
            format_command(y, sizeof y, a->cmd, a->len);
            snprintf(reason, sizeof reason, "committed values do not match: index %d, %s, %s",
                     index, x, y);
        }
        count++;
        first = first ? first : a;
    }
    if (cmd) {
        *cmd = NULL;
        *len = 0;
        if (first) {
            *cmd = lab_malloc(first->len);
            memcpy(*cmd, first->cmd, first->len);
            *len = first->len;
        }
    }
    lab_mutex_unlock(&h->mu);
    if (reason[0]) {
        if (cmd) {
            free(*cmd);
            *cmd = NULL;
        }
        harness_fail(h, "SAFETY", "%s", reason);
        return -1;
    }
    return count;
}

int harness_n_committed_bytes(harness *h, int index, uint8_t **cmd, size_t *len)
{
    return committed(h, index, cmd, len);
}

int harness_n_committed(harness *h, int index, int64_t *cmd)
{
    uint8_t *bytes = NULL;
    size_t len = 0;
    int count = committed(h, index, cmd ? &bytes : NULL, &len);
    if (cmd && bytes) {
        if (!decode_int(bytes, len, cmd))
            *cmd = HARNESS_NOT_INT;
    }
    free(bytes);
    return count;
}

/*
 * The workhorse: get cmd agreed by at least expected servers. For up to 10 s,
 * offer it to the connected servers in turn (from server 1, as the original)
 * until one accepts as leader, then poll every 20 ms for up to 2 s. With
 * retry, a leader that lost the command gets it again (so it may be
 * committed twice, as in the original).
 */
static int one(harness *h, const uint8_t *cmd, size_t len, int expected, bool retry)
{
    char shown[80];
    format_command(shown, sizeof shown, cmd, len);
    int64_t t0 = lab_now_ms();
    int starts = 0;
    for (;;) {
        lab_mutex_lock(&h->mu);
        bool finished = h->finished;
        lab_mutex_unlock(&h->mu);
        if (lab_now_ms() - t0 >= 10000 || finished)
            break;
        int index = -1;
        for (int si = 0; si < h->n; si++) {
            starts = (starts + 1) % h->n;
            int index1;
            if (start_on(h, starts, true, cmd, len, &index1, NULL)) {
                index = index1;
                break;
            }
        }
        if (index != -1) {
            /* somebody claimed to be the leader and to have submitted our
             * command; wait a while for agreement. */
            int64_t t1 = lab_now_ms();
            while (lab_now_ms() - t1 < 2000) {
                uint8_t *cmd1 = NULL;
                size_t len1 = 0;
                int nd = committed(h, index, &cmd1, &len1);
                if (nd < 0)
                    return -1;
                bool same = cmd1 && len1 == len && memcmp(cmd1, cmd, len) == 0;
                free(cmd1);
                if (nd > 0 && nd >= expected && same) {
                    DPRINTF(TEST, -1, "one(%s): agreed at index %d", shown, index);
                    return index;
                }
                if (!harness_sleep(h, 20))
                    return -1;
            }
            if (!retry) {
                harness_fail(h, "LIVENESS", "one(%s) failed to reach agreement", shown);
                return -1;
            }
        } else if (!harness_sleep(h, 50)) {
            return -1;
        }
    }
    lab_mutex_lock(&h->mu);
    bool finished = h->finished;
    lab_mutex_unlock(&h->mu);
    if (!finished)
        harness_fail(h, "LIVENESS", "one(%s) failed to reach agreement", shown);
    return -1;
}

int harness_one(harness *h, int64_t cmd, int expected, bool retry)
{
    codec_buffer b;
    encode_int(&b, cmd);
    int index = one(h, b.data, b.len, expected, retry);
    codec_buffer_free(&b);
    return index;
}

int harness_one_bytes(harness *h, const void *cmd, size_t len, int expected, bool retry)
{
    return one(h, cmd, len, expected, retry);
}

/*
 * Wait for at least n servers to apply index: 30 polls, sleeping 10 ms
 * doubling to 1.28 s. If start_term > -1 and some server has moved past it,
 * give up with -1: nothing is guaranteed once the term changed.
 */
int64_t harness_wait(harness *h, int index, int n, int start_term)
{
    int64_t to = 10;
    for (int iters = 0; iters < 30; iters++) {
        int nd = harness_n_committed(h, index, NULL);
        if (nd < 0)
            return -1;
        if (nd >= n)
            break;
        if (!harness_sleep(h, to))
            return -1;
        if (to < 1000)
            to *= 2;
        if (start_term > -1) {
            for (int i = 0; i < h->n; i++) {
                int t;
                bool leader;
                if (harness_raft_get_state(h, i, &t, &leader) && t > start_term)
                    return -1;   /* someone has moved on; can no longer guarantee we'll "win" */
            }
        }
    }
    int64_t cmd = 0;
    int nd = harness_n_committed(h, index, &cmd);
    if (nd < 0)
        return -1;
    if (nd < n) {
        harness_fail(h, "LIVENESS", "only %d decided for index %d; wanted %d", nd, index, n);
        return -1;
    }
    return cmd;
}

/* ---- statistics and settings ---------------------------------------------------------- */

int harness_log_size(harness *h)
{
    assert(on_main_thread);
    size_t most = 0;
    for (int i = 0; i < h->n; i++) {
        size_t size = persister_raft_state_size(h->slots[i].saved);
        if (size > most)
            most = size;
    }
    return (int)most;
}

int harness_rpc_count(harness *h, int i)
{
    return labrpc_network_server_count(h->net, h->slots[i].name);
}

int64_t harness_rpc_total(harness *h)
{
    return labrpc_network_total_count(h->net);
}

int64_t harness_bytes_total(harness *h)
{
    return labrpc_network_total_bytes(h->net);
}

void harness_set_unreliable(harness *h, bool unreliable)
{
    DPRINTF(TEST, -1, "network %s", unreliable ? "unreliable" : "reliable");
    labrpc_network_set_reliable(h->net, !unreliable);
}

void harness_set_long_reordering(harness *h, bool on)
{
    DPRINTF(TEST, -1, "long reordering %s", on ? "on" : "off");
    labrpc_network_set_long_reordering(h->net, on);
}

/* ---- one summary line per part, from the runner process ---------------------------------- */

/*
 * Criterion calls report hooks in the runner, which forks one process per
 * test and has reaped a suite's processes by POST_SUITE, so the CPU time of
 * the part is the growth of the children's CPU time. A suite whose tests
 * were all filtered out prints nothing.
 */
static int64_t part_start_ms;
static double part_start_cpu;

ReportHook(PRE_SUITE)(struct criterion_suite_set *set)
{
    (void)set;
    part_start_ms = lab_now_ms();
    part_start_cpu = lab_children_cpu_seconds();
}

ReportHook(POST_SUITE)(struct criterion_suite_stats *stats)
{
    if (stats->tests_passed + stats->tests_failed == 0)
        return;
    const char *part = stats->suite->name;
    if (strncmp(part, "raft", 4) == 0)
        part += 4;
    printf("%s: %zu passed, %zu failed in %.1f s wall, %.1f s CPU\n", part,
           stats->tests_passed, stats->tests_failed,
           (double)(lab_now_ms() - part_start_ms) / 1000.0,
           lab_children_cpu_seconds() - part_start_cpu);
    fflush(stdout);
}

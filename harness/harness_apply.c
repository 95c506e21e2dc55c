/*
 * harness_apply.c: the tester's side of the apply channel. An applier thread
 * per server receives what its Raft applies and checks it against what every
 * other server applied at the same index (the heart of Raft's safety); the
 * snapshot applier (2D) also makes a snapshot every 10 entries and hands it
 * back to Raft, synchronously, as a key/value service would.
 */
#include "harness/harness_internal.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lab/debug.h"
#include "lab/fatal.h"

/* ---- commands --------------------------------------------------------------- */

void harness_encode_int(codec_buffer *b, int64_t cmd)
{
    codec_buffer_init(b);
    codec_put_int64(b, cmd);
}

bool harness_decode_int(const uint8_t *cmd, size_t len, int64_t *v)
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
void harness_format_command(char *buf, size_t n, const uint8_t *cmd, size_t len)
{
    int64_t v;
    if (harness_decode_int(cmd, len, &v)) {
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
applied *harness_log_at(harness *h, int i, int index)
{
    assert(lab_mutex_held_by_me(&h->mu));
    slot *s = &h->slots[i];
    if (index < 0 || index >= s->log_cap)
        return NULL;
    return s->log[index].present ? &s->log[index] : NULL;
}

/* mu held. */
static void log_set(harness *h, int i, int index, const uint8_t *cmd, size_t len)
{
    assert(lab_mutex_held_by_me(&h->mu));
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
    a->cmd = lab_memdup(cmd, len);
    a->len = len;
    a->present = true;
}

/* mu held. */
void harness_log_clear(harness *h, int i)
{
    assert(lab_mutex_held_by_me(&h->mu));
    slot *s = &h->slots[i];
    for (int k = 0; k < s->log_cap; k++)
        free(s->log[k].cmd);
    free(s->log);
    s->log = NULL;
    s->log_cap = 0;
}

bool harness_same_command(const applied *a, const uint8_t *cmd, size_t len)
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
    assert(lab_mutex_held_by_me(&h->mu));
    if (index < 1 || index >= MAX_SANE_INDEX)
        return false;   /* the caller reports it as out of order */
    for (int j = 0; j < h->n; j++) {
        applied *old = harness_log_at(h, j, index);
        if (old && !harness_same_command(old, cmd, len)) {
            char a[80], b[80];
            harness_format_command(a, sizeof a, cmd, len);
            harness_format_command(b, sizeof b, old->cmd, old->len);
            /* some server has already committed a different value here */
            snprintf(err, errlen, "commit index=%d server=%d %s != server=%d %s",
                     index, i, a, j, b);
        }
    }
    bool prevok = harness_log_at(h, i, index - 1) != NULL;
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
    assert(lab_mutex_held_by_me(&h->mu));
    codec_buffer_init(b);
    codec_put_int(b, index);
    codec_put_int(b, index + 1);
    for (int k = 0; k <= index; k++) {
        applied *a = k > 0 ? harness_log_at(h, i, k) : NULL;
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
bool harness_ingest_snapshot(harness *h, int i, const uint8_t *data, size_t len, int index,
                            char *err, size_t errlen)
{
    assert(lab_mutex_held_by_me(&h->mu));
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
        harness_log_clear(h, i);
        for (int k = 1; k < count; k++)
            if (entries[k].present)
                log_set(h, i, k, entries[k].cmd, entries[k].len);
        h->slots[i].last_applied = last_included;
        if (index != -1)   /* delivered by this incarnation: its applies go on from here */
            h->slots[i].incarnation_applied = last_included;
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
    int index = m->command_index;
    lab_mutex_lock(&h->mu);
    bool prevok = check_logs(h, i, index, m->command, m->command_len, err, errlen);
    int last = h->slots[i].incarnation_applied;
    h->slots[i].incarnation_applied = index;
    lab_mutex_unlock(&h->mu);
    if (index < 1 || index >= MAX_SANE_INDEX || (index > 1 && !prevok))
        snprintf(err, errlen, "server %d apply out of order %d", i, index);
    /* Beyond the original, which only asks that index-1 was applied some
     * time: within one incarnation each index comes once, right after the
     * previous one. (A restarted server may begin again from its snapshot,
     * or from 1.) */
    else if (!err[0] && last >= 0 && index <= last)
        snprintf(err, errlen, "State Machine Safety: server %d applied index %d again, after index %d "
                 "(each index is applied once, in order)", i, index, last);
    else if (!err[0] && last >= 0 && index > last + 1)
        snprintf(err, errlen, "State Machine Safety: server %d applied index %d right after index %d, "
                 "skipping %d (each index is applied once, in order)", i, index, last, last + 1);
}

/* What the tester received, for the timeline. */
static void trace_apply(int i, const apply_msg *m)
{
    if (m->command_valid)
        harness_trace_command(LAB_TRACE_APPLY, i, m->command_index, -1, -1, m->command, m->command_len);
    else if (m->snapshot_valid)
        harness_trace_event(LAB_TRACE_APPLY_SNAPSHOT, i, m->snapshot_index, m->snapshot_term, -1, NULL);
}

void *harness_applier_main(void *p)
{
    applier_arg *a = p;
    harness *h = a->h;
    apply_msg m;
    while (applych_receive(a->ch, &m)) {
        char err[REASON_LEN] = "";
        trace_apply(a->me, &m);
        if (m.command_valid)
            apply_command(h, a->me, &m, err, sizeof err);
        /* other kinds of message are ignored, as in the original */
        if (err[0])
            harness_fail(h, CLASS_SAFETY, "%s", err);
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
void *harness_snapshot_applier_main(void *p)
{
    applier_arg *a = p;
    harness *h = a->h;
    int i = a->me;
    apply_msg m;
    while (applych_receive(a->ch, &m)) {
        char err[REASON_LEN] = "";
        trace_apply(i, &m);
        if (m.snapshot_valid) {
            lab_mutex_lock(&h->mu);
            int before = h->slots[i].last_applied;
            bool ok = harness_ingest_snapshot(h, i, m.snapshot, m.snapshot_len, m.snapshot_index, err, sizeof err);
            lab_mutex_unlock(&h->mu);
            /* Beyond the original: an older snapshot than what the service
             * has applied would take its state back. */
            if (ok && m.snapshot_index < before)
                snprintf(err, sizeof err, "State Machine Safety: server %d's Raft sent a snapshot through "
                         "index %d after index %d was applied: the service's state went back (a "
                         "snapshot older than what was applied must be ignored)", i, m.snapshot_index, before);
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
                harness_trace_event(LAB_TRACE_SNAPSHOT, i, m.command_index, (int)snap.len, -1, NULL);
                int w = harness_watch_enter("raft_snapshot", i);
                raft_snapshot(a->rf, m.command_index, snap.data, snap.len);
                harness_watch_leave(w);
            }
            codec_buffer_free(&snap);
        }
        if (err[0])
            harness_fail(h, CLASS_SAFETY, "%s", err);
        apply_msg_free(&m);
    }
    free(a);
    return NULL;
}


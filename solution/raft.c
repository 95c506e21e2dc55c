/*
 * raft.c: the reference solution (instructors only; not in the handout).
 *
 * One mutex, rf->mu, guards all of a Raft's state. Its threads:
 *
 *   ticker   starts an election when the election timer runs out; while
 *            leader, ships each batch of new entries when its window closes,
 *            and makes sure a peer still gets heartbeats when all of its
 *            lanes are stuck in calls.
 *   applier  hands committed entries and installed snapshots to the service,
 *            in order, with rf->mu released while it sends.
 *   lanes    per-peer sender threads. A lane sends one RPC at a time to its
 *            peer (RequestVote, AppendEntries or InstallSnapshot) and handles
 *            the reply. A peer normally has one lane; another is started (up
 *            to MAX_LANES) only when work is due and every lane is stuck in a
 *            call, which to an unreachable peer can take 7 seconds to fail.
 *
 * The RPC handlers run on the network's threads and take rf->mu briefly.
 * Nothing holds rf->mu across labrpc_call (it may take seconds) or across
 * applych_send (the service calls raft_snapshot from the thread that
 * receives from the apply channel: holding the lock there deadlocks).
 *
 * Beyond Figure 2, two extensions from Ongaro's thesis keep failover quick
 * without touching safety: pre-vote (9.6), so that a server cut off from the
 * others does not inflate its term and depose a working leader when it
 * rejoins; and a variant of check quorum (6.2): a leader that has not heard
 * from a majority lately turns commands away, as they would likely be lost.
 *
 * The log is kept in its codec encoding, so persisting it and shipping a
 * suffix of it in AppendEntries are plain copies.
 */
#include <assert.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lab/fatal.h"
#include "lab/rand.h"
#include "lab/sync.h"
#include "labrpc/codec.h"
#include "raft/raft.h"
#include "raft/util.h"

enum {
    HEARTBEAT_MS = 150,       /* the lab allows at most 10 per second; each
                                 one costs CPU at both ends */
    ELECTION_MIN_MS = 300,    /* two heartbeats: one lost is no failure */
    ELECTION_SPREAD_MS = 200, /* random part, so that split votes are rare */
    PREVOTE_LEASE_MS = 150,   /* a follower that heard its leader within a
                                 heartbeat refuses pre-votes */
    QUORUM_LEASE_MS = 300,    /* a leader that heard from no majority for this
                                 long refuses Start: the others may be
                                 electing a new leader */
    BATCH_MS = 12,            /* Starts within this window share one
                                 AppendEntries (group commit); well inside
                                 the tester's 20 ms polling, so agreement is
                                 seen no later than without it */
    RETRY_MS = 10,            /* after a failed call, before resending entries */
    MAX_LANES = 16,           /* sender threads per peer: a call to an
                                 unreachable peer fails after up to 7 s, and
                                 a lane freed meanwhile makes the next try */
    APPLY_BATCH = 256,        /* entries the applier copies per lock hold */
};
#define NEVER INT64_MAX

/* ------------------------------------------------------------------ */
/* The log                                                             */
/* ------------------------------------------------------------------ */

/* An entry's term, and where its encoding starts in raft_log.bytes. */
typedef struct log_slot {
    int term;
    size_t offset;
} log_slot;

/*
 * Entry i (base < i <= last) is slots[i - base]; its encoding, the pair
 * (term, command), sits at bytes.data + slots[i - base].offset, entries back
 * to back. slots[0] stands for the last entry the snapshot covers (index
 * base; 0 before any snapshot), whose term the consistency check needs.
 */
typedef struct raft_log {
    int base;
    int count;            /* slots in use, >= 1 */
    int cap;
    log_slot *slots;
    codec_buffer bytes;
} raft_log;

/* An entry on the wire, in the log and in the persisted state. */
static void entry_encode(codec_buffer *b, int term, const void *cmd, size_t len)
{
    codec_put_int(b, term);
    codec_put_bytes(b, cmd, len);
}

static bool entry_decode(codec_decoder *d, int *term, const uint8_t **cmd, size_t *len)
{
    return codec_get_int(d, term) && codec_get_bytes_view(d, cmd, len);
}

static void log_init(raft_log *l)
{
    l->base = 0;
    l->count = 1;
    l->cap = 16;
    l->slots = lab_malloc(l->cap * sizeof *l->slots);
    l->slots[0] = (log_slot){0, 0};
    codec_buffer_init(&l->bytes);
}

static void log_free(raft_log *l)
{
    free(l->slots);
    codec_buffer_free(&l->bytes);
}

static int log_last(const raft_log *l)
{
    return l->base + l->count - 1;
}

static int log_term(const raft_log *l, int index)
{
    assert(index >= l->base && index <= log_last(l));
    return l->slots[index - l->base].term;
}

/* Where entry index's encoding starts; for last + 1, where the log ends. */
static size_t log_offset(const raft_log *l, int index)
{
    assert(index > l->base && index <= log_last(l) + 1);
    return index > log_last(l) ? l->bytes.len : l->slots[index - l->base].offset;
}

/* Appends the encodings of entries from..to (none if to < from) to out. */
static void log_copy(const raft_log *l, int from, int to, codec_buffer *out)
{
    size_t start = log_offset(l, from), end = log_offset(l, to + 1);
    if (end > start)
        codec_buffer_append(out, l->bytes.data + start, end - start);
}

static void log_append(raft_log *l, int term, const void *cmd, size_t len)
{
    if (l->count == l->cap) {
        l->cap *= 2;
        l->slots = lab_realloc(l->slots, l->cap * sizeof *l->slots);
    }
    l->slots[l->count++] = (log_slot){term, l->bytes.len};
    entry_encode(&l->bytes, term, cmd, len);
}

/* Drops entry index and everything after it. */
static void log_truncate(raft_log *l, int index)
{
    assert(index > l->base && index <= log_last(l));
    l->bytes.len = l->slots[index - l->base].offset;
    l->count = index - l->base;
}

/* Empties the log; a snapshot now covers everything through base. */
static void log_reset(raft_log *l, int base, int base_term)
{
    l->base = base;
    l->count = 1;
    l->slots[0] = (log_slot){base_term, 0};
    l->bytes.len = 0;
}

/* Drops entries through index, which a snapshot now covers; keeps the rest. */
static void log_compact(raft_log *l, int index)
{
    assert(index > l->base && index <= log_last(l));
    int term = log_term(l, index);
    if (index == log_last(l)) {
        log_reset(l, index, term);
        return;
    }
    int drop = index - l->base;
    size_t cut = l->slots[drop + 1].offset;
    memmove(l->bytes.data, l->bytes.data + cut, l->bytes.len - cut);
    l->bytes.len -= cut;
    memmove(l->slots + 1, l->slots + drop + 1, (size_t)(l->count - drop - 1) * sizeof *l->slots);
    l->count -= drop;
    for (int i = 1; i < l->count; i++)
        l->slots[i].offset -= cut;
    l->base = index;
    l->slots[0] = (log_slot){term, 0};
}

/* ------------------------------------------------------------------ */
/* State                                                               */
/* ------------------------------------------------------------------ */

typedef enum { FOLLOWER, PRECANDIDATE, CANDIDATE, LEADER } raft_role;
static const char *const role_names[] = {"follower", "precandidate", "candidate", "leader"};

typedef enum { JOB_NONE, JOB_VOTE, JOB_APPEND, JOB_SNAPSHOT } lane_job;

/* What this server knows about one other server. All fields: rf->mu. */
typedef struct peer {
    raft *rf;                    /* read-only */
    int id;                      /* read-only */
    lab_cond work;               /* idle lanes wait here */
    lab_thread lanes[MAX_LANES];
    int nlanes;                  /* lanes started; never shrinks */
    int idle;                    /* lanes waiting on work */
    int64_t timed_until;         /* earliest deadline an idle lane waits for */

    int vote_round;              /* election_round of the last RequestVote */

    /* Leader state, reset by become_leader. */
    int next_index;
    int match_index;
    int commit_acked;            /* commit index the peer has been told */
    int appends_sent;            /* AppendEntries/InstallSnapshot calls */
    bool latest_pending;         /* the latest of them has not returned */
    int64_t last_append_ms;      /* when it was sent */
    bool failed;                 /* the last call got no reply: retry soon */
    int64_t retry_at_ms;         /* after a failure, no eager resend before */
    int64_t last_reply_ms;       /* its last reply in our term (check quorum) */
} peer;

struct raft {
    lab_mutex mu;

    /* Set by raft_make, then read-only. */
    int me;
    int npeers;
    labrpc_end **ends;
    persister *ps;
    applych *ch;
    lab_thread ticker;
    lab_thread applier;

    /* Everything below: rf->mu. */
    bool dead;

    /* Persistent (Figure 2), saved by persist() before any reply. */
    int current_term;
    int voted_for;               /* -1: none in current_term */
    raft_log log;
    uint8_t *snapshot;           /* covers the log through log.base */
    size_t snapshot_len;

    /* Volatile. */
    raft_role role;
    int election_round;          /* counts pre-vote and vote rounds */
    uint32_t votes;              /* who voted for us in current_term (a bit
                                    per server; ours included) */
    uint32_t prevotes;           /* who would vote for us in the next term */
    int64_t election_deadline_ms;
    int64_t leader_contact_ms;   /* last AppendEntries/InstallSnapshot accepted */
    int64_t batch_until_ms;      /* as leader: new entries wait until then */
    lab_rand rng;
    int commit_index;
    int last_applied;            /* written only by the applier */
    bool snapshot_pending;       /* an installed snapshot awaits the applier */
    bool apply_closed;           /* the apply channel was closed */
    lab_cond apply_cond;         /* applier waits: commit, snapshot, death */
    lab_cond ticker_cond;        /* ticker waits: its timer, death */
    peer *peers;                 /* peers[me] is unused */
    codec_buffer persist_buf;
};

static int min_int(int a, int b)
{
    return a < b ? a : b;
}

static int max_int(int a, int b)
{
    return a > b ? a : b;
}

static void *copy_bytes(const void *p, size_t n)
{
    void *c = lab_malloc(n ? n : 1);
    if (n)
        memcpy(c, p, n);
    return c;
}

/* ------------------------------------------------------------------ */
/* Persistence                                                         */
/* ------------------------------------------------------------------ */

/* Must hold rf->mu. Saves term, vote and log together with the current
 * snapshot: a save without it would erase the snapshot. */
static void persist(raft *rf)
{
    codec_buffer *b = &rf->persist_buf;
    codec_buffer_reset(b);
    codec_put_int(b, rf->current_term);
    codec_put_int(b, rf->voted_for);
    codec_put_int(b, rf->log.base);
    codec_put_int(b, log_term(&rf->log, rf->log.base));
    codec_put_int(b, rf->log.count - 1);
    log_copy(&rf->log, rf->log.base + 1, log_last(&rf->log), b);
    persister_save(rf->ps, b->data, b->len, rf->snapshot, rf->snapshot_len);
    DPRINTF2(PERSIST, rf->me, "saved term %d vote %d log %d..%d (%zu bytes)",
             rf->current_term, rf->voted_for, rf->log.base, log_last(&rf->log), b->len);
}

/* Called by raft_make, before any thread runs. A corrupt state is a
 * programming error: carrying on would silently lose the log. */
static void restore(raft *rf)
{
    rf->snapshot = persister_read_snapshot(rf->ps, &rf->snapshot_len);
    size_t len;
    uint8_t *state = persister_read_raft_state(rf->ps, &len);
    if (len > 0) {
        codec_decoder d;
        codec_decoder_init(&d, state, len);
        int base = 0, base_term = 0, n = 0;
        codec_get_int(&d, &rf->current_term);
        codec_get_int(&d, &rf->voted_for);
        codec_get_int(&d, &base);
        codec_get_int(&d, &base_term);
        codec_get_int(&d, &n);
        log_reset(&rf->log, base, base_term);
        for (int i = 0; i < n && codec_decoder_ok(&d); i++) {
            int term;
            const uint8_t *cmd;
            size_t cmd_len;
            if (entry_decode(&d, &term, &cmd, &cmd_len))
                log_append(&rf->log, term, cmd, cmd_len);
        }
        if (!codec_decoder_done(&d))
            lab_fatal("S%d: persisted Raft state is corrupt: %s", rf->me, codec_decoder_error(&d));
    }
    free(state);
}

/* ------------------------------------------------------------------ */
/* Roles and terms                                                     */
/* ------------------------------------------------------------------ */

static void kick_peer(raft *rf, peer *p);

static void kick_all(raft *rf)
{
    for (int i = 0; i < rf->npeers; i++)
        if (i != rf->me)
            kick_peer(rf, &rf->peers[i]);
}

/* Must hold rf->mu. */
static void reset_election_timer(raft *rf)
{
    rf->election_deadline_ms = lab_now_ms() + ELECTION_MIN_MS +
                               (int64_t)lab_rand_below(&rf->rng, ELECTION_SPREAD_MS);
}

/* Must hold rf->mu. A message carried a higher term: adopt it and follow.
 * The caller persists. */
static void enter_term(raft *rf, int term)
{
    assert(term > rf->current_term);
    DPRINTF(TERM, rf->me, "term %d -> %d, %s -> follower", rf->current_term, term,
            role_names[rf->role]);
    if (rf->role == LEADER)
        reset_election_timer(rf);   /* a leader's timer is long expired */
    rf->current_term = term;
    rf->voted_for = -1;
    rf->role = FOLLOWER;
    rf->votes = rf->prevotes = 0;
}

static int match_of(const raft *rf, int i)
{
    return i == rf->me ? log_last(&rf->log) : rf->peers[i].match_index;
}

/* Must hold rf->mu, as leader. Commits the highest index stored on a
 * majority, but only if it is from the current term (Figure 8): an entry of
 * an earlier term is committed only indirectly, by a later one. */
static void leader_advance_commit(raft *rf)
{
    int best = rf->commit_index;
    for (int i = 0; i < rf->npeers; i++) {
        int m = match_of(rf, i);
        if (m <= best)
            continue;
        int count = 0;
        for (int j = 0; j < rf->npeers; j++)
            count += match_of(rf, j) >= m;
        if (2 * count > rf->npeers)
            best = m;
    }
    if (best == rf->commit_index || log_term(&rf->log, best) != rf->current_term)
        return;
    DPRINTF(COMMIT, rf->me, "leader commits %d..%d", rf->commit_index + 1, best);
    rf->commit_index = best;
    lab_cond_signal(&rf->apply_cond);
    kick_all(rf);   /* tell the followers now, so they apply promptly */
}

/* Must hold rf->mu. */
static void become_leader(raft *rf)
{
    DPRINTF(LEAD, rf->me, "leader of term %d, log %d..%d", rf->current_term, rf->log.base,
            log_last(&rf->log));
    rf->role = LEADER;
    int64_t now = lab_now_ms();
    for (int i = 0; i < rf->npeers; i++) {
        peer *p = &rf->peers[i];
        p->next_index = log_last(&rf->log) + 1;
        p->match_index = 0;
        p->commit_acked = 0;
        p->last_append_ms = 0;     /* a heartbeat is due at once */
        p->retry_at_ms = 0;
        p->failed = false;
        p->latest_pending = false;
        p->last_reply_ms = now;    /* a full lease before checking the quorum */
    }
    lab_cond_signal(&rf->ticker_cond);   /* it slept until the election deadline */
    kick_all(rf);
}

/* Must hold rf->mu, as leader. Have we heard from a majority (counting
 * ourselves) within QUORUM_LEASE_MS? If not, a majority may have elected a
 * new leader meanwhile, and a command we accepted would likely be lost. */
static bool quorum_fresh(const raft *rf)
{
    int needed = rf->npeers / 2;   /* replying peers that make a majority */
    if (needed == 0)
        return true;
    int64_t latest = INT64_MIN;    /* the needed-th most recent reply */
    for (int i = 0; i < rf->npeers; i++) {
        if (i == rf->me)
            continue;
        int64_t t = rf->peers[i].last_reply_ms;
        int as_recent = 0;
        for (int j = 0; j < rf->npeers; j++)
            as_recent += j != rf->me && rf->peers[j].last_reply_ms >= t;
        if (as_recent >= needed && t > latest)
            latest = t;
    }
    return lab_now_ms() < latest + QUORUM_LEASE_MS;
}

static void tally_votes(raft *rf);

/* Must hold rf->mu. Campaigns start with a pre-vote (Raft thesis 9.6): we
 * ask whether the others would vote for us in the next term, and change
 * nothing. Only a majority of yeses makes us a candidate, so a server cut
 * off from the rest does not inflate its term and then, on rejoining,
 * depose a working leader. */
static void start_prevote(raft *rf)
{
    rf->role = PRECANDIDATE;
    rf->election_round++;
    rf->prevotes |= 1u << rf->me;
    reset_election_timer(rf);
    DPRINTF(TIMER, rf->me, "election timeout in term %d: pre-vote", rf->current_term);
    kick_all(rf);   /* lanes send the pre-votes */
    tally_votes(rf);
}

/* Must hold rf->mu. */
static void start_election(raft *rf)
{
    rf->current_term++;
    rf->role = CANDIDATE;
    rf->voted_for = rf->me;
    rf->election_round++;
    rf->votes = 1u << rf->me;
    rf->prevotes = 0;
    persist(rf);
    reset_election_timer(rf);
    DPRINTF(VOTE, rf->me, "candidate in term %d", rf->current_term);
    kick_all(rf);   /* lanes send the RequestVotes */
    tally_votes(rf);
}

static bool majority(const raft *rf, uint32_t servers)
{
    int n = 0;
    for (; servers; servers &= servers - 1)
        n++;
    return 2 * n > rf->npeers;
}

/* Must hold rf->mu. After each vote or pre-vote, ours included. Votes count
 * for as long as we stay in their term, even after our election timer has
 * sent us back to pre-voting: with replies delayed for seconds, an election
 * that only counted the replies of its own round might never finish. */
static void tally_votes(raft *rf)
{
    if (rf->role != PRECANDIDATE && rf->role != CANDIDATE)
        return;
    if (rf->voted_for == rf->me && majority(rf, rf->votes))
        become_leader(rf);
    else if (rf->role == PRECANDIDATE && majority(rf, rf->prevotes))
        start_election(rf);
}

/* ------------------------------------------------------------------ */
/* RequestVote                                                         */
/* ------------------------------------------------------------------ */

/* A pre-vote asks about term (the candidate's term + 1) without changing
 * anything at the receiver. */
typedef struct vote_args {
    int term, candidate, last_index, last_term;
    bool pre;
} vote_args;

typedef struct vote_reply {
    int term;
    bool granted;
} vote_reply;

/* Must hold rf->mu. The election restriction (5.4.1): vote only for a
 * candidate whose log is at least as up to date as ours. */
static bool candidate_up_to_date(const raft *rf, const vote_args *a)
{
    int my_term = log_term(&rf->log, log_last(&rf->log));
    return a->last_term > my_term ||
           (a->last_term == my_term && a->last_index >= log_last(&rf->log));
}

/* Must hold rf->mu. Would we vote for a->candidate in a->term? Not while
 * we lead or recently heard from a leader: then it is the candidate that is
 * cut off, not the leader. */
static bool grant_prevote(const raft *rf, const vote_args *a)
{
    return a->term > rf->current_term && rf->role != LEADER &&
           lab_now_ms() - rf->leader_contact_ms >= PREVOTE_LEASE_MS &&
           candidate_up_to_date(rf, a);
}

/* Must hold rf->mu. Figure 2's RequestVote receiver; returns whether the
 * persistent state changed. */
static bool grant_vote(raft *rf, const vote_args *a, bool *granted)
{
    bool changed = false;
    *granted = false;
    if (a->term > rf->current_term) {
        enter_term(rf, a->term);
        changed = true;
    }
    if (a->term == rf->current_term && (rf->voted_for == -1 || rf->voted_for == a->candidate) &&
        candidate_up_to_date(rf, a)) {
        changed |= rf->voted_for != a->candidate;
        rf->voted_for = a->candidate;
        *granted = true;
        reset_election_timer(rf);   /* only a granted vote defers our own election */
    }
    return changed;
}

static void request_vote_handler(void *receiver, codec_decoder *d, codec_buffer *out)
{
    raft *rf = receiver;
    vote_args a = {0};
    codec_get_int(d, &a.term);
    codec_get_int(d, &a.candidate);
    codec_get_int(d, &a.last_index);
    codec_get_int(d, &a.last_term);
    codec_get_bool(d, &a.pre);
    if (!codec_decoder_done(d))
        return;   /* the network reports the mismatch */

    lab_mutex_lock(&rf->mu);
    bool granted;
    if (a.pre)
        granted = grant_prevote(rf, &a);
    else if (grant_vote(rf, &a, &granted))
        persist(rf);   /* before the reply: a vote must survive a crash */
    DPRINTF(VOTE, rf->me, "%s %svote to S%d for term %d (ours %d)", granted ? "grants" : "refuses",
            a.pre ? "pre-" : "", a.candidate, a.term, rf->current_term);
    codec_put_int(out, rf->current_term);
    codec_put_bool(out, granted);
    lab_mutex_unlock(&rf->mu);
}

/* Must hold rf->mu (released during the call). One per peer per round;
 * votes are kept as a set, so a vote can never count twice. */
static void send_request_vote(raft *rf, peer *p)
{
    bool pre = rf->role == PRECANDIDATE;
    vote_args a = {
        .term = rf->current_term + pre,
        .candidate = rf->me,
        .last_index = log_last(&rf->log),
        .last_term = log_term(&rf->log, log_last(&rf->log)),
        .pre = pre,
    };
    p->vote_round = rf->election_round;
    codec_buffer args = CODEC_BUFFER_INIT, reply = CODEC_BUFFER_INIT;
    codec_put_int(&args, a.term);
    codec_put_int(&args, a.candidate);
    codec_put_int(&args, a.last_index);
    codec_put_int(&args, a.last_term);
    codec_put_bool(&args, a.pre);

    lab_mutex_unlock(&rf->mu);
    bool ok = labrpc_call(rf->ends[p->id], "Raft.RequestVote", &args, &reply);
    lab_mutex_lock(&rf->mu);

    if (ok && !rf->dead) {
        vote_reply r = {0};
        codec_decoder d;
        codec_decoder_init(&d, reply.data, reply.len);
        codec_get_int(&d, &r.term);
        codec_get_bool(&d, &r.granted);
        if (!codec_decoder_done(&d))
            lab_fatal("S%d: malformed RequestVote reply: %s", rf->me, codec_decoder_error(&d));
        if (r.term > rf->current_term) {
            enter_term(rf, r.term);
            persist(rf);
        } else if (r.granted && a.term == rf->current_term + a.pre &&
                   (!a.pre || rf->role == PRECANDIDATE)) {
            DPRINTF(VOTE, rf->me, "got S%d's %svote for term %d", p->id, a.pre ? "pre-" : "",
                    a.term);
            if (a.pre)
                rf->prevotes |= 1u << p->id;
            else
                rf->votes |= 1u << p->id;
            tally_votes(rf);
        }
    }
    codec_buffer_free(&args);
    codec_buffer_free(&reply);
}

/* ------------------------------------------------------------------ */
/* AppendEntries                                                       */
/* ------------------------------------------------------------------ */

typedef struct append_args {
    int term, leader, prev_index, prev_term, leader_commit, n;
    const uint8_t *entries;   /* handler side: the n encoded entries */
    size_t entries_len;
} append_args;

/* On a mismatch, xterm is the term of the follower's conflicting entry and
 * xindex the first index of that term in its log; if its log is too short,
 * xterm is -1 and xlen its length (last index + 1). The leader then skips a
 * whole term per round trip instead of one entry. */
typedef struct append_reply {
    int term;
    bool success;
    int xterm, xindex, xlen;
} append_reply;

static bool decode_append_args(codec_decoder *d, append_args *a)
{
    codec_get_int(d, &a->term);
    codec_get_int(d, &a->leader);
    codec_get_int(d, &a->prev_index);
    codec_get_int(d, &a->prev_term);
    codec_get_int(d, &a->leader_commit);
    codec_get_int(d, &a->n);
    size_t start = d->pos;
    for (int i = 0; i < a->n && codec_decoder_ok(d); i++) {
        int term;
        const uint8_t *cmd;
        size_t len;
        entry_decode(d, &term, &cmd, &len);
    }
    a->entries = d->data + start;
    a->entries_len = d->pos - start;
    return a->n >= 0 && codec_decoder_done(d);
}

/* Must hold rf->mu. Appends the leader's entries after a matching prev,
 * deleting ours only from the first conflict: an entry we already hold must
 * survive a stale or duplicated AppendEntries. Returns whether the log
 * changed. */
static bool merge_entries(raft *rf, const append_args *a)
{
    codec_decoder d;
    codec_decoder_init(&d, a->entries, a->entries_len);
    bool changed = false;
    for (int i = 0; i < a->n; i++) {
        int index = a->prev_index + 1 + i, term;
        const uint8_t *cmd;
        size_t len;
        entry_decode(&d, &term, &cmd, &len);
        if (index <= rf->log.base)
            continue;   /* our snapshot covers it: committed, so equal */
        if (index <= log_last(&rf->log)) {
            if (log_term(&rf->log, index) == term)
                continue;
            assert(index > rf->commit_index);
            DPRINTF(LOG, rf->me, "conflict at %d: dropping %d..%d", index, index,
                    log_last(&rf->log));
            log_truncate(&rf->log, index);
        }
        log_append(&rf->log, term, cmd, len);
        changed = true;
    }
    return changed;
}

/* Must hold rf->mu. The receiver's rules of Figure 2; returns whether the
 * persistent state changed. */
static bool append_entries(raft *rf, const append_args *a, append_reply *r)
{
    *r = (append_reply){.term = rf->current_term, .xterm = -1};
    if (a->term < rf->current_term)
        return false;   /* a stale leader: our term in the reply deposes it */
    bool changed = false;
    if (a->term > rf->current_term) {
        enter_term(rf, a->term);
        changed = true;
    }
    assert(rf->role != LEADER);   /* one leader per term */
    rf->role = FOLLOWER;          /* a candidate yields to this term's leader */
    rf->leader_contact_ms = lab_now_ms();
    rf->prevotes = 0;
    reset_election_timer(rf);
    r->term = rf->current_term;

    raft_log *l = &rf->log;
    if (a->prev_index > log_last(l)) {
        r->xlen = log_last(l) + 1;
        return changed;
    }
    if (a->prev_index > l->base && log_term(l, a->prev_index) != a->prev_term) {
        r->xterm = log_term(l, a->prev_index);
        r->xindex = a->prev_index;
        while (r->xindex - 1 > l->base && log_term(l, r->xindex - 1) == r->xterm)
            r->xindex--;
        return changed;
    }
    changed |= merge_entries(rf, a);
    r->success = true;

    /* Commit no further than the last entry this request vouches for: what
     * follows it in our log may not match the leader's. */
    int commit = min_int(a->leader_commit, a->prev_index + a->n);
    if (commit > rf->commit_index) {
        DPRINTF(COMMIT, rf->me, "follower commits %d..%d", rf->commit_index + 1, commit);
        rf->commit_index = commit;
        lab_cond_signal(&rf->apply_cond);
    }
    return changed;
}

static void append_entries_handler(void *receiver, codec_decoder *d, codec_buffer *out)
{
    raft *rf = receiver;
    append_args a = {0};
    if (!decode_append_args(d, &a))
        return;

    lab_mutex_lock(&rf->mu);
    append_reply r;
    if (append_entries(rf, &a, &r))
        persist(rf);   /* before the reply: the leader counts on it */
    if (a.n > 0 || !r.success)
        DPRINTF(APPEND, rf->me, "from S%d term %d prev %d/%d +%d: %s (xterm %d xindex %d xlen %d)",
                a.leader, a.term, a.prev_index, a.prev_term, a.n, r.success ? "ok" : "rejected",
                r.xterm, r.xindex, r.xlen);
    codec_put_int(out, r.term);
    codec_put_bool(out, r.success);
    codec_put_int(out, r.xterm);
    codec_put_int(out, r.xindex);
    codec_put_int(out, r.xlen);
    lab_mutex_unlock(&rf->mu);
}

/* Must hold rf->mu. Where to retry after a rejection, from the conflict. */
static int conflict_next_index(const raft *rf, const append_args *a, const append_reply *r)
{
    if (r->xterm < 0)
        return r->xlen;   /* the follower's log ends before prev */
    for (int i = min_int(a->prev_index, log_last(&rf->log)); i > rf->log.base; i--) {
        int t = log_term(&rf->log, i);
        if (t == r->xterm)
            return i + 1;   /* we have xterm too: resume after our last entry of it */
        if (t < r->xterm)
            break;
    }
    return r->xindex;   /* we lack xterm: skip all of the follower's */
}

/* Must hold rf->mu. */
static void handle_append_reply(raft *rf, peer *p, const append_args *a, const append_reply *r)
{
    if (r->term > rf->current_term) {
        enter_term(rf, r->term);
        persist(rf);
        return;
    }
    if (rf->role == LEADER && r->term == rf->current_term)
        p->last_reply_ms = lab_now_ms();
    if (rf->role != LEADER || rf->current_term != a->term)
        return;   /* a reply to an earlier term's request */
    if (r->success) {
        /* From the request, not our log: the log may have grown since. */
        int match = a->prev_index + a->n;
        p->match_index = max_int(p->match_index, match);
        p->next_index = max_int(p->next_index, match + 1);
        p->commit_acked = max_int(p->commit_acked, min_int(a->leader_commit, match));
        leader_advance_commit(rf);
        return;
    }
    /* A late rejection must not move next below what the peer is known to
     * hold. */
    int next = conflict_next_index(rf, a, r);
    next = max_int(next, p->match_index + 1);
    next = min_int(next, log_last(&rf->log) + 1);
    DPRINTF(APPEND, rf->me, "S%d rejected prev %d: next %d -> %d", p->id, a->prev_index,
            p->next_index, next);
    p->next_index = next;
}

/* Must hold rf->mu. Bookkeeping around an AppendEntries or InstallSnapshot
 * call. Only the latest call counts: older ones may be stuck for seconds in
 * a call to a peer that was unreachable when they were made. */
static int append_sent(peer *p)
{
    p->latest_pending = true;
    p->last_append_ms = lab_now_ms();
    return ++p->appends_sent;
}

static void append_returned(peer *p, int seq, bool ok)
{
    if (seq != p->appends_sent)
        return;
    p->latest_pending = false;
    p->failed = !ok;
    if (!ok)
        p->retry_at_ms = lab_now_ms() + RETRY_MS;
}

/* Must hold rf->mu (released during the call). Sends the log from
 * next_index on: empty when the peer is up to date (a heartbeat). */
static void send_append_entries(raft *rf, peer *p)
{
    append_args a = {
        .term = rf->current_term,
        .leader = rf->me,
        .prev_index = p->next_index - 1,
        .leader_commit = rf->commit_index,
    };
    a.prev_term = log_term(&rf->log, a.prev_index);
    a.n = log_last(&rf->log) - a.prev_index;
    codec_buffer args = CODEC_BUFFER_INIT, reply = CODEC_BUFFER_INIT;
    codec_put_int(&args, a.term);
    codec_put_int(&args, a.leader);
    codec_put_int(&args, a.prev_index);
    codec_put_int(&args, a.prev_term);
    codec_put_int(&args, a.leader_commit);
    codec_put_int(&args, a.n);
    log_copy(&rf->log, a.prev_index + 1, log_last(&rf->log), &args);
    if (a.n > 0)
        DPRINTF(APPEND, rf->me, "to S%d: %d..%d, commit %d", p->id, a.prev_index + 1,
                a.prev_index + a.n, a.leader_commit);
    else
        DPRINTF2(APPEND, rf->me, "heartbeat to S%d, commit %d", p->id, a.leader_commit);
    int seq = append_sent(p);

    lab_mutex_unlock(&rf->mu);
    bool ok = labrpc_call(rf->ends[p->id], "Raft.AppendEntries", &args, &reply);
    lab_mutex_lock(&rf->mu);

    append_returned(p, seq, ok);
    if (ok && !rf->dead) {
        append_reply r = {0};
        codec_decoder d;
        codec_decoder_init(&d, reply.data, reply.len);
        codec_get_int(&d, &r.term);
        codec_get_bool(&d, &r.success);
        codec_get_int(&d, &r.xterm);
        codec_get_int(&d, &r.xindex);
        codec_get_int(&d, &r.xlen);
        if (!codec_decoder_done(&d))
            lab_fatal("S%d: malformed AppendEntries reply: %s", rf->me, codec_decoder_error(&d));
        handle_append_reply(rf, p, &a, &r);
    }
    codec_buffer_free(&args);
    codec_buffer_free(&reply);
}

/* ------------------------------------------------------------------ */
/* InstallSnapshot (the whole snapshot in one RPC)                     */
/* ------------------------------------------------------------------ */

typedef struct snapshot_args {
    int term, leader, last_index, last_term;
    const uint8_t *data;
    size_t len;
} snapshot_args;

/* Must hold rf->mu. Returns whether the persistent state changed. */
static bool install_snapshot(raft *rf, const snapshot_args *a)
{
    if (a->term < rf->current_term)
        return false;
    bool changed = false;
    if (a->term > rf->current_term) {
        enter_term(rf, a->term);
        changed = true;
    }
    assert(rf->role != LEADER);
    rf->role = FOLLOWER;
    rf->leader_contact_ms = lab_now_ms();
    rf->prevotes = 0;
    reset_election_timer(rf);
    if (a->last_index <= rf->commit_index)
        return changed;   /* we already hold all of it: an old or repeated snapshot */

    /* Keep the entries after the snapshot if our log agrees at its end;
     * otherwise the whole log is stale. */
    raft_log *l = &rf->log;
    if (a->last_index <= log_last(l) && log_term(l, a->last_index) == a->last_term)
        log_compact(l, a->last_index);
    else
        log_reset(l, a->last_index, a->last_term);
    free(rf->snapshot);
    rf->snapshot = copy_bytes(a->data, a->len);
    rf->snapshot_len = a->len;
    rf->commit_index = a->last_index;
    rf->snapshot_pending = true;   /* the applier delivers it (if still news) */
    lab_cond_signal(&rf->apply_cond);
    DPRINTF(SNAP, rf->me, "installed S%d's snapshot through %d (term %d), log %d..%d",
            a->leader, a->last_index, a->last_term, l->base, log_last(l));
    return true;
}

static void install_snapshot_handler(void *receiver, codec_decoder *d, codec_buffer *out)
{
    raft *rf = receiver;
    snapshot_args a = {0};
    codec_get_int(d, &a.term);
    codec_get_int(d, &a.leader);
    codec_get_int(d, &a.last_index);
    codec_get_int(d, &a.last_term);
    codec_get_bytes_view(d, &a.data, &a.len);
    if (!codec_decoder_done(d))
        return;

    lab_mutex_lock(&rf->mu);
    if (install_snapshot(rf, &a))
        persist(rf);
    codec_put_int(out, rf->current_term);
    lab_mutex_unlock(&rf->mu);
}

/* Must hold rf->mu (released during the call). For a peer that needs
 * entries our snapshot has already discarded. */
static void send_install_snapshot(raft *rf, peer *p)
{
    snapshot_args a = {rf->current_term, rf->me, rf->log.base, log_term(&rf->log, rf->log.base),
                       NULL, 0};
    codec_buffer args = CODEC_BUFFER_INIT, reply = CODEC_BUFFER_INIT;
    codec_put_int(&args, a.term);
    codec_put_int(&args, a.leader);
    codec_put_int(&args, a.last_index);
    codec_put_int(&args, a.last_term);
    codec_put_bytes(&args, rf->snapshot, rf->snapshot_len);
    DPRINTF(SNAP, rf->me, "sending snapshot through %d to S%d", a.last_index, p->id);
    int seq = append_sent(p);

    lab_mutex_unlock(&rf->mu);
    bool ok = labrpc_call(rf->ends[p->id], "Raft.InstallSnapshot", &args, &reply);
    lab_mutex_lock(&rf->mu);

    append_returned(p, seq, ok);
    if (ok && !rf->dead) {
        int term = 0;
        codec_decoder d;
        codec_decoder_init(&d, reply.data, reply.len);
        codec_get_int(&d, &term);
        if (!codec_decoder_done(&d))
            lab_fatal("S%d: malformed InstallSnapshot reply: %s", rf->me, codec_decoder_error(&d));
        if (rf->role == LEADER && term == rf->current_term)
            p->last_reply_ms = lab_now_ms();
        if (term > rf->current_term) {
            enter_term(rf, term);
            persist(rf);
        } else if (rf->role == LEADER && rf->current_term == a.term) {
            p->match_index = max_int(p->match_index, a.last_index);
            p->next_index = max_int(p->next_index, a.last_index + 1);
            p->commit_acked = max_int(p->commit_acked, a.last_index);
        }
    }
    codec_buffer_free(&args);
    codec_buffer_free(&reply);
}

/* ------------------------------------------------------------------ */
/* Lanes: per-peer senders                                             */
/* ------------------------------------------------------------------ */

/*
 * Must hold rf->mu. What a lane should send to p now, if anything; if
 * nothing, *wake_at is when something will be due without any event
 * (NEVER if only an event can make it due).
 *
 * A leader sends when no AppendEntries to the peer is outstanding and the
 * peer lacks entries or the commit index, or the last call failed (soon
 * after, so that one lost message does not cost a heartbeat period or, on a
 * lossy network, the quorum). New entries wait for the batch window. One
 * request at a time suffices: its reply shows what is still missing. And in
 * any case a heartbeat every HEARTBEAT_MS, even beside an outstanding
 * request, which may be stuck in a call to a peer that was unreachable.
 */
static lane_job peer_job(const raft *rf, const peer *p, int64_t now, int64_t *wake_at)
{
    *wake_at = NEVER;
    if (rf->role == PRECANDIDATE || rf->role == CANDIDATE) {
        bool granted = (rf->role == PRECANDIDATE ? rf->prevotes : rf->votes) >> p->id & 1;
        return p->vote_round < rf->election_round && !granted ? JOB_VOTE : JOB_NONE;
    }
    if (rf->role != LEADER)
        return JOB_NONE;
    int64_t heartbeat_at = p->last_append_ms + HEARTBEAT_MS;
    bool behind = p->next_index <= log_last(&rf->log) || p->commit_acked < rf->commit_index ||
                  p->failed;
    bool eager = behind && !p->latest_pending;
    int64_t eager_at = p->retry_at_ms > rf->batch_until_ms ? p->retry_at_ms : rf->batch_until_ms;
    if (now >= heartbeat_at || (eager && now >= eager_at))
        return p->next_index <= rf->log.base ? JOB_SNAPSHOT : JOB_APPEND;
    *wake_at = eager && eager_at < heartbeat_at ? eager_at : heartbeat_at;
    return JOB_NONE;
}

static void *lane_main(void *arg)
{
    peer *p = arg;
    raft *rf = p->rf;
    lab_mutex_lock(&rf->mu);
    while (!rf->dead) {
        int64_t wake_at;
        switch (peer_job(rf, p, lab_now_ms(), &wake_at)) {
        case JOB_VOTE:
            send_request_vote(rf, p);
            continue;
        case JOB_APPEND:
            send_append_entries(rf, p);
            continue;
        case JOB_SNAPSHOT:
            send_install_snapshot(rf, p);
            continue;
        case JOB_NONE:
            break;
        }
        /* Normally one idle lane per peer keeps the time and the others
         * sleep until kicked, so spare lanes cost nothing once the peer is
         * back. A lane that needs to wake earlier keeps time as well. */
        p->idle++;
        if (wake_at < p->timed_until) {
            p->timed_until = wake_at;
            lab_cond_wait_until(&p->work, &rf->mu, wake_at);
            if (p->timed_until == wake_at)
                p->timed_until = NEVER;   /* the next idle lane takes over */
        } else {
            lab_cond_wait(&p->work, &rf->mu);
        }
        p->idle--;
    }
    lab_mutex_unlock(&rf->mu);
    return NULL;
}

/* Must hold rf->mu. If something is due for p, wake an idle lane, or, if
 * every lane is busy in a call, start another. */
static void kick_peer(raft *rf, peer *p)
{
    int64_t wake_at;
    if (rf->dead || peer_job(rf, p, lab_now_ms(), &wake_at) == JOB_NONE)
        return;
    if (p->idle > 0) {
        lab_cond_signal(&p->work);
    } else if (p->nlanes < MAX_LANES) {
        char name[48];
        snprintf(name, sizeof name, "S%d->S%d lane %d", rf->me, p->id, p->nlanes);
        DPRINTF2(TIMER, rf->me, "starting %s", name);
        lab_thread_create(&p->lanes[p->nlanes++], name, lane_main, p);
    }
}

/* ------------------------------------------------------------------ */
/* Ticker and applier                                                  */
/* ------------------------------------------------------------------ */

static void *ticker_main(void *arg)
{
    raft *rf = arg;
    lab_mutex_lock(&rf->mu);
    while (!rf->dead) {
        int64_t now = lab_now_ms();
        if (rf->role == LEADER) {
            /* Ships a closed batch, and heartbeats to peers whose lanes are
             * all stuck in calls. */
            kick_all(rf);
            int64_t wake_at = now + HEARTBEAT_MS;
            if (rf->batch_until_ms > now && rf->batch_until_ms < wake_at)
                wake_at = rf->batch_until_ms;
            lab_cond_wait_until(&rf->ticker_cond, &rf->mu, wake_at);
        } else if (now >= rf->election_deadline_ms) {
            start_prevote(rf);
        } else {
            /* The deadline may move later meanwhile; we then sleep again. */
            lab_cond_wait_until(&rf->ticker_cond, &rf->mu, rf->election_deadline_ms);
        }
    }
    lab_mutex_unlock(&rf->mu);
    return NULL;
}

/* Must hold rf->mu (released while sending). Delivers the installed
 * snapshot unless the service has already applied past it. */
static void apply_snapshot(raft *rf)
{
    rf->snapshot_pending = false;
    if (rf->log.base <= rf->last_applied)
        return;   /* never move the service backwards */
    apply_msg m = {
        .snapshot_valid = true,
        .snapshot = copy_bytes(rf->snapshot, rf->snapshot_len),
        .snapshot_len = rf->snapshot_len,
        .snapshot_term = log_term(&rf->log, rf->log.base),
        .snapshot_index = rf->log.base,
    };
    DPRINTF(APPLY, rf->me, "applying snapshot through %d", m.snapshot_index);

    lab_mutex_unlock(&rf->mu);
    bool ok = applych_send(rf->ch, &m);
    lab_mutex_lock(&rf->mu);

    free(m.snapshot);
    if (ok)
        rf->last_applied = m.snapshot_index;
    else
        rf->apply_closed = true;
}

/* Must hold rf->mu (released while sending). Delivers the next committed
 * entries from a copy, so that the log may change meanwhile. */
static void apply_entries(raft *rf, codec_buffer *batch)
{
    int first = rf->last_applied + 1;
    int last = min_int(rf->commit_index, first + APPLY_BATCH - 1);
    assert(first > rf->log.base);   /* a newer snapshot is delivered first */
    codec_buffer_reset(batch);
    log_copy(&rf->log, first, last, batch);

    lab_mutex_unlock(&rf->mu);
    DPRINTF(APPLY, rf->me, "applying %d..%d", first, last);
    codec_decoder d;
    codec_decoder_init(&d, batch->data, batch->len);
    bool ok = true;
    for (int index = first; index <= last && ok; index++) {
        int term;
        const uint8_t *cmd;
        size_t len;
        bool decoded = entry_decode(&d, &term, &cmd, &len);
        assert(decoded);
        (void)decoded;
        apply_msg m = {
            .command_valid = true,
            .command = (uint8_t *)cmd,   /* the channel copies it */
            .command_len = len,
            .command_index = index,
        };
        ok = applych_send(rf->ch, &m);
    }
    lab_mutex_lock(&rf->mu);

    if (ok)
        rf->last_applied = last;
    else
        rf->apply_closed = true;
}

/* The only sender on the apply channel, so messages leave in log order. */
static void *applier_main(void *arg)
{
    raft *rf = arg;
    codec_buffer batch = CODEC_BUFFER_INIT;
    lab_mutex_lock(&rf->mu);
    while (!rf->dead) {
        if (rf->apply_closed)   /* we are being killed: wait for it */
            lab_cond_wait(&rf->apply_cond, &rf->mu);
        else if (rf->snapshot_pending)
            apply_snapshot(rf);
        else if (rf->last_applied < rf->commit_index)
            apply_entries(rf, &batch);
        else
            lab_cond_wait(&rf->apply_cond, &rf->mu);
    }
    lab_mutex_unlock(&rf->mu);
    codec_buffer_free(&batch);
    return NULL;
}

/* ------------------------------------------------------------------ */
/* The API                                                             */
/* ------------------------------------------------------------------ */

raft *raft_make(labrpc_end **peers, int npeers, int me, persister *ps, applych *ch)
{
    if (npeers < 1 || npeers > 32 || me < 0 || me >= npeers)
        lab_fatal("raft_make: server %d of %d (1 to 32 servers, votes are a bit mask)", me, npeers);
    raft *rf = lab_calloc(1, sizeof *rf);
    rf->me = me;
    rf->npeers = npeers;
    rf->ends = copy_bytes(peers, npeers * sizeof *peers);
    rf->ps = ps;
    rf->ch = ch;
    lab_mutex_init(&rf->mu, "rf->mu");
    lab_cond_init(&rf->apply_cond);
    lab_cond_init(&rf->ticker_cond);
    lab_rand_seed(&rf->rng, (uint64_t)lab_now_us() ^ ((uint64_t)me << 48));
    rf->voted_for = -1;
    log_init(&rf->log);
    restore(rf);
    /* The tester restored the service from the snapshot itself. */
    rf->commit_index = rf->last_applied = rf->log.base;
    rf->peers = lab_calloc(npeers, sizeof *rf->peers);
    for (int i = 0; i < npeers; i++) {
        rf->peers[i].rf = rf;
        rf->peers[i].id = i;
        rf->peers[i].timed_until = NEVER;
        lab_cond_init(&rf->peers[i].work);
    }
    rf->role = FOLLOWER;
    reset_election_timer(rf);
    DPRINTF(TIMER, me, "started in term %d, vote %d, log %d..%d", rf->current_term,
            rf->voted_for, rf->log.base, log_last(&rf->log));

    char name[32];
    snprintf(name, sizeof name, "S%d ticker", me);
    lab_thread_create(&rf->ticker, name, ticker_main, rf);
    snprintf(name, sizeof name, "S%d applier", me);
    lab_thread_create(&rf->applier, name, applier_main, rf);
    return rf;
}

void raft_register_service(raft *rf, labrpc_server *srv)
{
    labrpc_service *svc = labrpc_service_make("Raft", rf);
    labrpc_service_add_method(svc, "RequestVote", request_vote_handler);
    labrpc_service_add_method(svc, "AppendEntries", append_entries_handler);
    labrpc_service_add_method(svc, "InstallSnapshot", install_snapshot_handler);
    labrpc_server_add_service(srv, svc);
}

bool raft_start(raft *rf, const void *command, size_t len, int *index, int *term)
{
    lab_mutex_lock(&rf->mu);
    /* A leader cut off from the majority turns commands away, so that the
     * client tries the others rather than wait on an entry that is lost. */
    bool leader = !rf->dead && rf->role == LEADER && quorum_fresh(rf);
    if (leader) {
        log_append(&rf->log, rf->current_term, command, len);
        persist(rf);
        DPRINTF(LEAD, rf->me, "start: entry %d in term %d", log_last(&rf->log), rf->current_term);
        leader_advance_commit(rf);   /* commits at once only when alone */
        int64_t now = lab_now_ms();
        if (now >= rf->batch_until_ms) {   /* the first of a batch */
            rf->batch_until_ms = now + BATCH_MS;
            lab_cond_signal(&rf->ticker_cond);   /* it kicks the lanes then */
        }
    }
    *index = leader ? log_last(&rf->log) : log_last(&rf->log) + 1;
    *term = rf->current_term;
    lab_mutex_unlock(&rf->mu);
    return leader;
}

void raft_get_state(raft *rf, int *term, bool *is_leader)
{
    lab_mutex_lock(&rf->mu);
    *term = rf->current_term;
    *is_leader = rf->role == LEADER;
    lab_mutex_unlock(&rf->mu);
}

/* Called from the service's applier thread: take rf->mu only briefly. */
void raft_snapshot(raft *rf, int index, const void *snapshot, size_t len)
{
    lab_mutex_lock(&rf->mu);
    if (index > rf->log.base && index <= rf->commit_index) {
        log_compact(&rf->log, index);
        free(rf->snapshot);
        rf->snapshot = copy_bytes(snapshot, len);
        rf->snapshot_len = len;
        persist(rf);
        DPRINTF(SNAP, rf->me, "service snapshot through %d, log %d..%d", index, rf->log.base,
                log_last(&rf->log));
    }
    lab_mutex_unlock(&rf->mu);
}

void raft_kill(raft *rf)
{
    lab_mutex_lock(&rf->mu);
    rf->dead = true;   /* no lane is started after this */
    lab_cond_broadcast(&rf->ticker_cond);
    lab_cond_broadcast(&rf->apply_cond);
    for (int i = 0; i < rf->npeers; i++)
        lab_cond_broadcast(&rf->peers[i].work);
    DPRINTF(TIMER, rf->me, "killed in term %d", rf->current_term);
    lab_mutex_unlock(&rf->mu);

    /* Calls in progress fail at once (the harness retired our ends) and a
     * blocked send returns (it closed our channel). */
    lab_thread_join(&rf->ticker);
    lab_thread_join(&rf->applier);
    for (int i = 0; i < rf->npeers; i++)
        for (int j = 0; j < rf->peers[i].nlanes; j++)
            lab_thread_join(&rf->peers[i].lanes[j]);

    for (int i = 0; i < rf->npeers; i++)
        lab_cond_destroy(&rf->peers[i].work);
    free(rf->peers);
    lab_cond_destroy(&rf->ticker_cond);
    lab_cond_destroy(&rf->apply_cond);
    lab_mutex_destroy(&rf->mu);
    log_free(&rf->log);
    free(rf->snapshot);
    codec_buffer_free(&rf->persist_buf);
    free(rf->ends);
    free(rf);
}

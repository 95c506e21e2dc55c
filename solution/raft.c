/*
 * raft.c: the reference solution (instructors only; not in the handout).
 * It is raft/raft.c, the students' skeleton, with every blank filled: the
 * same struct, helpers, helper contracts, encode/decode pairs and thread
 * plan, so that a student's file can be read beside it. The skeleton's
 * comments are kept where they still apply; the comments added here argue
 * why the tricky parts are right.
 *
 * A plain Figure-2 Raft (extended Raft paper, Ongaro and Ousterhout), with
 * the fast log back-up of section 5.3 (conflict term and index) and
 * InstallSnapshot in one RPC (section 7). It adds nothing to the protocol:
 * no pre-vote, no check quorum, no leases, no batching delay. Where Figure
 * 2 leaves a choice open, the choices below are the ones the handout names
 * (HANDOUT.md, section 4 and the items of issue 14):
 *
 *   - tell_followers_commit(): when the leader's commit index advances, it
 *     wakes its senders at once instead of waiting for the next heartbeat,
 *     so followers apply promptly (2B, "Send new entries soon"; gap A).
 *   - SENDERS_PER_PEER sender threads per peer, not one: a call to a peer
 *     that is cut off takes up to 7 s to fail (section 3, "The network";
 *     gap B). The number and why it is that number: at the enum below.
 *   - new_term() resets the election timer of a deposed leader, whose timer
 *     was last reset when it won its election (2A, "When to reset the
 *     election timer"; gap C).
 *   - next_job(): new entries go at once (2B, "Send new entries soon"),
 *     unless the latest request to that peer is still in flight, whose
 *     reply will say what is still missing ("do not send one RPC per
 *     command"); a failed call is retried by the next heartbeat, never at
 *     once (a crash makes calls fail at once until the kill).
 *
 * The skeleton's shape, kept:
 *
 *   - One mutex per server, rf->mu, guards all the state that more than one
 *     thread touches. Every function that says "caller holds rf->mu" asserts
 *     it.
 *   - A thread that waits for something waits on a condition variable,
 *     never in a loop that polls, and checks rf->dead whenever it wakes.
 *   - Long-lived threads started by raft_make and joined by raft_kill:
 *       ticker    starts an election when the election timeout has passed;
 *       applier   sends committed entries (and installed snapshots) to the
 *                 apply channel in log order, waiting on apply_cond;
 *       senders   SENDERS_PER_PEER per peer, waiting on that peer's
 *                 work_cond for work (a vote to ask for, entries, the commit
 *                 index or a heartbeat to send), calling without the lock.
 *     The RPC handlers run on the network's threads.
 *
 * The three rules:
 *
 *   1. Never hold rf->mu across labrpc_call (it can take seconds) or
 *      applych_send (it waits for the service, which may itself be waiting
 *      for rf->mu in raft_snapshot).
 *   2. Whenever you take rf->mu again after releasing it, things may have
 *      changed: before acting on an RPC reply, check that you are still in
 *      the term (and the role) in which you sent the request.
 *   3. Every thread you start is joined in raft_kill.
 *
 * Debugging: DPRINTF (lab/debug.h) prints when VERBOSE=1 is set, e.g.
 * `VERBOSE=1 make test-2A RAFT=solution 2>&1 | tools/raftlog`.
 */
#include "raft/raft.h"

#include <assert.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "applych/applych.h"
#include "lab/debug.h"
#include "lab/fatal.h"
#include "lab/rand.h"
#include "lab/sync.h"
#include "labrpc/codec.h"
#include "labrpc/labrpc.h"
#include "persister/persister.h"

enum {
    /* A leader sends each peer an AppendEntries at least this often, and
     * heartbeats (sends with nothing new) no more often: the lab allows ten
     * a second. */
    HEARTBEAT_MS = 100,

    /* The election timeout, drawn anew at every reset: 300-599 ms, three
     * heartbeats or more, so that one or two lost heartbeats start no
     * election. The ticker looks every 50-349 ms, so an election starts
     * 300-950 ms after the last word from a leader: a split vote or two
     * still leaves a new leader well within the tests' 5 seconds. */
    ELECTION_TIMEOUT_MIN_MS = 300,
    ELECTION_TIMEOUT_SPREAD_MS = 300,

    /*
     * Sender threads per peer. A call to a peer that is cut off or crashed
     * returns false only after 0-7 s, and a thread in a call is stuck until
     * it returns, even if the link heals meanwhile. The leader sends a
     * heartbeat every 100 ms, so K heartbeats after a disconnection all K
     * senders to that peer are stuck, and once it reconnects it stays
     * unreachable to us until the first of them returns (on average about
     * 7 / (K + 1) s). Meanwhile a reconnected follower cannot catch up,
     * and a reconnected old leader that missed the new term goes on
     * believing it leads.
     *
     * 2A t02 sets the floor. It disconnects the leader, finds the new one
     * with a poll every 450-550 ms, reconnects the old leader, polls once
     * more, then cuts it off with one other server, and fails with SAFETY
     * if it still claims to lead 2 s later. So within one poll the new
     * leader, which has sent the cut-off peer up to 6 heartbeats (and
     * perhaps a RequestVote or two) before the reconnection, must still
     * have a sender free to tell it of the new term. Measured (30-40 runs
     * of 2A t02 each): K = 4 fails 13-20% of runs, K = 8 none. A larger
     * K buys little: 2D took 138 s at K = 16 against 140-146 s at K = 8
     * (what costs time there is a reconnected old leader accepting a
     * command before it hears of the new term, which no K prevents), and
     * each server starts K x (npeers - 1) threads at every restart (2C t04
     * restarts servers hundreds of times; 2A t03 runs 7 servers: 336
     * senders at K = 8).
     */
    SENDERS_PER_PEER = 8,
};

/* One log entry: its term and a copy of its command, which is ours. */
typedef struct log_entry {
    int term;
    uint8_t *command;
    size_t command_len;
} log_entry;

typedef enum { FOLLOWER, CANDIDATE, LEADER } raft_role;
static const char *const role_names[] = {"follower", "candidate", "leader"};

/*
 * What a server keeps about one other server, peer_state[i] for server i
 * (peer_state[me] is unused). rf->mu guards every field but the first two.
 */
typedef struct peer_state {
    raft *rf;               /* set by raft_make, never changed */
    int server;             /* index of this peer in rf->peers; ditto */

    lab_cond work_cond;     /* the peer's idle senders wait here */
    lab_thread senders[SENDERS_PER_PEER];

    bool vote_due;          /* candidate: ask this peer for its vote */
    bool append_due;        /* leader: the peer may lack entries or the
                               commit index (see next_job) */
    int requests_sent;      /* AppendEntries/InstallSnapshot calls to it */
    bool latest_in_flight;  /* the latest of them has not returned */
    int64_t last_sent_ms;   /* when the latest left: the heartbeat timer */

    /* Figure 2's leader state, reinitialised by become_leader. */
    int next_index;         /* next log entry to send it */
    int match_index;        /* highest entry known replicated on it */
} peer_state;

/*
 * One Raft server. rf->mu guards every field unless its comment says
 * otherwise.
 */
struct raft {
    lab_mutex mu;

    /* Set by raft_make and never changed: read them without the lock. */
    labrpc_end **peers;      /* RPC ends to every server, in the same order
                                on every server; peers[me] is our own */
    int npeers;
    int me;                  /* this server's index in peers */
    persister *persister;    /* where persist() saves our state */
    applych *applych;        /* where committed commands go, in order */

    bool dead;               /* set by raft_kill: every thread must return */
    lab_rand rand;           /* our own random stream (timeouts) */

    /*
     * Condition variables. Each is used with rf->mu, and raft_kill
     * broadcasts each one (and every peer's work_cond), so a thread waiting
     * on it wakes, sees rf->dead and returns.
     *
     * sleep_cond: sleep_unless_killed() waits on it. Nothing else signals
     * it, so a wait on it is a sleep that raft_kill can cut short.
     *
     * apply_cond: the applier waits on it; signalled wherever commit_index
     * advances or a snapshot is installed.
     */
    lab_cond sleep_cond;
    lab_cond apply_cond;

    lab_thread ticker_thread;   /* used only by raft_make and raft_kill */
    lab_thread applier_thread;  /* likewise */

    /* Persistent (Figure 2, and 2D's snapshot): persist() saves them. */
    int current_term;        /* latest term this server has seen */
    int voted_for;           /* whom we voted for in current_term; -1: none */
    log_entry *log;          /* entries last_included_index + 1 .. on; see
                                the log helpers */
    int log_len;             /* entries in log */
    int log_cap;             /* room in log */
    int last_included_index; /* the snapshot covers the log through here (0:
                                no snapshot; index 0 is the empty log's
                                "previous entry") */
    int last_included_term;  /* the term of that entry */
    uint8_t *snapshot;       /* the service's latest snapshot; saved beside
                                the state, never inside it */
    size_t snapshot_len;

    /* Volatile. */
    raft_role role;
    int64_t election_reset_ms;   /* when the election timer was last reset */
    int64_t election_timeout_ms; /* randomised at every reset */
    int votes;                   /* votes for us in current_term, ours too */
    int commit_index;            /* highest entry known committed */
    int last_applied;            /* highest entry (or snapshot) handed to
                                    the apply channel; only the applier
                                    advances it */
    bool snapshot_pending;       /* an installed snapshot the applier has
                                    not sent yet */
    peer_state *peer_state;      /* npeers of them; [me] unused */
};

/*
 * Waits ms milliseconds, or less if raft_kill is called meanwhile. Caller
 * holds rf->mu; it is released while waiting and held again on return, so
 * anything read before may have changed.
 *
 * Why not lab_sleep_ms? Nothing can wake a thread from lab_sleep_ms, so
 * raft_kill would have to wait out the rest of the sleep, and some tests
 * crash servers hundreds of times. Use this for every pause in your threads.
 */
static void sleep_unless_killed(raft *rf, int64_t ms)
{
    assert(lab_mutex_held_by_me(&rf->mu));
    int64_t deadline_ms = lab_now_ms() + ms;
    while (!rf->dead && lab_now_ms() < deadline_ms)
        lab_cond_wait_until(&rf->sleep_cond, &rf->mu, deadline_ms);
}

/* ----------------------------------------------------------------- the log */

/*
 * The log holds entries last_included_index + 1 through last_log_index():
 * entry i is rf->log[i - last_included_index - 1]. Everything up to
 * last_included_index is in the snapshot; of it we keep only the index and
 * term of its last entry, which the consistency checks need. These helpers
 * are the only code that turns an index into an array position. They touch
 * the log, which rf->mu guards: callers hold it, except read_persist, which
 * runs before any other thread exists.
 */
static int last_log_index(const raft *rf)
{
    return rf->last_included_index + rf->log_len;
}

/* The term of entry index, for last_included_index <= index <=
 * last_log_index(). */
static int log_term_at(const raft *rf, int index)
{
    assert(index >= rf->last_included_index && index <= last_log_index(rf));
    if (index == rf->last_included_index)
        return rf->last_included_term;
    return rf->log[index - rf->last_included_index - 1].term;
}

static int last_log_term(const raft *rf)
{
    return log_term_at(rf, last_log_index(rf));
}

/* Entry index, for last_included_index < index <= last_log_index(). The
 * pointer is good only while rf->mu stays held: an append may move the
 * array and a trim may free the entry. */
static const log_entry *log_entry_at(const raft *rf, int index)
{
    assert(index > rf->last_included_index && index <= last_log_index(rf));
    return &rf->log[index - rf->last_included_index - 1];
}

/* Appends a copy of command as a new last entry. */
static void log_append(raft *rf, int term, const void *command, size_t len)
{
    if (rf->log_len == rf->log_cap) {
        rf->log_cap = rf->log_cap ? 2 * rf->log_cap : 16;
        rf->log = lab_realloc(rf->log, (size_t)rf->log_cap * sizeof *rf->log);
    }
    rf->log[rf->log_len++] = (log_entry){
        .term = term,
        .command = lab_memdup(command, len),
        .command_len = len,
    };
}

/* Drops entry index and every entry after it. */
static void log_truncate_from(raft *rf, int index)
{
    assert(index > rf->last_included_index && index <= last_log_index(rf));
    for (int i = index; i <= last_log_index(rf); i++)
        free(rf->log[i - rf->last_included_index - 1].command);
    rf->log_len = index - rf->last_included_index - 1;
}

/* A snapshot now covers the log through index (<= last_log_index()), whose
 * term is term: drops the entries through index, keeps those after it. */
static void log_discard_through(raft *rf, int index, int term)
{
    assert(index > rf->last_included_index && index <= last_log_index(rf));
    int drop = index - rf->last_included_index;   /* entries to drop */
    for (int i = 0; i < drop; i++)
        free(rf->log[i].command);
    memmove(rf->log, rf->log + drop, (size_t)(rf->log_len - drop) * sizeof *rf->log);
    rf->log_len -= drop;
    rf->last_included_index = index;
    rf->last_included_term = term;
}

/* Drops the whole log: a snapshot now covers everything through index,
 * whose term is term. */
static void log_reset(raft *rf, int index, int term)
{
    for (int i = 0; i < rf->log_len; i++)
        free(rf->log[i].command);
    rf->log_len = 0;
    rf->last_included_index = index;
    rf->last_included_term = term;
}

/* ------------------------------------------------------------- persistence */

/*
 * Saves the state that Figure 2 calls persistent, so that a server that
 * crashes and restarts comes back with it (raft_make reads it back). Caller
 * holds rf->mu. Called after every change to persistent state and before
 * anyone can see the change: before replying to an RPC (a vote granted is
 * a promise that must survive a crash) and before sending one.
 *
 * Every save stores the state *and* the snapshot: the persister replaces
 * both at once, so a crash can never leave a state that disagrees with the
 * snapshot (a log trimmed through index 100 next to a snapshot that stops
 * at 50). So it passes the current snapshot every time, unchanged.
 */
static void persist(raft *rf)
{
    assert(lab_mutex_held_by_me(&rf->mu));
    codec_buffer b = CODEC_BUFFER_INIT;
    codec_put_int(&b, rf->current_term);
    codec_put_int(&b, rf->voted_for);
    codec_put_int(&b, rf->last_included_index);
    codec_put_int(&b, rf->last_included_term);
    codec_put_int(&b, rf->log_len);
    for (int i = 0; i < rf->log_len; i++) {
        codec_put_int(&b, rf->log[i].term);
        codec_put_bytes(&b, rf->log[i].command, rf->log[i].command_len);
    }
    persister_save(rf->persister, b.data, b.len, rf->snapshot, rf->snapshot_len);
    DPRINTF2(PERSIST, rf->me, "saved term %d vote %d log %d..%d (%zu bytes)", rf->current_term,
             rf->voted_for, rf->last_included_index, last_log_index(rf), b.len);
    codec_buffer_free(&b);
}

/*
 * Restores the state that persist() saved: data, len are what the
 * persister holds. Called by raft_make before any thread of this server
 * starts, so no lock is needed yet.
 */
static void read_persist(raft *rf, const uint8_t *data, size_t len)
{
    if (len == 0)      /* first start: nothing saved, keep the initial state */
        return;

    codec_decoder d;
    codec_decoder_init(&d, data, len);
    int log_len = 0;
    codec_get_int(&d, &rf->current_term);
    codec_get_int(&d, &rf->voted_for);
    codec_get_int(&d, &rf->last_included_index);
    codec_get_int(&d, &rf->last_included_term);
    codec_get_int(&d, &log_len);
    /* Grow the log as entries arrive: a wrong count (a bug) could be a
     * billion. A failed read makes every later one fail, so the check at
     * the end sees any failure. */
    for (int i = 0; i < log_len && codec_decoder_ok(&d); i++) {
        int term;
        uint8_t *command;      /* a malloc'd copy, ours to free */
        size_t command_len;
        if (codec_get_int(&d, &term) && codec_get_bytes(&d, &command, &command_len)) {
            log_append(rf, term, command, command_len);
            free(command);
        }
    }
    /* A failure means persist and read_persist disagree, a bug: carrying on
     * with an empty state could vote twice in a term or lose committed
     * entries. */
    if (!codec_decoder_done(&d))
        lab_fatal("S%d: cannot read persisted state: %s", rf->me, codec_decoder_error(&d));
}

/* ------------------------------------------------------- terms and roles */

/* Caller holds rf->mu. Starts a new election timeout, randomised anew so
 * that two servers that time out together once rarely do so again. */
static void reset_election_timer(raft *rf)
{
    assert(lab_mutex_held_by_me(&rf->mu));
    rf->election_reset_ms = lab_now_ms();
    rf->election_timeout_ms =
        ELECTION_TIMEOUT_MIN_MS + (int64_t)lab_rand_below(&rf->rand, ELECTION_TIMEOUT_SPREAD_MS);
}

/*
 * Caller holds rf->mu, and persists afterwards. A request or reply carried
 * a term later than ours: adopt it, with no vote yet, as a follower. A
 * leader's election timer was last reset when it won, so without a reset
 * here a deposed leader would start an election at the next tick, and with
 * its long log likely win it, unseating the leader that just deposed it.
 */
static void new_term(raft *rf, int term)
{
    assert(lab_mutex_held_by_me(&rf->mu));
    assert(term > rf->current_term);
    DPRINTF(TERM, rf->me, "term %d -> %d, %s -> follower", rf->current_term, term,
            role_names[rf->role]);
    if (rf->role == LEADER)
        reset_election_timer(rf);
    rf->current_term = term;
    rf->voted_for = -1;
    rf->role = FOLLOWER;
}

/* Caller holds rf->mu. Something is due for peer p: wake one of its idle
 * senders (they are alike). A sender in a call finds the work when it
 * returns. */
static void wake_sender(raft *rf, peer_state *p)
{
    assert(lab_mutex_held_by_me(&rf->mu));
    UNUSED(rf);   /* only asserted on: unused when NDEBUG compiles asserts out */
    lab_cond_signal(&p->work_cond);
}

/* Caller holds rf->mu, as leader. Every peer may lack something new
 * (entries, or the commit index): have its senders send it. */
static void wake_all_senders(raft *rf)
{
    assert(lab_mutex_held_by_me(&rf->mu));
    for (int i = 0; i < rf->npeers; i++) {
        if (i == rf->me)
            continue;
        rf->peer_state[i].append_due = true;
        wake_sender(rf, &rf->peer_state[i]);
    }
}

/*
 * Caller holds rf->mu, as leader, whose commit index just advanced. Figure
 * 2 leaves followers to learn the commit index from the next AppendEntries;
 * waiting for the next heartbeat would make every agreement the tester
 * waits for up to 100 ms slower (2B would take 2-3 times as long). So the
 * senders go at once: a follower that lacks nothing else gets an empty
 * AppendEntries carrying the new leader_commit. (HANDOUT.md 2B, "Send new
 * entries soon after raft_start"; issue 14 gap A.)
 */
static void tell_followers_commit(raft *rf)
{
    assert(lab_mutex_held_by_me(&rf->mu));
    wake_all_senders(rf);
}

/* Caller holds rf->mu. A candidate with votes from a majority. */
static void become_leader(raft *rf)
{
    assert(lab_mutex_held_by_me(&rf->mu));
    assert(rf->role == CANDIDATE);
    DPRINTF(LEAD, rf->me, "leader of term %d, log %d..%d", rf->current_term,
            rf->last_included_index, last_log_index(rf));
    rf->role = LEADER;
    for (int i = 0; i < rf->npeers; i++) {
        peer_state *p = &rf->peer_state[i];
        p->vote_due = false;
        p->next_index = last_log_index(rf) + 1;
        p->match_index = 0;
        p->last_sent_ms = 0;    /* a heartbeat is due at once */
        p->append_due = true;
        /*
         * Broadcast, not signal: while we were not leader the idle senders
         * waited with no deadline. Each must now wait until the next
         * heartbeat is due; woken one at a time, the first would send and
         * perhaps get stuck in a call to an unreachable peer, and the rest
         * would sleep on with nobody keeping the heartbeat time.
         */
        if (i != rf->me)
            lab_cond_broadcast(&p->work_cond);
    }
}

/* Caller holds rf->mu. The election timeout has passed: become a
 * candidate in a new term, vote for ourselves, and have the senders ask
 * every peer for its vote. */
static void start_election(raft *rf)
{
    assert(lab_mutex_held_by_me(&rf->mu));
    rf->current_term++;
    rf->role = CANDIDATE;
    rf->voted_for = rf->me;
    rf->votes = 1;
    persist(rf);   /* before any RequestVote leaves: the vote is a promise */
    reset_election_timer(rf);
    DPRINTF(VOTE, rf->me, "candidate in term %d", rf->current_term);
    for (int i = 0; i < rf->npeers; i++) {
        if (i == rf->me)
            continue;
        rf->peer_state[i].vote_due = true;
        wake_sender(rf, &rf->peer_state[i]);
    }
    if (2 * rf->votes > rf->npeers)   /* alone: our own vote is a majority */
        become_leader(rf);
}

/*
 * Caller holds rf->mu, as leader, after a match_index grew. Commits the
 * highest entry N stored on a majority (ourselves included), but only if N
 * is from the current term (section 5.4.2, Figure 8): an earlier term's
 * entry on a majority can still be overwritten by a leader that never had
 * it; once an entry of ours on a majority is committed, the election
 * restriction keeps every earlier entry too. Terms never decrease along
 * the log, so the scan down from the end stops at the first earlier-term
 * entry.
 */
static void leader_advance_commit(raft *rf)
{
    assert(lab_mutex_held_by_me(&rf->mu));
    assert(rf->role == LEADER);
    for (int n = last_log_index(rf); n > rf->commit_index; n--) {
        if (log_term_at(rf, n) != rf->current_term)
            break;
        int count = 1;   /* ourselves */
        for (int i = 0; i < rf->npeers; i++)
            if (i != rf->me && rf->peer_state[i].match_index >= n)
                count++;
        if (2 * count > rf->npeers) {
            DPRINTF(COMMIT, rf->me, "leader commits %d..%d", rf->commit_index + 1, n);
            rf->commit_index = n;
            lab_cond_signal(&rf->apply_cond);
            tell_followers_commit(rf);
            return;
        }
    }
}

/* ---------------------------------------------------------- RequestVote RPC */

/*
 * The RequestVote RPC's arguments and reply (Figure 2). An RPC travels as
 * bytes: each struct has an encode function that appends its fields to a
 * buffer and a decode function that reads them back, in the same order,
 * with the matching codec_get_*.
 */
typedef struct request_vote_args {
    int term;                /* the candidate's term */
    int candidate_id;        /* the candidate requesting the vote */
    int last_log_index;      /* index of the candidate's last log entry */
    int last_log_term;       /* term of the candidate's last log entry */
} request_vote_args;

typedef struct request_vote_reply {
    int term;                /* the receiver's current term */
    bool vote_granted;
} request_vote_reply;

static void encode_request_vote_args(codec_buffer *b, const request_vote_args *a)
{
    codec_put_int(b, a->term);
    codec_put_int(b, a->candidate_id);
    codec_put_int(b, a->last_log_index);
    codec_put_int(b, a->last_log_term);
}

/* True if d held exactly one request_vote_args. */
static bool decode_request_vote_args(codec_decoder *d, request_vote_args *a)
{
    codec_get_int(d, &a->term);
    codec_get_int(d, &a->candidate_id);
    codec_get_int(d, &a->last_log_index);
    codec_get_int(d, &a->last_log_term);
    return codec_decoder_done(d);
}

static void encode_request_vote_reply(codec_buffer *b, const request_vote_reply *r)
{
    codec_put_int(b, r->term);
    codec_put_bool(b, r->vote_granted);
}

/* True if d held exactly one request_vote_reply. */
static bool decode_request_vote_reply(codec_decoder *d, request_vote_reply *r)
{
    codec_get_int(d, &r->term);
    codec_get_bool(d, &r->vote_granted);
    return codec_decoder_done(d);
}

/* Caller holds rf->mu. The election restriction (section 5.4.1): is the
 * candidate's log at least as up to date as ours? The later last term
 * wins; with equal last terms, the longer log. Without it, a server that
 * lacks committed entries could win and overwrite them. */
static bool candidate_log_up_to_date(const raft *rf, const request_vote_args *a)
{
    assert(lab_mutex_held_by_me(&rf->mu));
    int my_last_term = last_log_term(rf);
    return a->last_log_term > my_last_term ||
           (a->last_log_term == my_last_term && a->last_log_index >= last_log_index(rf));
}

/*
 * The RequestVote handler. The network calls it on one of its own threads
 * when a peer's request arrives: possibly several at once, and at the same
 * time as our threads run, so it takes rf->mu for all of the work.
 *
 * It decodes its arguments exactly; if the decoder failed or left bytes
 * over, the network stops the test with a fatal error naming the method.
 * It does the work and returns: it waits for no RPC and no apply channel.
 */
static void request_vote_handler(void *receiver, codec_decoder *args_decoder,
                                 codec_buffer *reply_buffer)
{
    raft *rf = receiver;
    request_vote_args args;
    request_vote_reply reply;

    memset(&args, 0, sizeof args);
    memset(&reply, 0, sizeof reply);
    if (!decode_request_vote_args(args_decoder, &args))
        return;                        /* the network reports the mismatch */

    lab_mutex_lock(&rf->mu);
    DPRINTF(VOTE, rf->me, "RequestVote received in term %d", rf->current_term);
    bool changed = false;
    if (args.term > rf->current_term) {
        new_term(rf, args.term);
        changed = true;
    }
    /* At most one vote per term: voted_for is persisted, so not even a
     * crash lets us vote twice. A repeated request from the candidate we
     * voted for gets the same answer. */
    if (args.term == rf->current_term &&
        (rf->voted_for == -1 || rf->voted_for == args.candidate_id) &&
        candidate_log_up_to_date(rf, &args)) {
        changed |= rf->voted_for != args.candidate_id;
        rf->voted_for = args.candidate_id;
        reply.vote_granted = true;
        /* Only a granted vote resets the timer: a refused candidate must
         * not keep a better one from standing. */
        reset_election_timer(rf);
    }
    reply.term = rf->current_term;
    if (changed)
        persist(rf);   /* before the reply: the reply is a promise */
    DPRINTF(VOTE, rf->me, "%s vote to S%d for term %d", reply.vote_granted ? "grants" : "refuses",
            args.candidate_id, args.term);
    lab_mutex_unlock(&rf->mu);

    encode_request_vote_reply(reply_buffer, &reply);
}

/*
 * Sends a RequestVote RPC to server `server` (an index into rf->peers):
 * *args filled in; if it returns true *reply holds the peer's answer.
 * Caller must not hold rf->mu.
 *
 * The network may delay the request, lose it, or lose the reply. The call
 * returns true when a reply came back, and false when none did; false says
 * nothing about whether the handler ran, and on a dead link it takes up to
 * 7 seconds. The call always returns, so it needs no timeout of our own.
 */
static bool send_request_vote(raft *rf, int server, const request_vote_args *args,
                              request_vote_reply *reply)
{
    assert(!lab_mutex_held_by_me(&rf->mu));
    codec_buffer args_buffer = CODEC_BUFFER_INIT;
    codec_buffer reply_buffer = CODEC_BUFFER_INIT;

    encode_request_vote_args(&args_buffer, args);
    bool ok = labrpc_call(rf->peers[server], "Raft.RequestVote",
                          &args_buffer, &reply_buffer);
    if (ok) {
        codec_decoder d;
        codec_decoder_init(&d, reply_buffer.data, reply_buffer.len);
        if (!decode_request_vote_reply(&d, reply))
            lab_fatal("S%d: RequestVote reply from S%d: %s (decode_request_vote_"
                      "reply must read what encode_request_vote_reply wrote)",
                      rf->me, server, codec_decoder_error(&d));
    }
    codec_buffer_free(&args_buffer);
    codec_buffer_free(&reply_buffer);
    return ok;
}

/*
 * Caller holds rf->mu (released during the call), as a candidate. Asks
 * peer p for its vote in the current term and counts the answer. One
 * request per peer per election (vote_due is set once per term), so a
 * vote is never counted twice; a request lost is not repeated: if the
 * election fails, the next one asks again.
 */
static void ask_for_vote(raft *rf, peer_state *p)
{
    assert(lab_mutex_held_by_me(&rf->mu));
    request_vote_args args = {
        .term = rf->current_term,
        .candidate_id = rf->me,
        .last_log_index = last_log_index(rf),
        .last_log_term = last_log_term(rf),
    };
    request_vote_reply reply = {0};
    p->vote_due = false;

    lab_mutex_unlock(&rf->mu);
    bool ok = send_request_vote(rf, p->server, &args, &reply);
    lab_mutex_lock(&rf->mu);

    if (!ok || rf->dead)
        return;
    if (reply.term > rf->current_term) {
        new_term(rf, reply.term);
        persist(rf);
        return;
    }
    /* A vote counts only in the election it was asked for: still a
     * candidate, still in that term. */
    if (reply.vote_granted && rf->role == CANDIDATE && rf->current_term == args.term) {
        rf->votes++;
        DPRINTF(VOTE, rf->me, "got S%d's vote for term %d (%d of %d)", p->server, args.term,
                rf->votes, rf->npeers);
        if (2 * rf->votes > rf->npeers)
            become_leader(rf);
    }
}

/* -------------------------------------------------------- AppendEntries RPC */

/* The AppendEntries RPC's arguments and reply (Figure 2, plus the fast
 * back-up of section 5.3). */
typedef struct append_entries_args {
    int term;                /* the leader's term */
    int leader_id;
    int prev_log_index;      /* index of the entry just before the new ones */
    int prev_log_term;       /* its term */
    int leader_commit;       /* the leader's commit_index */
    int n_entries;           /* entries prev_log_index + 1 .. on (none: a
                                heartbeat) */
    log_entry *entries;      /* malloc'd, with malloc'd commands: copies
                                that outlive the lock; see
                                free_append_entries_args */
} append_entries_args;

/*
 * On a rejection because the logs do not match at prev_log_index, the
 * follower says where they part, so that the leader skips a whole term per
 * round trip instead of one entry: conflict_term is the term of its entry
 * at prev_log_index and conflict_index the first index it holds with that
 * term; or, if it has no entry at prev_log_index, conflict_term is -1 and
 * conflict_index is its last index + 1.
 */
typedef struct append_entries_reply {
    int term;                /* the receiver's current term */
    bool success;            /* it holds entries through prev_log_index +
                                n_entries, matching the leader's */
    int conflict_term;
    int conflict_index;
} append_entries_reply;

static void free_append_entries_args(append_entries_args *a)
{
    for (int i = 0; i < a->n_entries; i++)
        free(a->entries[i].command);
    free(a->entries);
    a->entries = NULL;
    a->n_entries = 0;
}

static void encode_append_entries_args(codec_buffer *b, const append_entries_args *a)
{
    codec_put_int(b, a->term);
    codec_put_int(b, a->leader_id);
    codec_put_int(b, a->prev_log_index);
    codec_put_int(b, a->prev_log_term);
    codec_put_int(b, a->leader_commit);
    codec_put_int(b, a->n_entries);
    for (int i = 0; i < a->n_entries; i++) {
        codec_put_int(b, a->entries[i].term);
        codec_put_bytes(b, a->entries[i].command, a->entries[i].command_len);
    }
}

/* True if d held exactly one append_entries_args. Whatever it returns,
 * free_append_entries_args(a) frees what it decoded. As in read_persist,
 * the entries array grows as entries arrive, never by the count. */
static bool decode_append_entries_args(codec_decoder *d, append_entries_args *a)
{
    int n = 0, cap = 0;
    codec_get_int(d, &a->term);
    codec_get_int(d, &a->leader_id);
    codec_get_int(d, &a->prev_log_index);
    codec_get_int(d, &a->prev_log_term);
    codec_get_int(d, &a->leader_commit);
    codec_get_int(d, &n);
    for (int i = 0; i < n && codec_decoder_ok(d); i++) {
        log_entry e = {0};
        if (!codec_get_int(d, &e.term) || !codec_get_bytes(d, &e.command, &e.command_len))
            break;
        if (a->n_entries == cap) {
            cap = cap ? 2 * cap : 8;
            a->entries = lab_realloc(a->entries, (size_t)cap * sizeof *a->entries);
        }
        a->entries[a->n_entries++] = e;
    }
    return codec_decoder_done(d);
}

static void encode_append_entries_reply(codec_buffer *b, const append_entries_reply *r)
{
    codec_put_int(b, r->term);
    codec_put_bool(b, r->success);
    codec_put_int(b, r->conflict_term);
    codec_put_int(b, r->conflict_index);
}

/* True if d held exactly one append_entries_reply. */
static bool decode_append_entries_reply(codec_decoder *d, append_entries_reply *r)
{
    codec_get_int(d, &r->term);
    codec_get_bool(d, &r->success);
    codec_get_int(d, &r->conflict_term);
    codec_get_int(d, &r->conflict_index);
    return codec_decoder_done(d);
}

/*
 * Caller holds rf->mu; the logs match at a->prev_log_index. Stores the
 * leader's entries, deleting ours only from the first one that conflicts
 * (same index, other term). An entry we already hold is kept: a delayed or
 * repeated request may be shorter than our log, and truncating to it would
 * drop entries we have acknowledged, perhaps ones the leader counted toward
 * a commit. Returns whether the log changed.
 */
static bool merge_entries(raft *rf, const append_entries_args *a)
{
    assert(lab_mutex_held_by_me(&rf->mu));
    bool changed = false;
    for (int i = 0; i < a->n_entries; i++) {
        int index = a->prev_log_index + 1 + i;
        const log_entry *e = &a->entries[i];
        if (index <= rf->last_included_index)
            continue;   /* in our snapshot: committed, hence the same */
        if (index <= last_log_index(rf)) {
            if (log_term_at(rf, index) == e->term)
                continue;   /* same index and term: same entry (Log Matching) */
            /* A conflict is never committed: the leader holds every
             * committed entry (Leader Completeness). */
            assert(index > rf->commit_index);
            DPRINTF(LOG, rf->me, "conflict at %d: dropping %d..%d", index, index,
                    last_log_index(rf));
            log_truncate_from(rf, index);
        }
        log_append(rf, e->term, e->command, e->command_len);
        changed = true;
    }
    return changed;
}

/*
 * The AppendEntries handler: Figure 2's receiver rules. Persists before
 * replying when the term, the vote or the log changed: a success is a
 * promise the leader counts toward a commit.
 */
static void append_entries_handler(void *receiver, codec_decoder *args_decoder,
                                   codec_buffer *reply_buffer)
{
    raft *rf = receiver;
    append_entries_args args;
    append_entries_reply reply;

    memset(&args, 0, sizeof args);
    memset(&reply, 0, sizeof reply);
    if (!decode_append_entries_args(args_decoder, &args)) {
        free_append_entries_args(&args);
        return;                        /* the network reports the mismatch */
    }

    lab_mutex_lock(&rf->mu);
    bool changed = false;
    reply.conflict_term = -1;
    if (args.term < rf->current_term)
        goto out;   /* a stale leader: our term in the reply deposes it */
    if (args.term > rf->current_term) {
        new_term(rf, args.term);
        changed = true;
    }
    /* From the leader of our term: there is one per term, so not us; a
     * candidate in this term has lost and follows. */
    assert(rf->role != LEADER);
    rf->role = FOLLOWER;
    reset_election_timer(rf);

    if (args.prev_log_index > last_log_index(rf)) {
        /* We have no entry at prev_log_index. */
        reply.conflict_index = last_log_index(rf) + 1;
        goto out;
    }
    /* At or below last_included_index the entries are in our snapshot:
     * committed, so they match the leader's. */
    if (args.prev_log_index > rf->last_included_index &&
        log_term_at(rf, args.prev_log_index) != args.prev_log_term) {
        reply.conflict_term = log_term_at(rf, args.prev_log_index);
        reply.conflict_index = args.prev_log_index;
        while (reply.conflict_index - 1 > rf->last_included_index &&
               log_term_at(rf, reply.conflict_index - 1) == reply.conflict_term)
            reply.conflict_index--;
        goto out;
    }
    changed |= merge_entries(rf, &args);
    reply.success = true;

    /* Commit no further than the last entry this request vouches for: an
     * entry after it in our log may not be the leader's. */
    int last_new = args.prev_log_index + args.n_entries;
    int commit = args.leader_commit < last_new ? args.leader_commit : last_new;
    if (commit > rf->commit_index) {
        DPRINTF(COMMIT, rf->me, "follower commits %d..%d", rf->commit_index + 1, commit);
        rf->commit_index = commit;
        lab_cond_signal(&rf->apply_cond);
    }

out:
    reply.term = rf->current_term;
    if (changed)
        persist(rf);
    if (args.n_entries > 0 || !reply.success)
        DPRINTF(APPEND, rf->me, "from S%d term %d prev %d/%d +%d: %s (conflict %d at %d)",
                args.leader_id, args.term, args.prev_log_index, args.prev_log_term,
                args.n_entries, reply.success ? "ok" : "rejected", reply.conflict_term,
                reply.conflict_index);
    lab_mutex_unlock(&rf->mu);

    encode_append_entries_reply(reply_buffer, &reply);
    free_append_entries_args(&args);
}

/* Like send_request_vote, for AppendEntries. Caller must not hold rf->mu. */
static bool send_append_entries(raft *rf, int server, const append_entries_args *args,
                                append_entries_reply *reply)
{
    assert(!lab_mutex_held_by_me(&rf->mu));
    codec_buffer args_buffer = CODEC_BUFFER_INIT;
    codec_buffer reply_buffer = CODEC_BUFFER_INIT;

    encode_append_entries_args(&args_buffer, args);
    bool ok = labrpc_call(rf->peers[server], "Raft.AppendEntries",
                          &args_buffer, &reply_buffer);
    if (ok) {
        codec_decoder d;
        codec_decoder_init(&d, reply_buffer.data, reply_buffer.len);
        if (!decode_append_entries_reply(&d, reply))
            lab_fatal("S%d: AppendEntries reply from S%d: %s", rf->me, server,
                      codec_decoder_error(&d));
    }
    codec_buffer_free(&args_buffer);
    codec_buffer_free(&reply_buffer);
    return ok;
}

/*
 * Caller holds rf->mu, as leader. Where to send from next after peer p
 * rejected *a: if we hold entries of the conflict term, just after our
 * last one of it (the logs may agree through there); otherwise from the
 * follower's first entry of that term, all of which are wrong; and if the
 * follower's log was too short, from its end.
 */
static int next_index_after_conflict(const raft *rf, const append_entries_args *a,
                                     const append_entries_reply *r)
{
    assert(lab_mutex_held_by_me(&rf->mu));
    if (r->conflict_term < 0)
        return r->conflict_index;
    int from = a->prev_log_index < last_log_index(rf) ? a->prev_log_index : last_log_index(rf);
    for (int i = from; i > rf->last_included_index; i--) {
        int term = log_term_at(rf, i);
        if (term == r->conflict_term)
            return i + 1;
        if (term < r->conflict_term)
            break;   /* terms only decrease from here: we have none of it */
    }
    return r->conflict_index;
}

/*
 * Caller holds rf->mu. The bookkeeping around every AppendEntries and
 * InstallSnapshot to p: request_leaves() as it leaves (it returns the
 * request's number), request_returned() when its call returns, whether a
 * reply came or not. Only the latest request counts for next_job: an
 * older one may be stuck for seconds in a call made while p was cut off,
 * and must not hold back what p needs now that it is back.
 */
static int request_leaves(raft *rf, peer_state *p)
{
    assert(lab_mutex_held_by_me(&rf->mu));
    UNUSED(rf);   /* only asserted on: unused when NDEBUG compiles asserts out */
    p->append_due = false;   /* every request carries all there is */
    p->latest_in_flight = true;
    p->last_sent_ms = lab_now_ms();
    return ++p->requests_sent;
}

static void request_returned(raft *rf, peer_state *p, int request)
{
    assert(lab_mutex_held_by_me(&rf->mu));
    UNUSED(rf);   /* only asserted on: unused when NDEBUG compiles asserts out */
    if (request == p->requests_sent)
        p->latest_in_flight = false;
}

/*
 * Caller holds rf->mu (released during the call), as leader, with
 * p->next_index > last_included_index. Sends p every entry from its
 * next_index on (none when it is up to date: a heartbeat) and the commit
 * index, and handles the reply.
 *
 * matchIndex is computed from what the request carried, not from our log,
 * which may have grown since: the follower vouched for these entries only.
 * Replies arrive late and out of order, so match_index and next_index are
 * only ever raised by a success, and a stale rejection cannot drop
 * next_index to or below what the peer is known to hold.
 */
static void replicate_to(raft *rf, peer_state *p)
{
    assert(lab_mutex_held_by_me(&rf->mu));
    assert(rf->role == LEADER && p->next_index > rf->last_included_index);
    append_entries_args args = {
        .term = rf->current_term,
        .leader_id = rf->me,
        .prev_log_index = p->next_index - 1,
        .prev_log_term = log_term_at(rf, p->next_index - 1),
        .leader_commit = rf->commit_index,
        .n_entries = last_log_index(rf) - (p->next_index - 1),
    };
    /* Copies, never pointers into the log: it may move or be trimmed while
     * the lock is released. */
    args.entries = lab_malloc((size_t)(args.n_entries ? args.n_entries : 1) * sizeof *args.entries);
    for (int i = 0; i < args.n_entries; i++) {
        const log_entry *e = log_entry_at(rf, p->next_index + i);
        args.entries[i] = (log_entry){e->term, lab_memdup(e->command, e->command_len),
                                      e->command_len};
    }
    append_entries_reply reply = {0};
    int request = request_leaves(rf, p);
    if (args.n_entries > 0)
        DPRINTF(APPEND, rf->me, "to S%d: %d..%d, commit %d", p->server, args.prev_log_index + 1,
                args.prev_log_index + args.n_entries, args.leader_commit);
    else
        DPRINTF2(APPEND, rf->me, "heartbeat to S%d, commit %d", p->server, args.leader_commit);

    lab_mutex_unlock(&rf->mu);
    bool ok = send_append_entries(rf, p->server, &args, &reply);
    lab_mutex_lock(&rf->mu);

    request_returned(rf, p, request);
    /*
     * No reply (lost, or p unreachable): nothing to do. The next heartbeat
     * sends the same entries again (Figure 2's "retry indefinitely"). Not
     * at once: when the tester crashes a server it first makes every call
     * to it fail at once, and an immediate retry would spin until the kill.
     */
    if (!ok || rf->dead) {
        /* nothing */
    } else if (reply.term > rf->current_term) {
        new_term(rf, reply.term);
        persist(rf);
    } else if (rf->role != LEADER || rf->current_term != args.term) {
        /* A reply to an earlier term's request, or we no longer lead. */
    } else if (reply.success) {
        int match = args.prev_log_index + args.n_entries;
        if (match > p->match_index)
            p->match_index = match;
        if (match + 1 > p->next_index)
            p->next_index = match + 1;
        leader_advance_commit(rf);
    } else {
        int next = next_index_after_conflict(rf, &args, &reply);
        if (next <= p->match_index)
            next = p->match_index + 1;
        if (next > last_log_index(rf) + 1)
            next = last_log_index(rf) + 1;
        if (next < 1)
            next = 1;
        DPRINTF(APPEND, rf->me, "S%d rejected prev %d: next %d -> %d", p->server,
                args.prev_log_index, p->next_index, next);
        p->next_index = next;
        p->append_due = true;
    }
    free_append_entries_args(&args);
}

/* ------------------------------------------------------ InstallSnapshot RPC */

/* The InstallSnapshot RPC's arguments and reply (Figure 13), the whole
 * snapshot in one RPC: no offset, no done. */
typedef struct install_snapshot_args {
    int term;                /* the leader's term */
    int leader_id;
    int last_included_index; /* the snapshot replaces the log through here */
    int last_included_term;  /* the term of that entry */
    uint8_t *data;           /* the snapshot: malloc'd, the holder frees it */
    size_t data_len;
} install_snapshot_args;

typedef struct install_snapshot_reply {
    int term;                /* the receiver's current term */
} install_snapshot_reply;

static void encode_install_snapshot_args(codec_buffer *b, const install_snapshot_args *a)
{
    codec_put_int(b, a->term);
    codec_put_int(b, a->leader_id);
    codec_put_int(b, a->last_included_index);
    codec_put_int(b, a->last_included_term);
    codec_put_bytes(b, a->data, a->data_len);
}

/* True if d held exactly one install_snapshot_args. a->data is malloc'd
 * (or NULL) whatever it returns: the caller frees it. */
static bool decode_install_snapshot_args(codec_decoder *d, install_snapshot_args *a)
{
    codec_get_int(d, &a->term);
    codec_get_int(d, &a->leader_id);
    codec_get_int(d, &a->last_included_index);
    codec_get_int(d, &a->last_included_term);
    codec_get_bytes(d, &a->data, &a->data_len);
    return codec_decoder_done(d);
}

static void encode_install_snapshot_reply(codec_buffer *b, const install_snapshot_reply *r)
{
    codec_put_int(b, r->term);
}

/* True if d held exactly one install_snapshot_reply. */
static bool decode_install_snapshot_reply(codec_decoder *d, install_snapshot_reply *r)
{
    codec_get_int(d, &r->term);
    return codec_decoder_done(d);
}

/*
 * The InstallSnapshot handler. A snapshot that covers no more than our
 * commit index is old news (a delayed or repeated request): we already
 * hold all of it, committed. Otherwise it replaces our log through its last
 * index, keeping the entries after it if our log agrees at that index (a
 * follower that was merely behind), dropping the whole log if not. The
 * applier hands it to the service, in order with the commands.
 */
static void install_snapshot_handler(void *receiver, codec_decoder *args_decoder,
                                     codec_buffer *reply_buffer)
{
    raft *rf = receiver;
    install_snapshot_args args;
    install_snapshot_reply reply;

    memset(&args, 0, sizeof args);
    memset(&reply, 0, sizeof reply);
    if (!decode_install_snapshot_args(args_decoder, &args)) {
        free(args.data);
        return;                        /* the network reports the mismatch */
    }

    lab_mutex_lock(&rf->mu);
    bool changed = false;
    if (args.term >= rf->current_term) {
        if (args.term > rf->current_term) {
            new_term(rf, args.term);
            changed = true;
        }
        assert(rf->role != LEADER);   /* one leader per term */
        rf->role = FOLLOWER;
        reset_election_timer(rf);

        if (args.last_included_index > rf->commit_index) {
            if (args.last_included_index <= last_log_index(rf) &&
                log_term_at(rf, args.last_included_index) == args.last_included_term)
                log_discard_through(rf, args.last_included_index, args.last_included_term);
            else
                log_reset(rf, args.last_included_index, args.last_included_term);
            free(rf->snapshot);
            rf->snapshot = args.data;   /* ours now */
            rf->snapshot_len = args.data_len;
            args.data = NULL;
            rf->commit_index = args.last_included_index;
            rf->snapshot_pending = true;
            lab_cond_signal(&rf->apply_cond);
            changed = true;
            DPRINTF(SNAP, rf->me, "installed S%d's snapshot through %d (term %d), log %d..%d",
                    args.leader_id, args.last_included_index, args.last_included_term,
                    rf->last_included_index, last_log_index(rf));
        }
    }
    reply.term = rf->current_term;
    if (changed)
        persist(rf);   /* the snapshot with the trimmed log, at once */
    lab_mutex_unlock(&rf->mu);

    encode_install_snapshot_reply(reply_buffer, &reply);
    free(args.data);
}

/* Like send_request_vote, for InstallSnapshot. Caller must not hold rf->mu. */
static bool send_install_snapshot(raft *rf, int server, const install_snapshot_args *args,
                                  install_snapshot_reply *reply)
{
    assert(!lab_mutex_held_by_me(&rf->mu));
    codec_buffer args_buffer = CODEC_BUFFER_INIT;
    codec_buffer reply_buffer = CODEC_BUFFER_INIT;

    encode_install_snapshot_args(&args_buffer, args);
    bool ok = labrpc_call(rf->peers[server], "Raft.InstallSnapshot",
                          &args_buffer, &reply_buffer);
    if (ok) {
        codec_decoder d;
        codec_decoder_init(&d, reply_buffer.data, reply_buffer.len);
        if (!decode_install_snapshot_reply(&d, reply))
            lab_fatal("S%d: InstallSnapshot reply from S%d: %s", rf->me, server,
                      codec_decoder_error(&d));
    }
    codec_buffer_free(&args_buffer);
    codec_buffer_free(&reply_buffer);
    return ok;
}

/*
 * Caller holds rf->mu (released during the call), as leader, with
 * p->next_index <= last_included_index: the entries p needs are gone, so
 * it gets our snapshot. On success p holds everything through its last
 * index.
 */
static void send_snapshot_to(raft *rf, peer_state *p)
{
    assert(lab_mutex_held_by_me(&rf->mu));
    assert(rf->role == LEADER && p->next_index <= rf->last_included_index);
    install_snapshot_args args = {
        .term = rf->current_term,
        .leader_id = rf->me,
        .last_included_index = rf->last_included_index,
        .last_included_term = rf->last_included_term,
        .data = lab_memdup(rf->snapshot, rf->snapshot_len),
        .data_len = rf->snapshot_len,
    };
    install_snapshot_reply reply = {0};
    int request = request_leaves(rf, p);
    DPRINTF(SNAP, rf->me, "sending snapshot through %d to S%d", args.last_included_index,
            p->server);

    lab_mutex_unlock(&rf->mu);
    bool ok = send_install_snapshot(rf, p->server, &args, &reply);
    lab_mutex_lock(&rf->mu);

    request_returned(rf, p, request);
    if (!ok || rf->dead) {
        /* nothing: the next heartbeat tries again, as in replicate_to */
    } else if (reply.term > rf->current_term) {
        new_term(rf, reply.term);
        persist(rf);
    } else if (rf->role == LEADER && rf->current_term == args.term) {
        if (args.last_included_index > p->match_index)
            p->match_index = args.last_included_index;
        if (args.last_included_index + 1 > p->next_index)
            p->next_index = args.last_included_index + 1;
        leader_advance_commit(rf);
        p->append_due = true;   /* the entries after the snapshot */
    }
    free(args.data);
}

/* The tester calls this once, after raft_make: it makes our handlers
 * reachable from the network. */
void raft_register_service(raft *rf, labrpc_server *srv)
{
    labrpc_service *svc = labrpc_service_make("Raft", rf);
    labrpc_service_add_method(svc, "RequestVote", request_vote_handler);
    labrpc_service_add_method(svc, "AppendEntries", append_entries_handler);
    labrpc_service_add_method(svc, "InstallSnapshot", install_snapshot_handler);
    labrpc_server_add_service(srv, svc);
}

/* ------------------------------------------------------------ the senders */

typedef enum { JOB_NONE, JOB_VOTE, JOB_APPEND, JOB_SNAPSHOT } sender_job;
#define NEVER INT64_MAX

/*
 * Caller holds rf->mu. What a sender of peer p should do now; for JOB_NONE,
 * *wake_at_ms is when a heartbeat falls due without any event, or NEVER.
 *
 * A candidate asks once per election (vote_due). A leader sends p an
 * AppendEntries (or, if p needs entries our snapshot has discarded, the
 * snapshot) when a heartbeat is due, HEARTBEAT_MS after the last one left;
 * and at once when there is news for p (append_due: new entries, a higher
 * commit index, a rejection to answer) unless the latest request to p is
 * still in flight. That one carries everything p lacked when it left, and
 * its reply, which comes back in microseconds on a healthy link, tells
 * what is still missing: a second request now would repeat the same
 * entries (2B t10 counts the RPCs). A heartbeat goes even beside requests
 * in flight, which may be stuck for seconds in calls to a peer that was
 * cut off: that is what the other senders are for.
 */
static sender_job next_job(const raft *rf, const peer_state *p, int64_t *wake_at_ms)
{
    assert(lab_mutex_held_by_me(&rf->mu));
    *wake_at_ms = NEVER;
    if (rf->role == CANDIDATE)
        return p->vote_due ? JOB_VOTE : JOB_NONE;
    if (rf->role != LEADER)
        return JOB_NONE;
    int64_t heartbeat_at_ms = p->last_sent_ms + HEARTBEAT_MS;
    if ((p->append_due && !p->latest_in_flight) || lab_now_ms() >= heartbeat_at_ms)
        return p->next_index <= rf->last_included_index ? JOB_SNAPSHOT : JOB_APPEND;
    *wake_at_ms = heartbeat_at_ms;
    return JOB_NONE;
}

/*
 * A sender thread of peer p (there are SENDERS_PER_PEER, all alike): waits
 * on p->work_cond for work, does it (the job functions release rf->mu
 * during the call), and looks again. Whoever makes work due signals
 * work_cond; a signal that finds every sender in a call is not lost, as
 * each looks for work when its call returns.
 */
static void *sender(void *arg)
{
    peer_state *p = arg;
    raft *rf = p->rf;

    lab_mutex_lock(&rf->mu);
    while (!rf->dead) {
        int64_t wake_at_ms;
        switch (next_job(rf, p, &wake_at_ms)) {
        case JOB_VOTE:
            ask_for_vote(rf, p);
            break;
        case JOB_APPEND:
            replicate_to(rf, p);
            break;
        case JOB_SNAPSHOT:
            send_snapshot_to(rf, p);
            break;
        case JOB_NONE:
            if (wake_at_ms == NEVER)
                lab_cond_wait(&p->work_cond, &rf->mu);
            else
                lab_cond_wait_until(&p->work_cond, &rf->mu, wake_at_ms);
            break;
        }
    }
    lab_mutex_unlock(&rf->mu);
    return NULL;
}

/* ------------------------------------------------------------ the ticker */

/*
 * The ticker thread: wakes every 50 to 349 ms and decides whether an
 * election should start: has this server, not being the leader, heard
 * nothing from a leader (and granted no vote) for longer than its election
 * timeout? The pause is random, and every server has its own random
 * stream, so that servers rarely time out together and split the vote.
 */
static void *ticker(void *arg)
{
    raft *rf = arg;

    lab_mutex_lock(&rf->mu);
    DPRINTF(TIMER, rf->me, "ticker starts in term %d", rf->current_term);
    while (!rf->dead) {
        if (rf->role != LEADER &&
            lab_now_ms() - rf->election_reset_ms >= rf->election_timeout_ms) {
            DPRINTF(TIMER, rf->me, "election timeout in term %d", rf->current_term);
            start_election(rf);
        }

        int64_t pause_ms = 50 + (int64_t)lab_rand_below(&rf->rand, 300);
        DPRINTF2(TIMER, rf->me, "next check in %" PRId64 " ms", pause_ms);
        sleep_unless_killed(rf, pause_ms);
    }
    DPRINTF(TIMER, rf->me, "ticker stops");
    lab_mutex_unlock(&rf->mu);
    return NULL;
}

/* ------------------------------------------------------------ the applier */

/*
 * The applier thread: the only sender on the apply channel, so messages
 * leave in log order. Each message is a copy made under the lock, sent
 * with the lock released (the log may change meanwhile; and the service
 * may call raft_snapshot, which takes rf->mu, before it receives again).
 *
 * An installed snapshot goes first, unless the service is already past it
 * (it must never go back). Then commands from last_applied + 1 on: the
 * snapshot left last_applied at least at last_included_index, so they are
 * all in the log. last_applied advances before the send, as in the
 * skeleton's outline: when the service calls raft_snapshot for the command
 * it just received, last_applied already covers it.
 */
static void *applier(void *arg)
{
    raft *rf = arg;

    lab_mutex_lock(&rf->mu);
    while (!rf->dead) {
        apply_msg msg;
        memset(&msg, 0, sizeof msg);
        if (rf->snapshot_pending) {
            rf->snapshot_pending = false;
            if (rf->last_included_index <= rf->last_applied)
                continue;
            rf->last_applied = rf->last_included_index;
            msg.snapshot_valid = true;
            msg.snapshot = lab_memdup(rf->snapshot, rf->snapshot_len);
            msg.snapshot_len = rf->snapshot_len;
            msg.snapshot_term = rf->last_included_term;
            msg.snapshot_index = rf->last_included_index;
            DPRINTF(APPLY, rf->me, "applying snapshot through %d", msg.snapshot_index);
        } else if (rf->last_applied < rf->commit_index) {
            assert(rf->last_applied >= rf->last_included_index);
            rf->last_applied++;
            const log_entry *e = log_entry_at(rf, rf->last_applied);
            msg.command_valid = true;
            msg.command = lab_memdup(e->command, e->command_len);
            msg.command_len = e->command_len;
            msg.command_index = rf->last_applied;
            DPRINTF2(APPLY, rf->me, "applying %d", msg.command_index);
        } else {
            lab_cond_wait(&rf->apply_cond, &rf->mu);
            continue;
        }
        lab_mutex_unlock(&rf->mu);
        bool ok = applych_send(rf->applych, &msg);   /* blocks */
        free(msg.command);
        free(msg.snapshot);
        lab_mutex_lock(&rf->mu);
        if (!ok)
            break;      /* channel closed: we are being killed */
    }
    lab_mutex_unlock(&rf->mu);
    return NULL;
}

/* ------------------------------------------------------------ the API */

/*
 * The service wants to agree on a new command, len bytes at `command`. If
 * this server is not the leader, return false. Otherwise append a copy of
 * the command to the log (the buffer is the caller's), persist, wake the
 * senders, and return true at once: it commits, or not, later.
 *
 * It must return at once, and behave even after raft_kill began: it never
 * waits here for a thread of ours, which may have exited.
 */
bool raft_start(raft *rf, const void *command, size_t len, int *index, int *term)
{
    bool is_leader = false;

    lab_mutex_lock(&rf->mu);
    *index = -1;
    *term = rf->current_term;
    if (!rf->dead && rf->role == LEADER) {
        is_leader = true;
        log_append(rf, rf->current_term, command, len);
        persist(rf);
        *index = last_log_index(rf);
        DPRINTF(LEAD, rf->me, "start: entry %d in term %d", *index, rf->current_term);
        wake_all_senders(rf);
        if (rf->npeers == 1)
            leader_advance_commit(rf);   /* alone: we are the majority */
    }
    lab_mutex_unlock(&rf->mu);

    return is_leader;
}

/* This server's current term, and whether it believes it is the leader. */
void raft_get_state(raft *rf, int *term, bool *is_leader)
{
    lab_mutex_lock(&rf->mu);
    *term = rf->current_term;
    *is_leader = rf->role == LEADER;
    lab_mutex_unlock(&rf->mu);
}

/*
 * The service has a snapshot (len bytes) that includes every command
 * through log index `index`, and no longer needs the log up to there.
 * Discard those entries, keep a copy of the snapshot, and persist state
 * and snapshot together.
 *
 * The tester calls this from its applier thread, the very thread that
 * receives from the apply channel; our applier never holds rf->mu while it
 * sends, so this cannot deadlock with it. An index at or below our
 * snapshot is old news (an installed snapshot overtook it). The service
 * can snapshot only what it has received, so an index past last_applied
 * cannot happen.
 */
void raft_snapshot(raft *rf, int index, const void *snapshot, size_t len)
{
    lab_mutex_lock(&rf->mu);
    assert(index <= rf->last_applied);
    if (index > rf->last_included_index && index <= rf->last_applied) {
        log_discard_through(rf, index, log_term_at(rf, index));
        free(rf->snapshot);
        rf->snapshot = lab_memdup(snapshot, len);
        rf->snapshot_len = len;
        persist(rf);
        DPRINTF(SNAP, rf->me, "service snapshot through %d, log %d..%d", index,
                rf->last_included_index, last_log_index(rf));
    }
    lab_mutex_unlock(&rf->mu);
}

/*
 * Stops this server: the tester calls it when it crashes a server and at
 * the end of a test. Set rf->dead under the lock, wake every thread that
 * may be waiting (broadcast every condition variable), then join every
 * thread. Before it calls raft_kill the tester makes sure none of our
 * threads can be stuck outside our control: a labrpc_call in progress
 * returns false at once, an applych_send returns false, and no handler of
 * this server is running. So the joins are quick.
 */
void raft_kill(raft *rf)
{
    lab_mutex_lock(&rf->mu);
    rf->dead = true;
    lab_cond_broadcast(&rf->sleep_cond);
    lab_cond_broadcast(&rf->apply_cond);
    for (int i = 0; i < rf->npeers; i++)
        if (i != rf->me)
            lab_cond_broadcast(&rf->peer_state[i].work_cond);
    DPRINTF(TIMER, rf->me, "killed in term %d", rf->current_term);
    lab_mutex_unlock(&rf->mu);

    lab_thread_join(&rf->ticker_thread);
    lab_thread_join(&rf->applier_thread);
    for (int i = 0; i < rf->npeers; i++) {
        if (i == rf->me)
            continue;
        for (int k = 0; k < SENDERS_PER_PEER; k++)
            lab_thread_join(&rf->peer_state[i].senders[k]);
        lab_cond_destroy(&rf->peer_state[i].work_cond);
    }

    log_reset(rf, rf->last_included_index, rf->last_included_term);   /* frees commands */
    free(rf->log);
    free(rf->snapshot);
    free(rf->peer_state);
    lab_cond_destroy(&rf->sleep_cond);
    lab_cond_destroy(&rf->apply_cond);
    lab_mutex_destroy(&rf->mu);
    free(rf->peers);
    free(rf);
}

/*
 * Creates server `me` of npeers. peers are the RPC ends to all servers
 * (peers[me] is our own); the array is copied, the ends stay the network's.
 * ps holds what this server saved before it crashed, if it did; ch is where
 * committed commands go. It returns quickly: the work is in its threads.
 */
raft *raft_make(labrpc_end **peers, int npeers, int me, persister *ps, applych *ch)
{
    raft *rf = lab_calloc(1, sizeof *rf);
    char name[48];

    rf->peers = lab_malloc((unsigned long)npeers * sizeof *rf->peers);
    memcpy(rf->peers, peers, (size_t)npeers * sizeof *rf->peers);
    rf->npeers = npeers;
    rf->me = me;
    rf->persister = ps;
    rf->applych = ch;

    lab_mutex_init(&rf->mu, "rf->mu");
    lab_cond_init(&rf->sleep_cond);
    lab_cond_init(&rf->apply_cond);
    /* A stream of our own, different on every server and every start. */
    snprintf(name, sizeof name, "S%d", me);
    lab_rand_seed_labelled(&rf->rand, (uint64_t)lab_now_us(), name);

    rf->voted_for = -1;
    rf->role = FOLLOWER;
    rf->peer_state = lab_calloc((size_t)npeers, sizeof *rf->peer_state);
    for (int i = 0; i < npeers; i++) {
        rf->peer_state[i].rf = rf;
        rf->peer_state[i].server = i;
        if (i != me)
            lab_cond_init(&rf->peer_state[i].work_cond);
    }

    /* Restore what was saved before a crash (nothing on a first start),
     * and the snapshot, which every later persist() passes along. The
     * tester has restored the service from the snapshot already, so
     * applying resumes after it. */
    size_t state_len;
    uint8_t *state = persister_read_raft_state(ps, &state_len);
    read_persist(rf, state, state_len);
    free(state);
    rf->snapshot = persister_read_snapshot(ps, &rf->snapshot_len);
    rf->commit_index = rf->last_applied = rf->last_included_index;
    DPRINTF(TERM, rf->me, "starts in term %d, vote %d, log %d..%d", rf->current_term,
            rf->voted_for, rf->last_included_index, last_log_index(rf));

    lab_mutex_lock(&rf->mu);    /* no other thread yet; its assertion asks */
    reset_election_timer(rf);
    lab_mutex_unlock(&rf->mu);

    /* Start the threads last, once the state is complete. */
    snprintf(name, sizeof name, "S%d ticker", me);
    lab_thread_create(&rf->ticker_thread, name, ticker, rf);
    snprintf(name, sizeof name, "S%d applier", me);
    lab_thread_create(&rf->applier_thread, name, applier, rf);
    for (int i = 0; i < npeers; i++) {
        if (i == me)
            continue;
        for (int k = 0; k < SENDERS_PER_PEER; k++) {
            snprintf(name, sizeof name, "S%d sender %d to S%d", me, k, i);
            lab_thread_create(&rf->peer_state[i].senders[k], name, sender, &rf->peer_state[i]);
        }
    }
    return rf;
}

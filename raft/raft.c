/*
 * raft.c: your Raft. This is the one file you write; the tester calls the
 * functions that raft/raft.h declares, and Figure 2 of the extended Raft
 * paper (Ongaro and Ousterhout) says what they must do. Look for "Your code
 * here" and "Your data here", and read the comments on what is done already.
 *
 * The skeleton has the shape we want you to keep:
 *
 *   - One mutex per server, rf->mu, guards all the state that more than one
 *     thread touches. Lock it, look or change, unlock. Don't add finer locks:
 *     one lock is fast enough here, and far easier to get right.
 *   - A thread that waits for something waits on a condition variable,
 *     never in a loop that polls, and checks rf->dead whenever it wakes.
 *   - A ticker thread decides when to start an election.
 *   - raft_kill sets rf->dead, wakes every waiting thread and joins every
 *     thread, then frees the server.
 *
 * HANDOUT.md is the tutorial (section 3: the framework; section 4: each
 * part's steps and hints); the comments here give each function's
 * contract. The three rules it explains, which keep you out of most
 * trouble: never hold rf->mu across labrpc_call or applych_send; after
 * taking rf->mu again, check that the term (and role) is still the one
 * you acted in before using a reply; join every thread in raft_kill.
 *
 * Debugging: DPRINTF (lab/debug.h) prints when VERBOSE=1 is set, e.g.
 * `VERBOSE=1 make test-2A 2>&1 | tools/raftlog`. `make test-2A SAN=thread`
 * reports data races: a race is a bug even when the tests pass.
 */
#include "raft/raft.h"

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
     * broadcasts each one, so a thread waiting on it wakes, sees rf->dead
     * and returns.
     *
     * sleep_cond: sleep_unless_killed() waits on it. Nothing else signals
     * it, so a wait on it is a sleep that raft_kill can cut short.
     *
     * apply_cond: for the applier thread you will write in 2B, which sends
     * committed entries to rf->applych in log order:
     *
     *     lab_mutex_lock(&rf->mu);
     *     while (!rf->dead) {
     *         if (last_applied < commit_index) {
     *             last_applied++;
     *             copy entry last_applied into an apply_msg;
     *             lab_mutex_unlock(&rf->mu);
     *             bool ok = applych_send(rf->applych, &msg);  // blocks
     *             free the copy;
     *             lab_mutex_lock(&rf->mu);
     *             if (!ok)
     *                 break;      // channel closed: we are being killed
     *         } else {
     *             lab_cond_wait(&rf->apply_cond, &rf->mu);
     *         }
     *     }
     *     lab_mutex_unlock(&rf->mu);
     *
     * and, wherever commit_index advances, lab_cond_signal(&rf->apply_cond).
     * The copy matters: while the lock is released the log may change.
     * Add more condition variables as you need them (e.g. one per peer for
     * its sender thread), and broadcast each of them in raft_kill.
     */
    lab_cond sleep_cond;
    lab_cond apply_cond;

    lab_thread ticker_thread;  /* used only by raft_make and raft_kill */

    /*
     * Your data here (2A, 2B, 2C, 2D). Figure 2 lists what each server
     * keeps; mark each field "persistent" if Figure 2 does. current_term is
     * here already because raft_get_state needs it.
     */
    int current_term;        /* latest term this server has seen; persistent */
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
    int64_t deadline_ms = lab_now_ms() + ms;
    while (!rf->dead && lab_now_ms() < deadline_ms)
        lab_cond_wait_until(&rf->sleep_cond, &rf->mu, deadline_ms);
}

/* ------------------------------------------------------------- persistence */

/*
 * Saves the state that Figure 2 calls persistent, so that a server that
 * crashes and restarts comes back with it (raft_make reads it back). Caller
 * holds rf->mu. Call it after every change to persistent state and before
 * anyone can see the change: before replying to an RPC (a vote granted is
 * a promise that must survive a crash) and before sending one.
 *
 * The state is bytes, encoded with the codec. For example, if your log is
 * an array rf->log of rf->log_len entries:
 *
 *     codec_buffer b = CODEC_BUFFER_INIT;
 *     codec_put_int(&b, rf->current_term);
 *     codec_put_int(&b, rf->voted_for);
 *     codec_put_int(&b, rf->log_len);
 *     for (int i = 0; i < rf->log_len; i++) {
 *         codec_put_int(&b, rf->log[i].term);
 *         codec_put_bytes(&b, rf->log[i].command, rf->log[i].command_len);
 *     }
 *     persister_save(rf->persister, b.data, b.len,
 *                    rf->snapshot, rf->snapshot_len);
 *     codec_buffer_free(&b);
 *
 * Every save stores the state *and* the snapshot: there is no "save the
 * state only". The persister replaces both at once, so a crash can never
 * leave a state that disagrees with the snapshot (say, a log trimmed
 * through index 100 next to a snapshot that stops at 50: entries 51 to 100
 * would be gone). So pass the current snapshot every time, unchanged, or
 * NULL, 0 while you have none (before 2D). Passing NULL once you have a
 * snapshot erases it.
 */
static void persist(raft *rf)
{
    /* Your code here (2C). */
    UNUSED(rf);
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

    /*
     * Your code here (2C). Read the fields back in the order persist()
     * wrote them:
     *
     *     codec_decoder d;
     *     codec_decoder_init(&d, data, len);
     *     int log_len;
     *     codec_get_int(&d, &rf->current_term);
     *     codec_get_int(&d, &rf->voted_for);
     *     codec_get_int(&d, &log_len);
     *     for (int i = 0; i < log_len && codec_decoder_ok(&d); i++) {
     *         int term;
     *         uint8_t *command;      // a malloc'd copy, yours to free
     *         size_t command_len;
     *         if (codec_get_int(&d, &term) &&
     *             codec_get_bytes(&d, &command, &command_len))
     *             ... append (term, command, command_len) to rf->log ...
     *     }
     *     if (!codec_decoder_done(&d))
     *         lab_fatal("S%d: cannot read persisted state: %s",
     *                   rf->me, codec_decoder_error(&d));
     *
     * A failed read leaves its output untouched and makes every later read
     * fail, so one check at the end sees any failure. The loop stops early
     * because a wrong count (from a bug) could be a billion: grow the log
     * as entries arrive rather than allocating log_len entries up front.
     *
     * On failure, stop (lab_fatal): these bytes were written by your own
     * persist(), so a failure is a bug, never a state to carry on from.
     */
    UNUSED(rf, data);
}

/* ---------------------------------------------------------- RequestVote RPC */

/*
 * The RequestVote RPC's arguments and reply (Figure 2). Add the fields;
 * for example the candidate's term:
 *
 *     int term;
 *
 * An RPC travels as bytes: each struct has an encode function that appends
 * its fields to a buffer and a decode function that reads them back, in the
 * same order, with the matching codec_get_*. Update both whenever you add a
 * field. (An empty struct is a GNU C extension that gcc and clang accept;
 * once you add a field it is plain C.)
 */
typedef struct request_vote_args {
    /* Your data here (2A, 2B). */
} request_vote_args;

typedef struct request_vote_reply {
    /* Your data here (2A). */
} request_vote_reply;

static void encode_request_vote_args(codec_buffer *b, const request_vote_args *a)
{
    /* Your code here (2A, 2B): one codec_put_* per field, e.g.
     *     codec_put_int(b, a->term);
     */
    UNUSED(b, a);
}

/* True if d held exactly one request_vote_args. */
static bool decode_request_vote_args(codec_decoder *d, request_vote_args *a)
{
    /* Your code here (2A, 2B): the same fields in the same order, e.g.
     *     codec_get_int(d, &a->term);
     */
    UNUSED(a);
    return codec_decoder_done(d);
}

static void encode_request_vote_reply(codec_buffer *b, const request_vote_reply *r)
{
    /* Your code here (2A). */
    UNUSED(b, r);
}

/* True if d held exactly one request_vote_reply. */
static bool decode_request_vote_reply(codec_decoder *d, request_vote_reply *r)
{
    /* Your code here (2A). */
    UNUSED(r);
    return codec_decoder_done(d);
}

/*
 * The RequestVote handler. The network calls it on one of its own threads
 * when a peer's request arrives: possibly several at once, and at the same
 * time as your threads run, so take rf->mu for all of the work.
 *
 * It must decode its arguments exactly: every field the sender encoded, in
 * order, and nothing more. If the decoder failed or left bytes over when
 * the handler returns, caller and handler disagree on the message's format,
 * and the network stops the test with a fatal error naming the method.
 *
 * Do the work and return. A handler must not wait for an RPC of its own or
 * for the apply channel; when a server crashes, the tester waits for its
 * running handlers to finish. If you change persistent state (a new term,
 * a vote), persist() before returning: the reply is a promise.
 */
static void request_vote_handler(void *receiver, codec_decoder *args_decoder,
                                 codec_buffer *reply_buffer)
{
    raft *rf = receiver;
    request_vote_args args;
    request_vote_reply reply;

    memset(&args, 0, sizeof args);
    memset(&reply, 0, sizeof reply);   /* a field you forget to set is 0 */
    if (!decode_request_vote_args(args_decoder, &args))
        return;                        /* the network reports the mismatch */

    lab_mutex_lock(&rf->mu);
    DPRINTF(VOTE, rf->me, "RequestVote received in term %d", rf->current_term);
    /* Your code here (2A, 2B). */
    lab_mutex_unlock(&rf->mu);

    encode_request_vote_reply(reply_buffer, &reply);
}

/*
 * An example of sending a RequestVote RPC to server `server` (an index into
 * rf->peers): fill in *args, call, and if it returns true *reply holds the
 * peer's answer. Caller must not hold rf->mu.
 *
 * A call can take seconds (up to 7 s to a peer that is cut off), and false
 * says only that no reply came back (HANDOUT.md, "The network"). So never
 * hold rf->mu across it or call it from the ticker: ask every peer at once,
 * from threads that can afford to block. A reply can come back after you
 * moved to a later term: take rf->mu and check before using it.
 *
 * The method name must be one that raft_register_service registers.
 */
static bool send_request_vote(raft *rf, int server, const request_vote_args *args,
                              request_vote_reply *reply)
{
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

/* The tester calls this once, after raft_make: it makes our handlers
 * reachable from the network. */
void raft_register_service(raft *rf, labrpc_server *srv)
{
    labrpc_service *svc = labrpc_service_make("Raft", rf);
    labrpc_service_add_method(svc, "RequestVote", request_vote_handler);
    /* Your code here (2A, 2D): "AppendEntries", "InstallSnapshot". */
    labrpc_server_add_service(srv, svc);
}

/* ------------------------------------------------------------ the ticker */

/*
 * The ticker thread: wakes every 50 to 349 ms and decides whether an
 * election should start. The pause is random, and every server has its own
 * random stream, so that servers rarely time out together and split the
 * vote.
 */
static void *ticker(void *arg)
{
    raft *rf = arg;

    lab_mutex_lock(&rf->mu);
    DPRINTF(TIMER, rf->me, "ticker starts in term %d", rf->current_term);
    while (!rf->dead) {
        /*
         * Your code here (2A): should an election start? That is, has this
         * server, not being the leader, heard nothing from a leader (and
         * granted no vote) for longer than its election timeout? If so,
         * start one: become a candidate, move to a new term, vote for
         * yourself, and let other threads ask the peers for their votes.
         * Don't call send_request_vote here; see its comment.
         *
         * The pause below says how often to look, not how long the
         * election timeout is: HANDOUT.md, Part 2A, says how long that and
         * the heartbeat interval should be.
         */

        int64_t pause_ms = 50 + (int64_t)lab_rand_below(&rf->rand, 300);
        DPRINTF2(TIMER, rf->me, "next check in %" PRId64 " ms", pause_ms);
        sleep_unless_killed(rf, pause_ms);
    }
    DPRINTF(TIMER, rf->me, "ticker stops");
    lab_mutex_unlock(&rf->mu);
    return NULL;
}

/* ------------------------------------------------------------ the API */

/*
 * The service (the tester, later a key/value server) wants to agree on a
 * new command, len bytes at `command`. If this server is not the leader,
 * return false. Otherwise append a copy of the command to the log (the
 * buffer is the caller's) and return true at once: don't wait for it to
 * commit. Committed commands come out of the apply channel, in order.
 *
 * *index is where the command will be in the log if it is ever committed,
 * *term the current term. Nothing guarantees that it will ever be
 * committed: the leader may fail or lose an election first.
 *
 * It must return at once, and behave even after raft_kill began: never wait
 * here for a thread of yours, which may have exited.
 */
bool raft_start(raft *rf, const void *command, size_t len, int *index, int *term)
{
    bool is_leader = false;

    lab_mutex_lock(&rf->mu);
    *index = -1;
    *term = rf->current_term;
    /* Your code here (2B). */
    lab_mutex_unlock(&rf->mu);

    UNUSED(command, len);
    return is_leader;
}

/* This server's current term, and whether it believes it is the leader. */
void raft_get_state(raft *rf, int *term, bool *is_leader)
{
    lab_mutex_lock(&rf->mu);
    *term = rf->current_term;
    *is_leader = false;   /* Your code here (2A). */
    lab_mutex_unlock(&rf->mu);
}

/*
 * The service has a snapshot (len bytes) that includes every command
 * through log index `index`, and no longer needs the log up to there.
 * Discard those entries, keep a copy of the snapshot (the buffer is the
 * caller's), and persist state and snapshot together. Remember the index
 * and the term of the last entry discarded: AppendEntries still needs them.
 *
 * The tester calls this from its applier thread, the very thread that
 * receives from the apply channel. If a thread of yours holds rf->mu while
 * blocked in applych_send, this call waits for rf->mu, the applier never
 * receives again, and both wait forever: one more reason never to send
 * under the lock.
 */
void raft_snapshot(raft *rf, int index, const void *snapshot, size_t len)
{
    /* Your code here (2D). */
    UNUSED(rf, index, snapshot, len);
}

/*
 * Stops this server: the tester calls it when it crashes a server and at
 * the end of a test. The pattern is done for you: set rf->dead under the
 * lock, wake every thread that may be waiting (broadcast every condition
 * variable), then join every thread. A thread that wakes sees rf->dead and
 * returns.
 *
 * Every thread you add must be joined here too: add a lab_thread_join for
 * it, and a broadcast for every condition variable it waits on. Free what
 * you allocated (your log, your snapshot). HANDOUT.md, "The kill
 * contract", says what the tester guarantees before this call and checks
 * after it.
 */
void raft_kill(raft *rf)
{
    lab_mutex_lock(&rf->mu);
    rf->dead = true;
    lab_cond_broadcast(&rf->sleep_cond);
    lab_cond_broadcast(&rf->apply_cond);
    /* Your code here: broadcast the condition variables you added. */
    lab_mutex_unlock(&rf->mu);

    lab_thread_join(&rf->ticker_thread);
    /* Your code here: join the threads you added. */

    /* Your code here: free what you allocated. */
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
 * committed commands go. It must return quickly: long-running work belongs
 * in threads it starts.
 */
raft *raft_make(labrpc_end **peers, int npeers, int me, persister *ps, applych *ch)
{
    raft *rf = lab_calloc(1, sizeof *rf);
    char name[32];

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

    /* Your initialization code here (2A, 2B, 2C). */
    UNUSED(persist, send_request_vote);   /* until your code calls them */

    /* Restore what was saved before a crash (nothing on a first start).
     * In 2D, also keep the snapshot (persister_read_snapshot): every later
     * persist() must pass it along. */
    size_t state_len;
    uint8_t *state = persister_read_raft_state(ps, &state_len);
    read_persist(rf, state, state_len);
    free(state);
    DPRINTF(TERM, rf->me, "starts in term %d", rf->current_term);

    /* Start the threads last, once the state is complete. */
    snprintf(name, sizeof name, "S%d ticker", me);
    lab_thread_create(&rf->ticker_thread, name, ticker, rf);
    return rf;
}

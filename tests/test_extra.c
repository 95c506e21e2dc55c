/*
 * test_extra.c: raftlab's extra tests, beyond 6.824's original 28.
 *
 * Each one scripts a schedule that the original tests reach only by chance,
 * or not at all given a Raft shaped like the reference: a classic Raft bug
 * that passes all 28 (LAB_EXTRA_TESTS in harness/lab_policy.h names, for
 * each, the case of raftlab's mutation corpus it catches). They live in
 * their part's suite, named x1_..., x2_..., so they run after the part's
 * original tests, and their banner says that they are extras. A correct
 * Raft passes them: every failure they can report is a broken guarantee
 * (SAFETY, mostly from the continuous monitor and the apply-time agreement
 * check), or no leader or no agreement where a majority is up and
 * connected (LIVENESS, as in the original tests).
 *
 * The tests see only what the original tester sees (raft_get_state, the
 * applied commands) and change only what it changes (crash, restart,
 * connect, disconnect, the network's modes; x3 adds one mode, request
 * reordering). A step whose precondition did not come about (a server won
 * that should not have, a term moved on) gives up its attempt, and the
 * test tries again a bounded number of times.
 */
#include <criterion/criterion.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "harness/harness.h"
#include "harness/support/test_support.h"
#include "lab/sync.h"

/* Every extra test's banner begins with this. */
#define EXTRA_BANNER "Extra test, beyond 6.824's original 28"

/* The term of server i, or -1 if it is down; *leader whether it leads. */
static int term_of(harness *h, int i, bool *leader)
{
    int term = -1;
    bool is_leader = false;
    if (!harness_raft_get_state(h, i, &term, &is_leader))
        term = -1;
    if (leader)
        *leader = is_leader;
    return term;
}

/*
 * The one server of set[0..n-1] that leads a term >= min_term, once the
 * others are in that term too; polled every 10 ms, up to limit_ms. -1 if
 * none came about (the caller gives up its attempt: whether a leader is
 * elected at all, the original tests check).
 */
static int await_leader(harness *h, const int *set, int n, int min_term, int64_t limit_ms)
{
    int64_t deadline = lab_now_ms() + limit_ms;
    while (lab_now_ms() < deadline) {
        int leader = -1, term = -1;
        for (int k = 0; k < n; k++) {
            bool lead;
            int t = term_of(h, set[k], &lead);
            if (lead && t >= min_term && t > term) {
                leader = set[k];
                term = t;
            }
        }
        if (leader >= 0) {
            bool all = true;
            for (int k = 0; k < n; k++)
                all = all && term_of(h, set[k], NULL) == term;
            if (all)
                return leader;
        }
        harness_sleep(h, 10);
    }
    return -1;
}

/* Every server up and connected again, after an attempt. */
static void heal(harness *h, int servers)
{
    for (int i = 0; i < servers; i++) {
        if (!harness_is_alive(h, i))
            harness_start_server(h, i);
        if (!harness_is_connected(h, i))
            harness_connect(h, i);
    }
}

/* ---- x1: a vote survives a restart ------------------------------------------- */

enum {
    X1_ATTEMPTS = 6,
    /* How long the late candidate has been waiting, at least, before the
     * restarted voter starts its own timer: less than any election timeout
     * (the paper's are at least 150 ms, the reference's 300 ms). */
    X1_HEAD_START_MS = 140,
};

/*
 * Three servers. L wins term a with V's vote while P is down, so P cannot
 * have voted in a. P comes back cut off, in term a-1. V crashes and
 * restarts, L is cut off, and V and P are put together: P's timer is the
 * older, so P usually becomes a candidate of term a first and asks V,
 * which voted for L in a. A V that forgot its vote grants it, P wins, and
 * L and P both lead term a (the monitor: SAFETY "Election Safety").
 * Catches: votedFor not persisted, or not read back in raft_make (the
 * original tests restart voters only by chance at such a moment).
 */
Test(raft2C, x1_vote_survives_restart)
{
    int servers = 3;
    harness *h = harness_make(servers, false, false);
    harness_begin(h, EXTRA_BANNER " (2C): a vote survives a restart");

    for (int attempt = 0; attempt < X1_ATTEMPTS; attempt++) {
        int leader0 = harness_check_one_leader(h);
        int p = (leader0 + 1 + (int)harness_rand(h, 2)) % servers;
        int v = servers - leader0 - p;   /* 0 + 1 + 2 = 3 */
        int tp = term_of(h, p, NULL);
        harness_crash_server(h, p);

        /* A new election between leader0 and v: whoever wins term a > tp
         * has the other's vote, P being down. */
        harness_start_server(h, leader0);
        harness_connect(h, leader0);
        int pair[2] = {leader0, v};
        int l = await_leader(h, pair, 2, tp + 1, 5000);
        if (l < 0) {
            heal(h, servers);
            continue;
        }
        int voter = l == leader0 ? v : leader0;
        int a = term_of(h, l, NULL);

        /* P back, alone, until it is in term a-1 with its timer running. */
        harness_start_server(h, p);
        int64_t since = -1;
        int64_t deadline = lab_now_ms() + 1000 * (int64_t)(a - tp) + 2000;
        while (lab_now_ms() < deadline) {
            int t = term_of(h, p, NULL);
            if (t == a - 1) {
                since = lab_now_ms();
                break;
            }
            if (t >= a)
                break;
            harness_sleep(h, 2);
        }
        if (since < 0) {
            heal(h, servers);
            continue;
        }
        int64_t left = since + X1_HEAD_START_MS - lab_now_ms();
        if (left > 0)
            harness_sleep(h, left);
        if (term_of(h, p, NULL) != a - 1) {
            heal(h, servers);
            continue;
        }

        /* The voter restarts and meets only P. */
        harness_disconnect(h, l);
        harness_start_server(h, voter);
        harness_connect(h, voter);
        harness_connect(h, p);
        harness_sleep(h, 1500);   /* P leading term a too fails the test here */
        heal(h, servers);
    }
    harness_one(h, 101, servers, true);

    harness_end(h);
    harness_cleanup(h);
}

/* ---- x2: Figure 8, scripted ---------------------------------------------------- */

/*
 * Figure 8 of the Raft paper, step by step, on five servers. L1 (term T1)
 * puts X at index 2 on itself and one follower F only. Three others, cut
 * off from them, elect L2 (term T2 > T1), which puts Z at index 2 on
 * itself only. L1, F and a third server C come together: one of L1 and F
 * leads (C's log is behind), and X reaches C, a majority. A leader that
 * commits X now, by counting replicas of an entry of an earlier term,
 * applies it. Then L1 and F are cut off, and L2, C and D come together:
 * only L2 can win (its last entry's term T2 is the highest), and its first
 * command commits Z at index 2, where X was applied: SAFETY "commit
 * index=2". A correct leader commits only an entry of its own term by
 * counting, and never an earlier one before it: X is never applied.
 * Catches: committing an earlier term's entry by counting its replicas.
 */
Test(raft2C, x2_figure8_scripted)
{
    int servers = 5;
    harness *h = harness_make(servers, false, false);
    harness_begin(h, EXTRA_BANNER " (2C): Figure 8, scripted");

    harness_one(h, 101, servers, true);
    int64_t x = 102, z = 103, y = 104;

    int l1 = harness_check_one_leader(h);
    int f = (l1 + 1) % servers;
    int others[3] = {(l1 + 2) % servers, (l1 + 3) % servers, (l1 + 4) % servers};
    for (int k = 0; k < 3; k++)
        harness_disconnect(h, others[k]);
    int index, t1;
    if (harness_raft_start(h, l1, x, &index, &t1) && index == 2) {
        harness_sleep(h, 300);   /* X on F too, by now */
        harness_disconnect(h, l1);
        harness_disconnect(h, f);
        for (int k = 0; k < 3; k++)
            harness_connect(h, others[k]);

        /* L2, among the three; alone, it takes Z at index 2. */
        int l2 = await_leader(h, others, 3, t1 + 1, 5000);
        if (l2 >= 0) {
            int c = -1, d = -1;
            for (int k = 0; k < 3; k++) {
                if (others[k] == l2)
                    continue;
                if (c < 0)
                    c = others[k];
                else
                    d = others[k];
            }
            harness_disconnect(h, c);
            harness_disconnect(h, d);
            int zi, t2;
            bool z_placed = harness_raft_start(h, l2, z, &zi, &t2) && zi == 2;
            harness_disconnect(h, l2);
            if (z_placed) {
                /* L1, F and C: X reaches C; L1 or F leads. */
                harness_connect(h, l1);
                harness_connect(h, f);
                harness_connect(h, c);
                int trio[3] = {l1, f, c};
                if (await_leader(h, trio, 3, t2 + 1, 5000) >= 0)
                    harness_sleep(h, 500);   /* replication, a wrong commit, its apply */

                /* L2, C and D: only L2 can win; Y commits Z at index 2. */
                harness_disconnect(h, l1);
                harness_disconnect(h, f);
                harness_connect(h, l2);
                harness_connect(h, d);
                harness_one(h, y, 3, true);
            }
        }
    }
    heal(h, servers);
    harness_one(h, 105, servers, true);

    harness_end(h);
    harness_cleanup(h);
}

/* ---- x3: a stale AppendEntries keeps what matches ------------------------------ */

enum {
    X3_ATTEMPTS = 6,
    X3_COMMANDS = 12,
};

/*
 * Three servers; G is cut off, so every commit needs the leader L and F
 * both. The network holds a quarter of all requests back 100-499 ms, so a
 * heartbeat (or a later request) overtakes an earlier AppendEntries that
 * carried fewer entries. L takes a stream of commands, one every 15-45 ms.
 * A follower that, on the late request, drops everything after its
 * prevLogIndex loses entries it has acknowledged, which L has committed
 * counting F. Then L is cut off and G let in: F leads (G's log is
 * behind), and commits other commands where L applied the lost ones:
 * SAFETY "commit index=...". A correct follower deletes only from the
 * first entry that conflicts, and keeps what a late request repeats.
 * Catches: truncating the log after prevLogIndex when the entries match.
 */
Test(raft2C, x3_stale_append)
{
    int servers = 3;
    harness *h = harness_make(servers, false, false);
    harness_begin(h, EXTRA_BANNER " (2C): a late AppendEntries keeps what matches");

    int64_t cmd = 1000;
    harness_one(h, cmd++, servers, true);
    for (int attempt = 0; attempt < X3_ATTEMPTS; attempt++) {
        int l = harness_check_one_leader(h);
        int f = (l + 1 + (int)harness_rand(h, 2)) % servers;
        int g = servers - l - f;
        harness_disconnect(h, g);
        harness_set_request_reordering(h, true);

        int last = -1;
        for (int k = 0; k < X3_COMMANDS; k++) {
            int index, term;
            bool lead;
            if (!harness_raft_start(h, l, cmd++, &index, &term))
                break;
            (void)term_of(h, l, &lead);
            if (!lead)
                break;
            last = index;
            harness_sleep(h, 15 + (int64_t)harness_rand(h, 31));
        }
        /* L applies what it committed counting F (or nothing more, if F
         * stopped answering). */
        int64_t deadline = lab_now_ms() + 2000;
        while (last > 0 && lab_now_ms() < deadline && harness_n_committed(h, last, NULL) < 1)
            harness_sleep(h, 20);
        harness_sleep(h, 200);

        /* L out, G in: F and G elect a leader and agree on a command. */
        harness_disconnect(h, l);
        harness_connect(h, g);
        harness_one(h, cmd++, servers - 1, true);

        harness_set_request_reordering(h, false);
        heal(h, servers);
        harness_one(h, cmd++, servers, true);
    }

    harness_end(h);
    harness_cleanup(h);
}

/* ---- x4: a reply from an earlier term is not counted ----------------------------- */

enum {
    X4_ATTEMPTS = 8,
    X4_COMMANDS = 3,       /* S's entries of term T0 on S and F only */
    X4_STREAM_MS = 1000,   /* F's replies to S in T0: 2 in 3 delivered 0.2-2.2 s late */
    X4_LATE_MS = 2300,     /* every reply of T0 is in by then */
    X4_SYNC_MS = 150,      /* S, reconnected, gets L1's entries (heartbeats every 100 ms) */
};

/*
 * Five servers, replies delivered late (long reordering). S leads term T0
 * with only F: its entries of T0 at b+1..b+3 are on S and F, and F's
 * replies to S, each saying "I hold everything up to b+3", are on their
 * way back, some for up to 2.2 s. S and F are cut off; the other three
 * elect L1 (term T1), which, with only S connected, puts c1 and c2 at b+1
 * and b+2 on itself and S: S's entries of T0 are gone, its log ends at
 * b+2. L1 is cut off; S and two others (behind S) elect S
 * (term T2), and S takes c3 at b+3 with one of them, O. A late reply of
 * T0 now arrives: a leader that does not check which term a reply answers
 * counts F as holding b+3, commits c3 on S, O and F's false word, and
 * applies it. Then S and O are cut off, and L1, F and the last server
 * commit another command at b+3: SAFETY "commit index=...". A correct
 * leader ignores a reply to a request of another term: c3 stays
 * uncommitted. A late reply must arrive while S leads T2, so an attempt
 * succeeds only sometimes (about one in four, when the leader does not
 * check); the test makes eight.
 * Catches: an AppendEntries reply counted without checking that it
 * answers a request of the current term.
 */
Test(raft2C, x4_stale_reply)
{
    int servers = 5;
    harness *h = harness_make(servers, false, false);
    harness_begin(h, EXTRA_BANNER " (2C): a late reply from an earlier term");

    int64_t cmd = 2000;
    harness_one(h, cmd++, servers, true);
    for (int attempt = 0; attempt < X4_ATTEMPTS; attempt++) {
        int s = harness_check_one_leader(h);
        int f = (s + 1) % servers;
        int o[3] = {(s + 2) % servers, (s + 3) % servers, (s + 4) % servers};
        for (int k = 0; k < 3; k++)
            harness_disconnect(h, o[k]);

        /* T0: S's entries on S and F; F's replies on their way, some late. */
        harness_set_long_reordering(h, true);
        int last = -1, t0 = -1;
        for (int k = 0; k < X4_COMMANDS; k++) {
            if (!harness_raft_start(h, s, cmd++, &last, &t0)) {
                last = -1;
                break;
            }
        }
        harness_sleep(h, X4_STREAM_MS);
        int64_t stream_end = lab_now_ms();
        harness_disconnect(h, s);
        harness_disconnect(h, f);
        harness_set_long_reordering(h, false);
        if (last < 0) {
            heal(h, servers);
            continue;
        }

        /* T1: L1 among the three; with only S, it puts c1, c2 at b+1, b+2. */
        for (int k = 0; k < 3; k++)
            harness_connect(h, o[k]);
        int l1 = await_leader(h, o, 3, t0 + 1, 5000);
        int i1 = -1, i2 = -1, t1 = -1, oa = -1, ob = -1;
        if (l1 >= 0) {
            for (int k = 0; k < 3; k++) {
                if (o[k] == l1)
                    continue;
                if (oa < 0)
                    oa = o[k];
                else
                    ob = o[k];
            }
            harness_disconnect(h, oa);
            harness_disconnect(h, ob);
            harness_connect(h, s);
            int t;
            if (!harness_raft_start(h, l1, cmd++, &i1, &t1) || i1 != last - X4_COMMANDS + 1 ||
                !harness_raft_start(h, l1, cmd++, &i2, &t) || t != t1 || i2 != i1 + 1)
                i2 = -1;
            harness_sleep(h, X4_SYNC_MS);   /* S follows L1: its entries of T0 replaced by c1, c2 */
        }
        if (i2 < 0) {
            heal(h, servers);
            continue;
        }

        /* T2: S (the only one holding b+2) leads; c3 at b+3 on S and O. */
        harness_disconnect(h, l1);
        harness_connect(h, oa);
        harness_connect(h, ob);
        int trio[3] = {s, oa, ob};
        int l2 = await_leader(h, trio, 3, t1 + 1, 5000);
        int i3 = -1, t2 = -1;
        if (l2 == s) {
            harness_disconnect(h, ob);
            if (!harness_raft_start(h, s, cmd++, &i3, &t2) || i3 != last)
                i3 = -1;
        }
        if (i3 < 0) {
            heal(h, servers);
            continue;
        }
        int64_t wait_ms = stream_end + X4_LATE_MS - lab_now_ms();
        harness_sleep(h, wait_ms > 200 ? wait_ms : 200);

        /* S and O out; L1, F and the last server put another command at b+3. */
        harness_disconnect(h, s);
        harness_disconnect(h, oa);
        harness_connect(h, l1);
        harness_connect(h, f);
        harness_connect(h, ob);
        harness_one(h, cmd++, 3, true);
        heal(h, servers);
        harness_one(h, cmd++, servers, true);
    }

    harness_end(h);
    harness_cleanup(h);
}

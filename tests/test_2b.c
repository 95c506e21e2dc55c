/*
 * test_2b.c: Part 2B, log replication (6.824's 2B tests in the 2023 order,
 * which includes the two failure tests after the RPC byte count), with the
 * original banners, numbers and messages.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/harness.h"
#include "harness/support/test_support.h"
#include "lab/sync.h"
#include "labrpc/codec.h"

TestSuite(raft2B, .timeout = HARNESS_SUITE_TIMEOUT_S, .fini = test_check_leaks);

/* Go's %v of a []int: "[1 2 3]". */
static void format_list(char *buf, size_t n, const int64_t *v, int count)
{
    size_t used = (size_t)snprintf(buf, n, "[");
    for (int k = 0; k < count && used < n; k++)
        used += (size_t)snprintf(buf + used, n - used, "%s%lld", k ? " " : "", (long long)v[k]);
    if (used < n)
        snprintf(buf + used, n - used, "]");
}

/*
 * Three commands, each agreed by all three servers at the next index.
 * Catches: Start, AppendEntries, commit or apply not working at all;
 * 0-based log indices; committing before a command was even offered.
 */
Test(raft2B, t01_basic_agree)
{
    int servers = 3;
    harness *h = harness_make(servers, false, false);
    harness_begin(h, "Test (2B): basic agreement");

    int iters = 3;
    for (int index = 1; index < iters + 1; index++) {
        int nd = harness_n_committed(h, index, NULL);
        if (nd > 0)
            harness_fail(h, CLASS_SAFETY, "some have committed before Start()");

        int xindex = harness_one(h, index * 100, servers, false);
        if (xindex != index)
            harness_fail(h, CLASS_SAFETY, "got index %d but expected %d", xindex, index);
    }

    harness_end(h);
    harness_cleanup(h);
}

/*
 * Ten 5000-byte commands may cost each follower little more than their
 * size. Catches: sending each entry more than once per follower, such as
 * the whole log in every AppendEntries or every heartbeat.
 */
Test(raft2B, t02_rpc_bytes)
{
    int servers = 3;
    harness *h = harness_make(servers, false, false);
    harness_begin(h, "Test (2B): RPC byte count");

    harness_one(h, 99, servers, false);
    int64_t bytes0 = harness_bytes_total(h);

    int iters = 10;
    int64_t sent = 0;
    for (int index = 2; index < iters + 2; index++) {
        char s[5001];
        harness_rand_string(h, s, 5000);
        codec_buffer cmd = CODEC_BUFFER_INIT;
        codec_put_string(&cmd, s);
        int xindex = harness_one_bytes(h, cmd.data, cmd.len, servers, false);
        codec_buffer_free(&cmd);
        if (xindex != index)
            harness_fail(h, CLASS_SAFETY, "got index %d but expected %d", xindex, index);
        sent += (int64_t)strlen(s);
    }

    int64_t bytes1 = harness_bytes_total(h);
    int64_t got = bytes1 - bytes0;
    int64_t expected = (int64_t)servers * sent;
    if (got > expected + 50000)
        harness_fail(h, CLASS_PERF, "too many RPC bytes; got %lld, expected %lld",
                     (long long)got, (long long)expected);

    harness_end(h);
    harness_cleanup(h);
}

/*
 * Followers fail one after the other; with both gone the leader must not
 * commit. Catches: committing without a majority (counting the leader
 * twice, or counting replies from any term).
 */
Test(raft2B, t03_follower_failure)
{
    int servers = 3;
    harness *h = harness_make(servers, false, false);
    harness_begin(h, "Test (2B): test progressive failure of followers");

    harness_one(h, 101, servers, false);

    /* disconnect one follower from the network. */
    int leader1 = harness_check_one_leader(h);
    harness_disconnect(h, (leader1 + 1) % servers);

    /* the leader and remaining follower should be
     * able to agree despite the disconnected follower. */
    harness_one(h, 102, servers - 1, false);
    harness_sleep(h, HARNESS_ELECTION_TIMEOUT_MS);
    harness_one(h, 103, servers - 1, false);

    /* disconnect the remaining follower */
    int leader2 = harness_check_one_leader(h);
    harness_disconnect(h, (leader2 + 1) % servers);
    harness_disconnect(h, (leader2 + 2) % servers);

    /* submit a command. */
    int index, term;
    bool ok = harness_raft_start(h, leader2, 104, &index, &term);
    if (!ok)
        harness_fail(h, CLASS_LIVENESS, "leader rejected Start()");
    if (index != 4)
        harness_fail(h, CLASS_SAFETY, "expected index 4, got %d", index);

    harness_sleep(h, 2 * HARNESS_ELECTION_TIMEOUT_MS);

    /* check that command 104 did not commit. */
    int n = harness_n_committed(h, index, NULL);
    if (n > 0)
        harness_fail(h, CLASS_SAFETY, "%d committed but no majority", n);

    harness_end(h);
    harness_cleanup(h);
}

/*
 * Leaders fail one after the other; the last server standing, offered a
 * command by everyone, must not commit it. Catches: a cut-off leader or a
 * lone candidate committing without a majority.
 */
Test(raft2B, t04_leader_failure)
{
    int servers = 3;
    harness *h = harness_make(servers, false, false);
    harness_begin(h, "Test (2B): test failure of leaders");

    harness_one(h, 101, servers, false);

    /* disconnect the first leader. */
    int leader1 = harness_check_one_leader(h);
    harness_disconnect(h, leader1);

    /* the remaining followers should elect a new leader. */
    harness_one(h, 102, servers - 1, false);
    harness_sleep(h, HARNESS_ELECTION_TIMEOUT_MS);
    harness_one(h, 103, servers - 1, false);

    /* disconnect the new leader. */
    int leader2 = harness_check_one_leader(h);
    harness_disconnect(h, leader2);

    /* submit a command to each server. */
    for (int i = 0; i < servers; i++)
        harness_raft_start(h, i, 104, NULL, NULL);

    harness_sleep(h, 2 * HARNESS_ELECTION_TIMEOUT_MS);

    /* check that command 104 did not commit. */
    int n = harness_n_committed(h, 4, NULL);
    if (n > 0)
        harness_fail(h, CLASS_SAFETY, "%d committed but no majority", n);

    harness_end(h);
    harness_cleanup(h);
}

/*
 * A follower misses four commands and must catch up after it reconnects.
 * Catches: a leader that stops when one follower is unreachable; no
 * catch-up (nextIndex never decremented, or the consistency check wrong).
 */
Test(raft2B, t05_fail_agree)
{
    int servers = 3;
    harness *h = harness_make(servers, false, false);
    harness_begin(h, "Test (2B): agreement after follower reconnects");

    harness_one(h, 101, servers, false);

    /* disconnect one follower from the network. */
    int leader = harness_check_one_leader(h);
    harness_disconnect(h, (leader + 1) % servers);

    /* the leader and remaining follower should be
     * able to agree despite the disconnected follower. */
    harness_one(h, 102, servers - 1, false);
    harness_one(h, 103, servers - 1, false);
    harness_sleep(h, HARNESS_ELECTION_TIMEOUT_MS);
    harness_one(h, 104, servers - 1, false);
    harness_one(h, 105, servers - 1, false);

    /* re-connect */
    harness_connect(h, (leader + 1) % servers);

    /* the full set of servers should preserve
     * previous agreements, and be able to agree
     * on new commands. */
    harness_one(h, 106, servers, true);
    harness_sleep(h, HARNESS_ELECTION_TIMEOUT_MS);
    harness_one(h, 107, servers, true);

    harness_end(h);
    harness_cleanup(h);
}

/*
 * With three of five followers gone the leader accepts a command but must
 * not commit it; after the partition heals, agreement resumes. Catches:
 * committing without a majority; log conflicts not resolved after the
 * majority elected a leader of its own.
 */
Test(raft2B, t06_fail_no_agree)
{
    int servers = 5;
    harness *h = harness_make(servers, false, false);
    harness_begin(h, "Test (2B): no agreement if too many followers disconnect");

    harness_one(h, 10, servers, false);

    /* 3 of 5 followers disconnect */
    int leader = harness_check_one_leader(h);
    harness_disconnect(h, (leader + 1) % servers);
    harness_disconnect(h, (leader + 2) % servers);
    harness_disconnect(h, (leader + 3) % servers);

    int index, term;
    bool ok = harness_raft_start(h, leader, 20, &index, &term);
    if (!ok)
        harness_fail(h, CLASS_LIVENESS, "leader rejected Start()");
    if (index != 2)
        harness_fail(h, CLASS_SAFETY, "expected index 2, got %d", index);

    harness_sleep(h, 2 * HARNESS_ELECTION_TIMEOUT_MS);

    int n = harness_n_committed(h, index, NULL);
    if (n > 0)
        harness_fail(h, CLASS_SAFETY, "%d committed but no majority", n);

    /* repair */
    harness_connect(h, (leader + 1) % servers);
    harness_connect(h, (leader + 2) % servers);
    harness_connect(h, (leader + 3) % servers);

    /* the disconnected majority may have chosen a leader from
     * among their own ranks, forgetting index 2. */
    int leader2 = harness_check_one_leader(h);
    int index2, term2;
    bool ok2 = harness_raft_start(h, leader2, 30, &index2, &term2);
    if (!ok2)
        harness_fail(h, CLASS_LIVENESS, "leader2 rejected Start()");
    if (index2 < 2 || index2 > 3)
        harness_fail(h, CLASS_SAFETY, "unexpected index %d", index2);

    harness_one(h, 1000, servers, true);

    harness_end(h);
    harness_cleanup(h);
}

typedef struct concurrent_start {
    harness *h;
    int leader;
    int i;
    int term;        /* the term of Start(1) */
    int index;       /* out: where 100+i went, or -1 if not in that term */
} concurrent_start;

static void *concurrent_start_main(void *p)
{
    concurrent_start *c = p;
    int index, term1;
    bool ok = harness_raft_start(c->h, c->leader, 100 + c->i, &index, &term1);
    c->index = (term1 == c->term && ok) ? index : -1;
    return NULL;
}

/*
 * Five Start()s at once on the leader must all be committed, at distinct
 * indices. Catches: races in Start (two commands given one index, one
 * lost), Start that blocks until the command commits.
 */
Test(raft2B, t07_concurrent_starts)
{
    int servers = 3;
    harness *h = harness_make(servers, false, false);
    harness_begin(h, "Test (2B): concurrent Start()s");

    bool success = false;
    for (int try = 0; try < 5 && !success; try++) {
        if (try > 0) {
            /* give solution some time to settle */
            harness_sleep(h, 3000);
        }

        int leader = harness_check_one_leader(h);
        int term;
        if (!harness_raft_start(h, leader, 1, NULL, &term)) {
            /* leader moved on really quickly */
            continue;
        }

        enum { iters = 5 };
        concurrent_start cs[iters];
        lab_thread threads[iters];
        for (int ii = 0; ii < iters; ii++) {
            cs[ii] = (concurrent_start){h, leader, ii, term, -1};
            char name[32];
            snprintf(name, sizeof name, "start %d", ii);
            lab_thread_create(&threads[ii], name, concurrent_start_main, &cs[ii]);
        }
        for (int ii = 0; ii < iters; ii++)
            lab_thread_join(&threads[ii]);

        bool moved_on = false;
        for (int j = 0; j < servers; j++) {
            int t;
            bool is_leader;
            harness_raft_get_state(h, j, &t, &is_leader);
            if (t != term)
                moved_on = true;   /* term changed -- can't expect low RPC counts */
        }
        if (moved_on)
            continue;

        bool failed = false;
        int64_t cmds[iters];
        int ncmds = 0;
        for (int ii = 0; ii < iters; ii++) {
            if (cs[ii].index < 0)
                continue;
            int64_t ix = harness_wait(h, cs[ii].index, servers, term);
            if (ix == HARNESS_NOT_INT)
                harness_fail(h, CLASS_SAFETY, "value at index %d is not an int", cs[ii].index);
            if (ix == -1) {
                /* peers have moved on to later terms so we can't
                 * expect all Start()s to have succeeded */
                failed = true;
                break;
            }
            cmds[ncmds++] = ix;
        }
        if (failed)
            continue;

        for (int ii = 0; ii < iters; ii++) {
            int64_t x = 100 + ii;
            bool found = false;
            for (int j = 0; j < ncmds; j++)
                if (cmds[j] == x)
                    found = true;
            if (!found) {
                char list[256];
                format_list(list, sizeof list, cmds, ncmds);
                harness_fail(h, CLASS_LIVENESS, "cmd %lld missing in %s", (long long)x, list);
            }
        }
        success = true;
    }

    if (!success)
        harness_fail(h, CLASS_LIVENESS, "term changed too often");

    harness_end(h);
    harness_cleanup(h);
}

/*
 * A partitioned leader with uncommitted entries rejoins after a new leader
 * committed others at the same indices. Catches: the old leader not
 * stepping down, or its conflicting entries not being overwritten; the
 * election restriction (a stale log must not win).
 */
Test(raft2B, t08_rejoin)
{
    int servers = 3;
    harness *h = harness_make(servers, false, false);
    harness_begin(h, "Test (2B): rejoin of partitioned leader");

    harness_one(h, 101, servers, true);

    /* leader network failure */
    int leader1 = harness_check_one_leader(h);
    harness_disconnect(h, leader1);

    /* make old leader try to agree on some entries */
    harness_raft_start(h, leader1, 102, NULL, NULL);
    harness_raft_start(h, leader1, 103, NULL, NULL);
    harness_raft_start(h, leader1, 104, NULL, NULL);

    /* new leader commits, also for index=2 */
    harness_one(h, 103, 2, true);

    /* new leader network failure */
    int leader2 = harness_check_one_leader(h);
    harness_disconnect(h, leader2);

    /* old leader connected again */
    harness_connect(h, leader1);

    harness_one(h, 104, 2, true);

    /* all together now */
    harness_connect(h, leader2);

    harness_one(h, 105, servers, true);

    harness_end(h);
    harness_cleanup(h);
}

/*
 * Followers with 50 wrong entries each must be brought back in line while
 * every one() has only 10 seconds. Catches: backing nextIndex up one entry
 * per round trip (use the conflict term and index to skip whole terms).
 */
Test(raft2B, t09_backup)
{
    int servers = 5;
    harness *h = harness_make(servers, false, false);
    harness_begin(h, "Test (2B): leader backs up quickly over incorrect follower logs");

    harness_one(h, harness_rand_int(h), servers, true);

    /* put leader and one follower in a partition */
    int leader1 = harness_check_one_leader(h);
    harness_disconnect(h, (leader1 + 2) % servers);
    harness_disconnect(h, (leader1 + 3) % servers);
    harness_disconnect(h, (leader1 + 4) % servers);

    /* submit lots of commands that won't commit */
    for (int i = 0; i < 50; i++)
        harness_raft_start(h, leader1, harness_rand_int(h), NULL, NULL);

    harness_sleep(h, HARNESS_ELECTION_TIMEOUT_MS / 2);

    harness_disconnect(h, (leader1 + 0) % servers);
    harness_disconnect(h, (leader1 + 1) % servers);

    /* allow other partition to recover */
    harness_connect(h, (leader1 + 2) % servers);
    harness_connect(h, (leader1 + 3) % servers);
    harness_connect(h, (leader1 + 4) % servers);

    /* lots of successful commands to new group. */
    for (int i = 0; i < 50; i++)
        harness_one(h, harness_rand_int(h), 3, true);

    /* now another partitioned leader and one follower */
    int leader2 = harness_check_one_leader(h);
    int other = (leader1 + 2) % servers;
    if (leader2 == other)
        other = (leader2 + 1) % servers;
    harness_disconnect(h, other);

    /* lots more commands that won't commit */
    for (int i = 0; i < 50; i++)
        harness_raft_start(h, leader2, harness_rand_int(h), NULL, NULL);

    harness_sleep(h, HARNESS_ELECTION_TIMEOUT_MS / 2);

    /* bring original leader back to life, */
    for (int i = 0; i < servers; i++)
        harness_disconnect(h, i);
    harness_connect(h, (leader1 + 0) % servers);
    harness_connect(h, (leader1 + 1) % servers);
    harness_connect(h, other);

    /* lots of successful commands to new group. */
    for (int i = 0; i < 50; i++)
        harness_one(h, harness_rand_int(h), 3, true);

    /* now everyone */
    for (int i = 0; i < servers; i++)
        harness_connect(h, i);
    harness_one(h, harness_rand_int(h), servers, true);

    harness_end(h);
    harness_cleanup(h);
}

static int rpcs(harness *h, int servers)
{
    int n = 0;
    for (int j = 0; j < servers; j++)
        n += harness_rpc_count(h, j);
    return n;
}

/*
 * An election, ten agreements and an idle second must each take few RPCs.
 * Catches: election storms; more than about one AppendEntries per entry
 * per follower (e.g. one RPC per Start per follower plus retries); a
 * heartbeat rate far above the handout's ten per second.
 */
Test(raft2B, t10_count)
{
    int servers = 3;
    harness *h = harness_make(servers, false, false);
    harness_begin(h, "Test (2B): RPC counts aren't too high");

    int leader = harness_check_one_leader(h);

    int total1 = rpcs(h, servers);
    if (total1 > 30 || total1 < 1)
        harness_fail(h, CLASS_PERF, "too many or few RPCs (%d) to elect initial leader", total1);

    int total2 = 0;
    bool success = false;
    for (int try = 0; try < 5 && !success; try++) {
        if (try > 0) {
            /* give solution some time to settle */
            harness_sleep(h, 3000);
        }

        leader = harness_check_one_leader(h);
        total1 = rpcs(h, servers);

        enum { iters = 10 };
        int starti, term;
        if (!harness_raft_start(h, leader, 1, &starti, &term)) {
            /* leader moved on really quickly */
            continue;
        }
        int64_t cmds[iters + 1];
        bool retry = false;
        for (int i = 1; i < iters + 2; i++) {
            int64_t x = (int64_t)harness_rand(h, (uint64_t)1 << 31);
            cmds[i - 1] = x;
            int index1, term1;
            bool ok = harness_raft_start(h, leader, x, &index1, &term1);
            if (term1 != term || !ok) {
                /* term changed while starting, or no longer the leader */
                retry = true;
                break;
            }
            if (starti + i != index1)
                harness_fail(h, CLASS_SAFETY, "Start() failed");
        }
        if (retry)
            continue;

        for (int i = 1; i < iters + 1 && !retry; i++) {
            int64_t ix = harness_wait(h, starti + i, servers, term);
            if (ix != cmds[i - 1]) {
                if (ix == -1) {
                    /* term changed -- try again */
                    retry = true;
                    break;
                }
                char list[512];
                format_list(list, sizeof list, cmds, iters + 1);
                harness_fail(h, CLASS_SAFETY, "wrong value %lld committed for index %d; expected %s",
                             (long long)ix, starti + i, list);
            }
        }
        if (retry)
            continue;

        bool failed = false;
        total2 = 0;
        for (int j = 0; j < servers; j++) {
            int t;
            bool is_leader;
            harness_raft_get_state(h, j, &t, &is_leader);
            if (t != term) {
                /* term changed -- can't expect low RPC counts;
                 * need to keep going to update total2 */
                failed = true;
            }
            total2 += harness_rpc_count(h, j);
        }
        if (failed)
            continue;

        if (total2 - total1 > (iters + 1 + 3) * 3)
            harness_fail(h, CLASS_PERF, "too many RPCs (%d) for %d entries", total2 - total1, iters);

        success = true;
    }

    if (!success)
        harness_fail(h, CLASS_LIVENESS, "term changed too often");

    harness_sleep(h, HARNESS_ELECTION_TIMEOUT_MS);

    int total3 = 0;
    for (int j = 0; j < servers; j++)
        total3 += harness_rpc_count(h, j);

    if (total3 - total2 > 3 * 20)
        harness_fail(h, CLASS_PERF, "too many RPCs (%d) for 1 second of idleness", total3 - total2);

    harness_end(h);
    harness_cleanup(h);
}

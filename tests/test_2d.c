/*
 * test_2d.c: Part 2D, log compaction (6.824's 2D tests in the 2023 order,
 * with "snapshot initialization after crash"), with the original banners,
 * numbers and messages. Every harness here uses the snapshot applier,
 * which hands Raft a snapshot every HARNESS_SNAPSHOT_INTERVAL commands.
 */
#include <criterion/criterion.h>
#include <stdbool.h>

#include "harness/harness.h"
#include "harness/support/test_support.h"

TestSuite(raft2D, .timeout = HARNESS_SUITE_TIMEOUT_S, .fini = test_check_leaks);

/*
 * The original's snapcommon: 30 rounds in which a victim (every third round
 * the leader itself) is cut off or crashed while 5-14 commands go by, so it
 * can only catch up from a snapshot; the Raft state must stay under
 * HARNESS_MAX_LOG_SIZE bytes throughout.
 */
static void snapcommon(const char *name, bool disconnect, bool reliable, bool crash)
{
    int iters = 30;
    int servers = 3;
    harness *h = harness_make(servers, !reliable, true);
    harness_begin(h, name);

    harness_one(h, harness_rand_int(h), servers, true);
    int leader1 = harness_check_one_leader(h);

    for (int i = 0; i < iters; i++) {
        int victim = (leader1 + 1) % servers;
        int sender = leader1;
        if (i % 3 == 1) {
            sender = (leader1 + 1) % servers;
            victim = leader1;
        }

        if (disconnect) {
            harness_disconnect(h, victim);
            harness_one(h, harness_rand_int(h), servers - 1, true);
        }
        if (crash) {
            harness_crash_server(h, victim);
            harness_one(h, harness_rand_int(h), servers - 1, true);
        }

        /* perhaps send enough to get a snapshot */
        int nn = (HARNESS_SNAPSHOT_INTERVAL / 2) + (int)harness_rand(h, HARNESS_SNAPSHOT_INTERVAL);
        for (int k = 0; k < nn; k++)
            harness_raft_start(h, sender, harness_rand_int(h), NULL, NULL);

        /* let applier threads catch up with the Start()'s */
        if (!disconnect && !crash) {
            /* make sure all followers have caught up, so that
             * an InstallSnapshot RPC isn't required for
             * "snapshots basic". */
            harness_one(h, harness_rand_int(h), servers, true);
        } else {
            harness_one(h, harness_rand_int(h), servers - 1, true);
        }

        if (harness_log_size(h) >= HARNESS_MAX_LOG_SIZE)
            harness_fail(h, CLASS_PERF, "Log size too large");

        if (disconnect) {
            /* reconnect a follower, who maybe behind and
             * needs to receive a snapshot to catch up. */
            harness_connect(h, victim);
            harness_one(h, harness_rand_int(h), servers, true);
            leader1 = harness_check_one_leader(h);
        }
        if (crash) {
            harness_start_server(h, victim);
            harness_connect(h, victim);
            harness_one(h, harness_rand_int(h), servers, true);
            leader1 = harness_check_one_leader(h);
        }
    }

    harness_end(h);
    harness_cleanup(h);
}

/*
 * Catches: raft_snapshot not trimming the log, or not persisting the
 * snapshot with the state; index arithmetic wrong on a trimmed log.
 */
Test(raft2D, t01_snapshot_basic)
{
    snapcommon("Test (2D): snapshots basic", false, true, false);
}

/*
 * Catches: a leader that cannot bring a lagging follower up to date once
 * the entries it needs are gone (no InstallSnapshot); a follower that does
 * not deliver an installed snapshot on the apply channel.
 */
Test(raft2D, t02_snapshot_install)
{
    snapcommon("Test (2D): install snapshots (disconnect)", true, true, false);
}

/*
 * Catches: duplicate or old InstallSnapshot RPCs moving a follower's state
 * backwards, or a stale snapshot applied after newer commands.
 */
Test(raft2D, t03_snapshot_install_unreliable)
{
    snapcommon("Test (2D): install snapshots (disconnect+unreliable)", true, false, false);
}

/*
 * Catches: a restart that does not resume from the persisted snapshot plus
 * the log tail, e.g. re-applying entries the snapshot already covers.
 */
Test(raft2D, t04_snapshot_install_crash)
{
    snapcommon("Test (2D): install snapshots (crash)", false, true, true);
}

/* Catches: the above, combined with a network that drops and reorders. */
Test(raft2D, t05_snapshot_install_uncrash)
{
    snapcommon("Test (2D): install snapshots (unreliable+crash)", false, false, true);
}

/*
 * Every server crashes at once, five times. Catches: lastIncludedIndex or
 * lastIncludedTerm not persisted, so indices restart from 0 after a
 * restart ("index decreased").
 */
Test(raft2D, t06_snapshot_all_crash)
{
    int servers = 3;
    int iters = 5;
    harness *h = harness_make(servers, false, true);
    harness_begin(h, "Test (2D): crash and restart all servers");

    harness_one(h, harness_rand_int(h), servers, true);

    for (int i = 0; i < iters; i++) {
        /* perhaps enough to get a snapshot */
        int nn = (HARNESS_SNAPSHOT_INTERVAL / 2) + (int)harness_rand(h, HARNESS_SNAPSHOT_INTERVAL);
        for (int k = 0; k < nn; k++)
            harness_one(h, harness_rand_int(h), servers, true);

        int index1 = harness_one(h, harness_rand_int(h), servers, true);

        /* crash all */
        for (int k = 0; k < servers; k++)
            harness_crash_server(h, k);

        /* revive all */
        for (int k = 0; k < servers; k++) {
            harness_start_server(h, k);
            harness_connect(h, k);
        }

        int index2 = harness_one(h, harness_rand_int(h), servers, true);
        if (index2 < index1 + 1)
            harness_fail(h, CLASS_SAFETY, "index decreased from %d to %d", index1, index2);
    }

    harness_end(h);
    harness_cleanup(h);
}

/*
 * Crash everyone after a snapshot, do one command, crash everyone again.
 * Catches: raft_make not loading the snapshot from the persister, so the
 * next persist saves no snapshot and the second restart has lost it.
 */
Test(raft2D, t07_snapshot_init)
{
    int servers = 3;
    harness *h = harness_make(servers, false, true);
    harness_begin(h, "Test (2D): snapshot initialization after crash");

    harness_one(h, harness_rand_int(h), servers, true);

    /* enough ops to make a snapshot */
    int nn = HARNESS_SNAPSHOT_INTERVAL + 1;
    for (int i = 0; i < nn; i++)
        harness_one(h, harness_rand_int(h), servers, true);

    /* crash all */
    for (int i = 0; i < servers; i++)
        harness_crash_server(h, i);

    /* revive all */
    for (int i = 0; i < servers; i++) {
        harness_start_server(h, i);
        harness_connect(h, i);
    }

    /* a single op, to get something to be written back to persistent storage. */
    harness_one(h, harness_rand_int(h), servers, true);

    /* crash all */
    for (int i = 0; i < servers; i++)
        harness_crash_server(h, i);

    /* revive all */
    for (int i = 0; i < servers; i++) {
        harness_start_server(h, i);
        harness_connect(h, i);
    }

    /* do another op to trigger potential bug */
    harness_one(h, harness_rand_int(h), servers, true);

    harness_end(h);
    harness_cleanup(h);
}

/*
 * test_2a.c: Part 2A, leader election (6.824's TestInitialElection2A,
 * TestReElection2A, TestManyElections2A), in the original order, with the
 * original banners, numbers and messages. Criterion runs tests in name
 * order, hence the numbered names.
 */
#include <criterion/criterion.h>
#include <stdio.h>

#include "harness/harness.h"
#include "harness/support/test_support.h"

TestSuite(raft2A, .timeout = HARNESS_SUITE_TIMEOUT_S, .fini = test_check_leaks);

/*
 * Is a leader elected, do all agree on its term, and does it stay leader
 * when nothing fails? Catches: no election at all; split votes forever;
 * missing or too-slow heartbeats that cause needless re-elections (a
 * printed warning, not a failure, as in the original).
 */
Test(raft2A, t01_initial_election)
{
    int servers = 3;
    harness *h = harness_make(servers, false, false);
    harness_begin(h, "Test (2A): initial election");

    /* is a leader elected? */
    harness_check_one_leader(h);

    /* sleep a bit to avoid racing with followers learning of the
     * election, then check that all peers agree on the term. */
    harness_sleep(h, 50);
    int term1 = harness_check_terms(h);
    if (term1 < 1)
        harness_fail(h, CLASS_LIVENESS, "term is %d, but should be at least 1", term1);

    /* does the leader+term stay the same if there is no network failure? */
    harness_sleep(h, 2 * HARNESS_ELECTION_TIMEOUT_MS);
    int term2 = harness_check_terms(h);
    if (term1 != term2) {
        printf("warning: term changed even though there were no failures\n");
        fflush(stdout);
    }

    /* there should still be a leader. */
    harness_check_one_leader(h);

    harness_end(h);
    harness_cleanup(h);
}

/*
 * Failover, and no leader without a majority. Catches: no new election
 * when the leader goes away; an old leader that does not step down on
 * seeing a higher term; electing a leader without a majority of votes.
 */
Test(raft2A, t02_reelection)
{
    int servers = 3;
    harness *h = harness_make(servers, false, false);
    harness_begin(h, "Test (2A): election after network failure");

    int leader1 = harness_check_one_leader(h);

    /* if the leader disconnects, a new one should be elected. */
    harness_disconnect(h, leader1);
    harness_check_one_leader(h);

    /* if the old leader rejoins, that shouldn't disturb the new leader.
     * and the old leader should switch to follower. */
    harness_connect(h, leader1);
    int leader2 = harness_check_one_leader(h);

    /* if there's no quorum, no new leader should be elected. */
    harness_disconnect(h, leader2);
    harness_disconnect(h, (leader2 + 1) % servers);
    harness_sleep(h, 2 * HARNESS_ELECTION_TIMEOUT_MS);

    /* check that the one connected server does not think it is the leader. */
    harness_check_no_leader(h);

    /* if a quorum arises, it should elect a leader. */
    harness_connect(h, (leader2 + 1) % servers);
    harness_check_one_leader(h);

    /* re-join of last node shouldn't prevent leader from existing. */
    harness_connect(h, leader2);
    harness_check_one_leader(h);

    harness_end(h);
    harness_cleanup(h);
}

/*
 * Nine rounds of cutting off up to three of seven servers: the rest (at
 * least four, a majority) must always have a leader. Catches: term and
 * vote bookkeeping bugs (voting twice, not resetting votedFor on a new
 * term), election livelock, candidates that never give up.
 */
Test(raft2A, t03_many_elections)
{
    int servers = 7;
    harness *h = harness_make(servers, false, false);
    harness_begin(h, "Test (2A): multiple elections");

    harness_check_one_leader(h);

    int iters = 10;
    for (int ii = 1; ii < iters; ii++) {
        /* disconnect three nodes */
        int i1 = (int)harness_rand(h, servers);
        int i2 = (int)harness_rand(h, servers);
        int i3 = (int)harness_rand(h, servers);
        harness_disconnect(h, i1);
        harness_disconnect(h, i2);
        harness_disconnect(h, i3);

        /* either the current leader should still be alive,
         * or the remaining four should elect a new one. */
        harness_check_one_leader(h);

        harness_connect(h, i1);
        harness_connect(h, i2);
        harness_connect(h, i3);
    }

    harness_check_one_leader(h);

    harness_end(h);
    harness_cleanup(h);
}

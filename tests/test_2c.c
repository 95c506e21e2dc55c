/*
 * test_2c.c: Part 2C, persistence (6.824's 2C tests in the original order),
 * with the original banners, numbers and messages.
 */
#include <criterion/criterion.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "harness/harness.h"
#include "harness/support/test_support.h"
#include "lab/sync.h"

TestSuite(raft2C, .timeout = HARNESS_SUITE_TIMEOUT_S, .fini = test_check_leaks);

/*
 * Restart everyone, then the leader, then a follower, between agreements.
 * Catches: currentTerm, votedFor or the log not persisted, or persisted but
 * not read back (or read but not used) in raft_make.
 */
Test(raft2C, t01_persist1)
{
    int servers = 3;
    harness *h = harness_make(servers, false, false);
    harness_begin(h, "Test (2C): basic persistence");

    harness_one(h, 11, servers, true);

    /* crash and re-start all */
    for (int i = 0; i < servers; i++)
        harness_start_server(h, i);
    for (int i = 0; i < servers; i++) {
        harness_disconnect(h, i);
        harness_connect(h, i);
    }

    harness_one(h, 12, servers, true);

    int leader1 = harness_check_one_leader(h);
    harness_disconnect(h, leader1);
    harness_start_server(h, leader1);
    harness_connect(h, leader1);

    harness_one(h, 13, servers, true);

    int leader2 = harness_check_one_leader(h);
    harness_disconnect(h, leader2);
    harness_one(h, 14, servers - 1, true);
    harness_start_server(h, leader2);
    harness_connect(h, leader2);

    harness_wait(h, 4, servers, -1);   /* wait for leader2 to join before killing i3 */

    int i3 = (harness_check_one_leader(h) + 1) % servers;
    harness_disconnect(h, i3);
    harness_one(h, 15, servers - 1, true);
    harness_start_server(h, i3);
    harness_connect(h, i3);

    harness_one(h, 16, servers, true);

    harness_end(h);
    harness_cleanup(h);
}

/*
 * Five rounds in which a majority of restarted servers must carry on with
 * what was committed before. Catches: a restarted server that forgets its
 * log (or its vote, and votes twice in a term).
 */
Test(raft2C, t02_persist2)
{
    int servers = 5;
    harness *h = harness_make(servers, false, false);
    harness_begin(h, "Test (2C): more persistence");

    int index = 1;
    for (int iters = 0; iters < 5; iters++) {
        harness_one(h, 10 + index, servers, true);
        index++;

        int leader1 = harness_check_one_leader(h);

        harness_disconnect(h, (leader1 + 1) % servers);
        harness_disconnect(h, (leader1 + 2) % servers);

        harness_one(h, 10 + index, servers - 2, true);
        index++;

        harness_disconnect(h, (leader1 + 0) % servers);
        harness_disconnect(h, (leader1 + 3) % servers);
        harness_disconnect(h, (leader1 + 4) % servers);

        harness_start_server(h, (leader1 + 1) % servers);
        harness_start_server(h, (leader1 + 2) % servers);
        harness_connect(h, (leader1 + 1) % servers);
        harness_connect(h, (leader1 + 2) % servers);

        harness_sleep(h, HARNESS_ELECTION_TIMEOUT_MS);

        harness_start_server(h, (leader1 + 3) % servers);
        harness_connect(h, (leader1 + 3) % servers);

        harness_one(h, 10 + index, servers - 2, true);
        index++;

        harness_connect(h, (leader1 + 4) % servers);
        harness_connect(h, (leader1 + 0) % servers);
    }

    harness_one(h, 1000, servers, true);

    harness_end(h);
    harness_cleanup(h);
}

/*
 * The leader and a follower crash while the third server was cut off; the
 * restarted leader must win over the stale one. Catches: a restarted
 * server without its log, so the up-to-date check cannot protect index 2.
 */
Test(raft2C, t03_persist3)
{
    int servers = 3;
    harness *h = harness_make(servers, false, false);
    harness_begin(h, "Test (2C): partitioned leader and one follower crash, leader restarts");

    harness_one(h, 101, 3, true);

    int leader = harness_check_one_leader(h);
    harness_disconnect(h, (leader + 2) % servers);

    harness_one(h, 102, 2, true);

    harness_crash_server(h, (leader + 0) % servers);
    harness_crash_server(h, (leader + 1) % servers);
    harness_connect(h, (leader + 2) % servers);
    harness_start_server(h, (leader + 0) % servers);
    harness_connect(h, (leader + 0) % servers);

    harness_one(h, 103, 2, true);

    harness_start_server(h, (leader + 1) % servers);
    harness_connect(h, (leader + 1) % servers);

    harness_one(h, 104, servers, true);

    harness_end(h);
    harness_cleanup(h);
}

/* Go's sleeps in the Figure 8 tests: 10 % of the time up to half an
 * election timeout, else up to 12 ms. */
static void figure8_sleep(harness *h)
{
    if (harness_rand(h, 1000) < 100)
        harness_sleep(h, (int64_t)harness_rand(h, HARNESS_ELECTION_TIMEOUT_MS / 2));
    else
        harness_sleep(h, (int64_t)harness_rand(h, 13));
}

/*
 * 1000 rounds: offer a command to everyone, crash whoever accepted as
 * leader, restart crashed servers to keep three up. Catches: the Figure 8
 * bug, committing an entry of an earlier term by counting its replicas;
 * persistence bugs under constant leader churn.
 */
Test(raft2C, t04_figure8)
{
    int servers = 5;
    harness *h = harness_make(servers, false, false);
    harness_begin(h, "Test (2C): Figure 8");

    harness_one(h, harness_rand_int(h), 1, true);

    int nup = servers;
    for (int iters = 0; iters < 1000; iters++) {
        int leader = -1;
        for (int i = 0; i < servers; i++) {
            if (harness_is_alive(h, i) && harness_raft_start(h, i, harness_rand_int(h), NULL, NULL))
                leader = i;
        }

        figure8_sleep(h);

        if (leader != -1) {
            harness_crash_server(h, leader);
            nup -= 1;
        }

        if (nup < 3) {
            int s = (int)harness_rand(h, servers);
            if (!harness_is_alive(h, s)) {
                harness_start_server(h, s);
                harness_connect(h, s);
                nup += 1;
            }
        }
    }

    for (int i = 0; i < servers; i++) {
        if (!harness_is_alive(h, i)) {
            harness_start_server(h, i);
            harness_connect(h, i);
        }
    }

    harness_one(h, harness_rand_int(h), servers, true);

    harness_end(h);
    harness_cleanup(h);
}

typedef struct agree_client {
    harness *h;
    int64_t cmd;
} agree_client;

static void *agree_client_main(void *p)
{
    agree_client *c = p;
    harness_one(c->h, c->cmd, 1, true);
    return NULL;
}

/*
 * Many concurrent agreements over a network that drops, delays and
 * reorders. Catches: AppendEntries that is not idempotent (a duplicate or
 * reordered request truncating entries that already matched); lost or
 * duplicated entries under retries.
 */
Test(raft2C, t05_unreliable_agree)
{
    int servers = 5;
    harness *h = harness_make(servers, true, false);
    harness_begin(h, "Test (2C): unreliable agreement");

    enum { rounds = 49, per_round = 4 };
    static agree_client clients[rounds * per_round];
    static lab_thread threads[rounds * per_round];
    int nthreads = 0;
    for (int iters = 1; iters < 50; iters++) {
        for (int j = 0; j < per_round; j++) {
            clients[nthreads] = (agree_client){h, (100 * iters) + j};
            char name[32];
            snprintf(name, sizeof name, "one %d.%d", iters, j);
            lab_thread_create(&threads[nthreads], name, agree_client_main, &clients[nthreads]);
            nthreads++;
        }
        harness_one(h, iters, 1, true);
    }

    harness_set_unreliable(h, false);

    for (int k = 0; k < nthreads; k++)
        lab_thread_join(&threads[k]);
    harness_check(h);

    harness_one(h, 100, servers, true);

    harness_end(h);
    harness_cleanup(h);
}

/*
 * Figure 8 again, over an unreliable network whose replies may arrive up
 * to 2.2 s late (long reordering from round 200). Catches: acting on stale
 * replies (setting nextIndex or matchIndex from an old reply, counting an
 * old term's vote), truncating a log on an outdated AppendEntries.
 */
Test(raft2C, t06_figure8_unreliable)
{
    int servers = 5;
    harness *h = harness_make(servers, true, false);
    harness_begin(h, "Test (2C): Figure 8 (unreliable)");

    harness_one(h, harness_rand_int(h) % 10000, 1, true);

    int nup = servers;
    for (int iters = 0; iters < 1000; iters++) {
        if (iters == 200)
            harness_set_long_reordering(h, true);
        int leader = -1;
        for (int i = 0; i < servers; i++) {
            bool ok = harness_raft_start(h, i, harness_rand_int(h) % 10000, NULL, NULL);
            if (ok && harness_is_connected(h, i))
                leader = i;
        }

        figure8_sleep(h);

        if (leader != -1 && (int)harness_rand(h, 1000) < HARNESS_ELECTION_TIMEOUT_MS / 2) {
            harness_disconnect(h, leader);
            nup -= 1;
        }

        if (nup < 3) {
            int s = (int)harness_rand(h, servers);
            if (!harness_is_connected(h, s)) {
                harness_connect(h, s);
                nup += 1;
            }
        }
    }

    for (int i = 0; i < servers; i++) {
        if (!harness_is_connected(h, i))
            harness_connect(h, i);
    }

    harness_one(h, harness_rand_int(h) % 10000, servers, true);

    harness_end(h);
    harness_cleanup(h);
}

/* A churn client: offers random commands to every live server and keeps
 * those it saw committed. */
typedef struct churn_client {
    harness *h;
    int me;
    atomic_int *stop;
    int64_t *values;     /* out: committed values it offered */
    int nvalues, cap;
    bool failed;         /* out: like the original's nil result */
} churn_client;

static void churn_keep(churn_client *c, int64_t x)
{
    if (c->nvalues == c->cap) {
        c->cap = c->cap ? 2 * c->cap : 64;
        c->values = realloc(c->values, (size_t)c->cap * sizeof *c->values);
        if (!c->values)
            abort();
    }
    c->values[c->nvalues++] = x;
}

static void *churn_client_main(void *p)
{
    churn_client *c = p;
    harness *h = c->h;
    int servers = 5;
    while (!atomic_load(c->stop)) {
        int64_t x = harness_rand_int(h);
        int index = -1;
        bool ok = false;
        for (int i = 0; i < servers; i++) {
            /* try them all, maybe one of them is a leader */
            int index1;
            if (harness_raft_start(h, i, x, &index1, NULL)) {
                ok = true;
                index = index1;
            }
        }
        if (ok) {
            /* maybe leader will commit our value, maybe not.
             * but don't wait forever. */
            static const int timeouts[] = {10, 20, 50, 100, 200};
            for (int k = 0; k < 5; k++) {
                int64_t cmd;
                int nd = harness_n_committed(h, index, &cmd);
                if (nd < 0) {
                    c->failed = true;
                    return NULL;
                }
                if (nd > 0) {
                    if (cmd == HARNESS_NOT_INT) {
                        harness_fail(h, CLASS_SAFETY, "wrong command type");
                        c->failed = true;
                        return NULL;
                    }
                    if (cmd == x)
                        churn_keep(c, x);
                    break;
                }
                if (!harness_sleep(h, timeouts[k])) {
                    c->failed = true;
                    return NULL;
                }
            }
        } else if (!harness_sleep(h, 79 + c->me * 17)) {
            c->failed = true;
            return NULL;
        }
    }
    return NULL;
}

/*
 * Three clients offer commands while servers are cut off, crashed and
 * restarted at random; everything they saw committed must survive.
 * Catches: committed entries lost across crashes and partitions; Start or
 * GetState misbehaving while an instance is being killed.
 */
static void churn(bool unreliable)
{
    int servers = 5;
    harness *h = harness_make(servers, unreliable, false);
    harness_begin(h, unreliable ? "Test (2C): unreliable churn" : "Test (2C): churn");

    atomic_int stop = 0;
    enum { ncli = 3 };
    churn_client clients[ncli];
    lab_thread threads[ncli];
    for (int i = 0; i < ncli; i++) {
        clients[i] = (churn_client){.h = h, .me = i, .stop = &stop};
        char name[32];
        snprintf(name, sizeof name, "churn client %d", i);
        lab_thread_create(&threads[i], name, churn_client_main, &clients[i]);
    }

    for (int iters = 0; iters < 20; iters++) {
        if (harness_rand(h, 1000) < 200) {
            int i = (int)harness_rand(h, servers);
            harness_disconnect(h, i);
        }

        if (harness_rand(h, 1000) < 500) {
            int i = (int)harness_rand(h, servers);
            if (!harness_is_alive(h, i))
                harness_start_server(h, i);
            harness_connect(h, i);
        }

        if (harness_rand(h, 1000) < 200) {
            int i = (int)harness_rand(h, servers);
            if (harness_is_alive(h, i))
                harness_crash_server(h, i);
        }

        /* Make crash/restart infrequent enough that the peers can often
         * keep up, but not so infrequent that everything has settled
         * down from one change to the next. Pick a value smaller than
         * the election timeout, but not hugely smaller. */
        harness_sleep(h, (HARNESS_ELECTION_TIMEOUT_MS * 7) / 10);
    }

    harness_sleep(h, HARNESS_ELECTION_TIMEOUT_MS);
    harness_set_unreliable(h, false);
    for (int i = 0; i < servers; i++) {
        if (!harness_is_alive(h, i))
            harness_start_server(h, i);
        harness_connect(h, i);
    }

    atomic_store(&stop, 1);

    for (int i = 0; i < ncli; i++)
        lab_thread_join(&threads[i]);
    harness_check(h);
    for (int i = 0; i < ncli; i++)
        if (clients[i].failed)
            harness_fail(h, CLASS_LIVENESS, "client failed");

    harness_sleep(h, HARNESS_ELECTION_TIMEOUT_MS);

    int last_index = harness_one(h, harness_rand_int(h), servers, true);

    int64_t *really = calloc((size_t)last_index + 1, sizeof *really);
    if (!really)
        abort();
    for (int index = 1; index <= last_index; index++) {
        int64_t v = harness_wait(h, index, servers, -1);
        if (v == HARNESS_NOT_INT)
            harness_fail(h, CLASS_SAFETY, "not an int");
        really[index] = v;
    }

    bool all_found = true;
    for (int i = 0; i < ncli; i++) {
        for (int k = 0; k < clients[i].nvalues; k++) {
            bool found = false;
            for (int index = 1; index <= last_index && !found; index++)
                found = really[index] == clients[i].values[k];
            all_found = all_found && found;
        }
        free(clients[i].values);
    }
    free(really);
    if (!all_found)
        harness_fail(h, CLASS_SAFETY, "didn't find a value");

    harness_end(h);
    harness_cleanup(h);
}

Test(raft2C, t07_reliable_churn)
{
    churn(false);
}

Test(raft2C, t08_unreliable_churn)
{
    churn(true);
}

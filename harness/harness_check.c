/*
 * harness_check.c: the checks the tests make: one leader, agreeing terms,
 * no leader, how many servers committed an index, one() (agree on a
 * command), wait(). Same numbers and messages as the original config.go.
 */
#include "harness/harness_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lab/debug.h"
#include "lab/fatal.h"

/* ---- checks --------------------------------------------------------------------------- */

/*
 * A leader among the connected servers: up to 10 rounds of a 450-549 ms
 * sleep then a poll (so about 5 s, the handout's "elect a new leader within
 * five seconds"). Two leaders in one term is a safety failure at once.
 */
static int one_leader(harness *h)
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
                harness_fail(h, CLASS_SAFETY, "term %d has %d (>1) leaders", terms[i], count);
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
    harness_fail(h, CLASS_LIVENESS, "expected one leader, got none");
    return -1;
}

int harness_check_one_leader(harness *h)
{
    harness_trace_check check = harness_trace_check_begin("one leader");
    int leader = one_leader(h);
    harness_trace_check_end(check, true, "S%d", leader);
    return leader;
}

/* All connected servers agree on the term. */
static int agreed_term(harness *h)
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
                harness_fail(h, CLASS_LIVENESS, "servers disagree on term");
        }
    }
    DPRINTF(TEST, -1, "check_terms: term %d", term);
    return term;
}

int harness_check_terms(harness *h)
{
    harness_trace_check check = harness_trace_check_begin("servers agree on term");
    int term = agreed_term(h);
    harness_trace_check_end(check, true, "term %d", term);
    return term;
}

/* No connected server thinks it leads (say, a lone server cut off). */
void harness_check_no_leader(harness *h)
{
    harness_trace_check check = harness_trace_check_begin("no leader among connected servers");
    harness_check(h);
    for (int i = 0; i < h->n; i++) {
        int term;
        bool leader = false;
        if (harness_is_connected(h, i) && harness_raft_get_state(h, i, &term, &leader) && leader)
            harness_fail(h, CLASS_SAFETY,
                         "expected no leader among connected servers, but %d claims to be leader", i);
    }
    DPRINTF(TEST, -1, "check_no_leader: none");
    harness_trace_check_end(check, true, "none");
}

/*
 * How many servers applied index, with a copy of the command in *cmd (may
 * be NULL). Committed values that differ are a safety failure. Returns -1
 * if a failure is recorded and the caller is not the main thread.
 */
static int committed(harness *h, int index, uint8_t **cmd, size_t *len)
{
    if (harness_on_main_thread())
        harness_check(h);
    else if (harness_has_failed(h))
        return -1;
    char reason[REASON_LEN] = "";
    int count = 0;
    applied *first = NULL;
    lab_mutex_lock(&h->mu);
    for (int i = 0; i < h->n && !reason[0]; i++) {
        applied *a = harness_log_at(h, i, index);
        if (!a)
            continue;
        if (first && !harness_same_command(first, a->cmd, a->len)) {
            char x[80], y[80];
            harness_format_command(x, sizeof x, first->cmd, first->len);
            harness_format_command(y, sizeof y, a->cmd, a->len);
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
            *cmd = lab_memdup(first->cmd, first->len);
            *len = first->len;
        }
    }
    lab_mutex_unlock(&h->mu);
    if (reason[0]) {
        if (cmd) {
            free(*cmd);
            *cmd = NULL;
        }
        harness_fail(h, CLASS_SAFETY, "%s", reason);
        return -1;
    }
    return count;
}

int harness_n_committed(harness *h, int index, int64_t *cmd)
{
    uint8_t *bytes = NULL;
    size_t len = 0;
    int count = committed(h, index, cmd ? &bytes : NULL, &len);
    if (cmd && bytes) {
        if (!harness_decode_int(bytes, len, cmd))
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
static int agree(harness *h, const uint8_t *cmd, size_t len, int expected, bool retry, const char *shown)
{
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
            if (harness_start_on(h, starts, true, cmd, len, &index1, NULL)) {
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
                harness_fail(h, CLASS_LIVENESS, "one(%s) failed to reach agreement", shown);
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
        harness_fail(h, CLASS_LIVENESS, "one(%s) failed to reach agreement", shown);
    return -1;
}

static int one(harness *h, const uint8_t *cmd, size_t len, int expected, bool retry)
{
    char shown[80];
    harness_format_command(shown, sizeof shown, cmd, len);
    harness_trace_check check = harness_trace_check_begin("agreement on %s by %d servers", shown, expected);
    int index = agree(h, cmd, len, expected, retry, shown);
    harness_trace_check_end(check, index >= 0, "index %d", index);
    return index;
}

int harness_one(harness *h, int64_t cmd, int expected, bool retry)
{
    codec_buffer b;
    harness_encode_int(&b, cmd);
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
static int64_t wait_for(harness *h, int index, int n, int start_term, bool *term_moved)
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
                if (harness_raft_get_state(h, i, &t, &leader) && t > start_term) {
                    *term_moved = true;   /* someone has moved on; can no longer guarantee we'll "win" */
                    return -1;
                }
            }
        }
    }
    int64_t cmd = 0;
    int nd = harness_n_committed(h, index, &cmd);
    if (nd < 0)
        return -1;
    if (nd < n) {
        harness_fail(h, CLASS_LIVENESS, "only %d decided for index %d; wanted %d", nd, index, n);
        return -1;
    }
    return cmd;
}


int64_t harness_wait(harness *h, int index, int n, int start_term)
{
    harness_trace_check check = harness_trace_check_begin("index %d applied by %d servers", index, n);
    bool term_moved = false;
    int64_t cmd = wait_for(h, index, n, start_term, &term_moved);
    harness_trace_check_end(check, cmd != -1 || term_moved, "%s", term_moved ? "gave up: a term moved on" : "done");
    return cmd;
}

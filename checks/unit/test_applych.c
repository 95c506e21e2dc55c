/*
 * test_applych.c: the apply channel is a rendezvous (a send returns only once
 * its own message was received), copies payloads, keeps order, delivers each
 * message of concurrent senders exactly once, and close releases everyone.
 *
 * Helper threads only record what happened; the main thread asserts (a failing
 * cr_assert off the main thread is undefined behaviour, design section 7).
 */
#include <criterion/criterion.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "applych/applych.h"
#include "harness/support/test_support.h"
#include "lab/sync.h"

TestSuite(applych, .timeout = 30, .fini = test_check_leaks);

enum {
    BLOCK_MS = 50,      /* how long a blocked call must stay blocked */
    PROMPT_MS = 50,     /* how soon a released call must return */
};

/* A thread that sends one message and records when and how send returned. */
typedef struct sender {
    lab_thread thread;
    applych *ch;
    apply_msg msg;             /* the payload buffers are the sender's */
    atomic_bool returned;
    atomic_bool result;
    _Atomic int64_t returned_at_ms;
} sender;

static void *sender_main(void *arg)
{
    sender *s = arg;
    bool ok = applych_send(s->ch, &s->msg);
    atomic_store(&s->result, ok);
    atomic_store(&s->returned_at_ms, lab_now_ms());
    atomic_store(&s->returned, true);
    return NULL;
}

/* Starts a thread sending a command message with the given index. */
static void start_sender(sender *s, applych *ch, int index)
{
    memset(s, 0, sizeof *s);
    s->ch = ch;
    s->msg.command_valid = true;
    s->msg.command_index = index;
    atomic_store(&s->returned, false);
    lab_thread_create(&s->thread, "sender", sender_main, s);
}

/* Waits up to limit_ms for the sender to return; true if it did. */
static bool sender_returns_within(sender *s, int64_t limit_ms)
{
    int64_t deadline = lab_now_ms() + limit_ms;
    while (!atomic_load(&s->returned) && lab_now_ms() < deadline)
        lab_sleep_ms(1);
    return atomic_load(&s->returned);
}

/* A thread that receives once and records the outcome. */
typedef struct receiver {
    lab_thread thread;
    applych *ch;
    apply_msg msg;
    atomic_bool returned;
    atomic_bool result;
    _Atomic int64_t returned_at_ms;
} receiver;

static void *receiver_main(void *arg)
{
    receiver *r = arg;
    bool ok = applych_receive(r->ch, &r->msg);
    atomic_store(&r->result, ok);
    atomic_store(&r->returned_at_ms, lab_now_ms());
    atomic_store(&r->returned, true);
    return NULL;
}

/* Catches: a buffered channel, or a send that returns before anyone receives. */
Test(applych, send_blocks_until_received)
{
    applych *ch = applych_make();
    sender s;
    start_sender(&s, ch, 1);
    lab_sleep_ms(BLOCK_MS);
    cr_assert(!atomic_load(&s.returned), "send returned with no receiver");

    apply_msg m;
    cr_assert(applych_receive(ch, &m));
    cr_assert(sender_returns_within(&s, 5000), "send did not return after receive");
    lab_thread_join(&s.thread);
    cr_assert(atomic_load(&s.result), "send returned false on an open channel");
    cr_assert(m.command_valid);
    cr_assert_eq(m.command_index, 1);
    apply_msg_free(&m);
    applych_free(ch);
}

/* Catches: taking one message releasing every waiting sender (or a 1-slot buffer). */
Test(applych, send_waits_for_its_own_message)
{
    applych *ch = applych_make();
    sender s[2];
    start_sender(&s[0], ch, 0);
    start_sender(&s[1], ch, 1);
    lab_sleep_ms(BLOCK_MS);

    apply_msg m;
    cr_assert(applych_receive(ch, &m));
    int taken = m.command_index, other = 1 - taken;
    cr_assert(taken == 0 || taken == 1, "unexpected command_index %d", taken);
    apply_msg_free(&m);
    cr_assert(sender_returns_within(&s[taken], 5000), "the taken message's send did not return");
    lab_sleep_ms(BLOCK_MS);
    cr_assert(!atomic_load(&s[other].returned),
              "a send returned before its own message was taken");

    cr_assert(applych_receive(ch, &m));
    cr_assert_eq(m.command_index, other);
    apply_msg_free(&m);
    cr_assert(sender_returns_within(&s[other], 5000));
    for (int i = 0; i < 2; i++) {
        lab_thread_join(&s[i].thread);
        cr_assert(atomic_load(&s[i].result), "send %d returned false on an open channel", i);
    }
    applych_free(ch);
}

/* Catches: receive returning before anything was sent. */
Test(applych, receive_blocks_until_sent)
{
    applych *ch = applych_make();
    receiver r = { .ch = ch };
    lab_thread_create(&r.thread, "receiver", receiver_main, &r);
    lab_sleep_ms(BLOCK_MS);
    cr_assert(!atomic_load(&r.returned), "receive returned with no sender");

    apply_msg m = { .command_valid = true, .command_index = 7 };
    cr_assert(applych_send(ch, &m));
    lab_thread_join(&r.thread);
    cr_assert(atomic_load(&r.result));
    cr_assert_eq(r.msg.command_index, 7);
    apply_msg_free(&r.msg);
    applych_free(ch);
}

/* Sends a malloc'd command, then scribbles on and frees it as soon as send returns. */
static void *send_and_free(void *arg)
{
    applych *ch = arg;
    uint8_t *cmd = malloc(5);
    memcpy(cmd, "hello", 5);
    apply_msg m = { .command_valid = true, .command = cmd, .command_len = 5,
                    .command_index = 3 };
    applych_send(ch, &m);
    memset(cmd, 'X', 5);
    free(cmd);
    return NULL;
}

/* Catches: a channel that passes the sender's buffer instead of a copy. */
Test(applych, payload_is_copied)
{
    applych *ch = applych_make();
    lab_thread t;
    lab_thread_create(&t, "sender", send_and_free, ch);
    apply_msg m;
    cr_assert(applych_receive(ch, &m));
    lab_thread_join(&t);                /* the sender's buffer is gone now */
    cr_assert_eq(m.command_len, 5);
    cr_assert(memcmp(m.command, "hello", 5) == 0, "received payload changed after send");
    apply_msg_free(&m);
    applych_free(ch);
}

enum { ORDERED = 200 };

static void *send_in_order(void *arg)
{
    applych *ch = arg;
    for (int i = 1; i <= ORDERED; i++) {
        uint8_t byte = (uint8_t)i;
        apply_msg m = { .command_valid = true, .command = &byte, .command_len = 1,
                        .command_index = i };
        if (!applych_send(ch, &m))
            break;
    }
    return NULL;
}

/* Catches: a channel that reorders (LIFO stack, wrong end of the queue). */
Test(applych, one_sender_order_preserved)
{
    applych *ch = applych_make();
    lab_thread t;
    lab_thread_create(&t, "sender", send_in_order, ch);
    int wrong = 0;
    for (int i = 1; i <= ORDERED; i++) {
        apply_msg m;
        cr_assert(applych_receive(ch, &m));
        if (m.command_index != i || m.command_len != 1 || m.command[0] != (uint8_t)i)
            wrong++;
        apply_msg_free(&m);
    }
    lab_thread_join(&t);
    cr_assert_eq(wrong, 0, "%d messages out of order", wrong);
    applych_free(ch);
}

enum { SENDERS = 4, PER_SENDER = 100 };

typedef struct many_arg {
    applych *ch;
    int id;
    atomic_int failures;        /* sends that returned false */
} many_arg;

/* Sends PER_SENDER messages tagged (sender id, sequence number). */
static void *send_many(void *arg)
{
    many_arg *a = arg;
    for (int i = 0; i < PER_SENDER; i++) {
        int tag[2] = { a->id, i };
        apply_msg m = { .command_valid = true, .command = (uint8_t *)tag,
                        .command_len = sizeof tag, .command_index = i };
        if (!applych_send(a->ch, &m))
            atomic_fetch_add(&a->failures, 1);
    }
    return NULL;
}

/* Catches: lost, duplicated or mixed-up messages when several threads send. */
Test(applych, concurrent_senders_each_delivered_once)
{
    applych *ch = applych_make();
    many_arg args[SENDERS];
    lab_thread threads[SENDERS];
    for (int i = 0; i < SENDERS; i++) {
        args[i] = (many_arg){ .ch = ch, .id = i };
        lab_thread_create(&threads[i], "sender", send_many, &args[i]);
    }
    int seen[SENDERS][PER_SENDER] = { { 0 } };
    int next[SENDERS] = { 0 };
    int bad = 0, out_of_order = 0;
    for (int n = 0; n < SENDERS * PER_SENDER; n++) {
        apply_msg m;
        cr_assert(applych_receive(ch, &m));
        int tag[2];
        if (m.command_len != sizeof tag) {
            bad++;
        } else {
            memcpy(tag, m.command, sizeof tag);
            if (tag[0] < 0 || tag[0] >= SENDERS || tag[1] < 0 || tag[1] >= PER_SENDER ||
                tag[1] != m.command_index) {
                bad++;
            } else {
                seen[tag[0]][tag[1]]++;
                out_of_order += tag[1] != next[tag[0]];
                next[tag[0]] = tag[1] + 1;
            }
        }
        apply_msg_free(&m);
    }
    for (int i = 0; i < SENDERS; i++)
        lab_thread_join(&threads[i]);
    cr_assert_eq(bad, 0, "%d malformed messages", bad);
    cr_assert_eq(out_of_order, 0, "%d messages out of order within a sender", out_of_order);
    for (int i = 0; i < SENDERS; i++) {
        cr_assert_eq(atomic_load(&args[i].failures), 0, "sender %d saw a failed send", i);
        for (int j = 0; j < PER_SENDER; j++)
            cr_assert_eq(seen[i][j], 1, "message %d of sender %d delivered %d times",
                         j, i, seen[i][j]);
    }
    applych_free(ch);
}

/* Catches: close leaving a blocked sender asleep (raft_kill would hang). */
Test(applych, close_releases_blocked_sender)
{
    applych *ch = applych_make();
    sender s;
    start_sender(&s, ch, 1);
    lab_sleep_ms(BLOCK_MS);
    cr_assert(!atomic_load(&s.returned));

    int64_t closed_at = lab_now_ms();
    applych_close(ch);
    cr_assert(sender_returns_within(&s, 5000), "close did not release the sender");
    lab_thread_join(&s.thread);
    cr_assert(!atomic_load(&s.result), "send on a closed channel returned true");
    int64_t took = atomic_load(&s.returned_at_ms) - closed_at;
    cr_assert_lt(took, PROMPT_MS, "sender took %lld ms to return after close", (long long)took);
    applych_free(ch);
}

/* Catches: close leaving a blocked receiver asleep (the tester's applier would hang). */
Test(applych, close_releases_blocked_receiver)
{
    applych *ch = applych_make();
    receiver r = { .ch = ch };
    lab_thread_create(&r.thread, "receiver", receiver_main, &r);
    lab_sleep_ms(BLOCK_MS);
    cr_assert(!atomic_load(&r.returned));

    int64_t closed_at = lab_now_ms();
    applych_close(ch);
    lab_thread_join(&r.thread);
    cr_assert(!atomic_load(&r.result), "receive on a closed channel returned true");
    int64_t took = atomic_load(&r.returned_at_ms) - closed_at;
    cr_assert_lt(took, PROMPT_MS, "receiver took %lld ms to return after close", (long long)took);
    applych_free(ch);
}

/* Catches: a send on a closed channel that blocks forever or reports success. */
Test(applych, send_after_close_returns_false_at_once)
{
    applych *ch = applych_make();
    applych_close(ch);
    sender s;
    start_sender(&s, ch, 1);
    cr_assert(sender_returns_within(&s, PROMPT_MS), "send on a closed channel blocked");
    lab_thread_join(&s.thread);
    cr_assert(!atomic_load(&s.result));
    applych_free(ch);
}

/* Catches: a send on a closed channel leaking its copy of the payload. */
Test(applych, send_after_close_frees_its_copy)
{
    applych *ch = applych_make();
    applych_close(ch);
    uint8_t cmd[3] = { 1, 2, 3 };
    apply_msg m = { .command_valid = true, .command = cmd, .command_len = 3,
                    .snapshot_valid = true, .snapshot = cmd, .snapshot_len = 3 };
    cr_assert(!applych_send(ch, &m));
    applych_free(ch);                   /* a leak shows under SAN=address or valgrind */
}

/* Catches: a receive on a closed channel that blocks or invents a message. */
Test(applych, receive_after_close_returns_false)
{
    applych *ch = applych_make();
    applych_close(ch);
    apply_msg m;
    memset(&m, 0xAB, sizeof m);
    cr_assert(!applych_receive(ch, &m));
    cr_assert(!m.command_valid && !m.snapshot_valid && m.command == NULL,
              "a failed receive left garbage in the message");
    applych_free(ch);
}

/* Catches: close that leaves an offered message for a later receive to deliver. */
Test(applych, close_withdraws_offered_message)
{
    applych *ch = applych_make();
    sender s;
    start_sender(&s, ch, 1);
    lab_sleep_ms(BLOCK_MS);             /* the message is offered, not taken */
    applych_close(ch);
    apply_msg m;
    cr_assert(!applych_receive(ch, &m), "receive delivered a withdrawn message");
    lab_thread_join(&s.thread);
    cr_assert(!atomic_load(&s.result));
    applych_free(ch);
}

enum { RACERS = 4, RACE_RECEIVES = 300 };

typedef struct racer_arg {
    applych *ch;
    atomic_int delivered;       /* sends that returned true */
} racer_arg;

/*
 * Sends until a send fails, counting the sends that succeeded. No more than
 * RACE_RECEIVES sends can succeed, so a correct channel ends the loop with a
 * failed send; the bound only stops a broken one from spinning forever.
 */
static void *send_until_closed(void *arg)
{
    racer_arg *a = arg;
    uint8_t payload[16] = { 0 };
    for (int i = 0; i <= RACE_RECEIVES; i++) {
        apply_msg m = { .command_valid = true, .command = payload,
                        .command_len = sizeof payload, .command_index = i };
        if (!applych_send(a->ch, &m))
            break;
        atomic_fetch_add(&a->delivered, 1);
    }
    return NULL;
}

/* Catches: a send reporting true for a message that close withdrew, or a lost one. */
Test(applych, close_racing_senders_counts_agree)
{
    racer_arg a = { .ch = applych_make() };
    lab_thread threads[RACERS];
    for (int i = 0; i < RACERS; i++)
        lab_thread_create(&threads[i], "racer", send_until_closed, &a);
    int received = 0;
    for (; received < RACE_RECEIVES; received++) {
        apply_msg m;
        cr_assert(applych_receive(a.ch, &m));
        apply_msg_free(&m);
    }
    applych_close(a.ch);        /* senders are blocked or about to send */
    for (int i = 0; i < RACERS; i++)
        lab_thread_join(&threads[i]);
    cr_assert_eq(atomic_load(&a.delivered), received,
                 "%d sends returned true but %d messages were received",
                 atomic_load(&a.delivered), received);
    applych_free(a.ch);
}

/* Sends one snapshot message whose payload lives on this thread's stack. */
static void *send_snapshot(void *arg)
{
    applych *ch = arg;
    uint8_t snap[4] = { 9, 8, 7, 6 };
    apply_msg m = { .snapshot_valid = true, .snapshot = snap, .snapshot_len = 4,
                    .snapshot_term = 5, .snapshot_index = 42 };
    applych_send(ch, &m);
    memset(snap, 0, sizeof snap);
    return NULL;
}

/* Catches: a channel that drops or garbles the snapshot fields of a message. */
Test(applych, snapshot_fields_carried)
{
    applych *ch = applych_make();
    lab_thread t;
    lab_thread_create(&t, "sender", send_snapshot, ch);
    apply_msg m;
    cr_assert(applych_receive(ch, &m));
    lab_thread_join(&t);
    cr_assert(m.snapshot_valid);
    cr_assert(!m.command_valid);
    cr_assert_eq(m.snapshot_term, 5);
    cr_assert_eq(m.snapshot_index, 42);
    cr_assert_eq(m.snapshot_len, 4);
    uint8_t want[4] = { 9, 8, 7, 6 };
    cr_assert(memcmp(m.snapshot, want, 4) == 0);
    apply_msg_free(&m);
    applych_free(ch);
}

/* Catches: apply_msg_free leaving dangling pointers (a double free on reuse). */
Test(applych, apply_msg_free_zeroes_message)
{
    apply_msg m = { .command_valid = true, .command = malloc(2), .command_len = 2,
                    .snapshot_valid = true, .snapshot = malloc(3), .snapshot_len = 3,
                    .command_index = 4, .snapshot_term = 1, .snapshot_index = 4 };
    apply_msg_free(&m);
    cr_assert(m.command == NULL && m.snapshot == NULL);
    cr_assert(!m.command_valid && !m.snapshot_valid);
    cr_assert_eq(m.command_len + m.snapshot_len, 0);
    cr_assert_eq(m.command_index + m.snapshot_term + m.snapshot_index, 0);
    apply_msg_free(&m);                 /* and freeing twice is harmless */
}

/*
 * applych.c: the apply channel, a rendezvous like Go's unbuffered channel.
 *
 * A sender copies its message into an offer that lives on its own stack,
 * appends the offer to the channel's queue and sleeps on the offer's own
 * condition variable. The receiver takes the oldest offer, moves the copied
 * payloads into the caller's apply_msg, marks the offer taken and wakes that
 * one sender. So a send returns only once *its* message is in the receiver's
 * hands, not merely once there is room: that is what makes a Raft which
 * holds its lock across a send deadlock with a service that calls
 * raft_snapshot before receiving again, the lesson the Go channel teaches.
 *
 * Closing withdraws every waiting offer (its sender frees the copy and
 * returns false) and wakes a receiver, which then returns false.
 */
#include "applych/applych.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "lab/diag.h"
#include "lab/fatal.h"
#include "lab/sync.h"

typedef enum offer_state {
    OFFER_WAITING,     /* in the queue, not yet taken */
    OFFER_TAKEN,       /* the receiver has the message */
    OFFER_WITHDRAWN,   /* the channel closed first; the sender still owns msg */
} offer_state;

/* One sender's message, on that sender's stack while it waits. */
typedef struct offer {
    apply_msg msg;          /* private copy; moved to the receiver when taken */
    offer_state state;      /* guarded by ch->mu */
    lab_cond done;          /* signalled (under ch->mu) when state leaves WAITING */
    struct offer *next;     /* guarded by ch->mu */
} offer;

struct applych {
    lab_mutex mu;
    lab_cond offered;       /* signalled when an offer is queued or on close */
    /* guarded by mu: */
    offer *head;            /* waiting offers, oldest first; NULL once closed */
    offer *tail;
    bool closed;
    /* The thread that last called applych_receive: a waiting sender can go
     * on only through it (a wait-for edge for hang dumps and simulation's
     * deadlock detector). Compared, never dereferenced here. */
    const lab_thread_info *receiver;
};

/* A private copy of len bytes of src; NULL only when src is NULL. */
static uint8_t *copy_payload(const uint8_t *src, size_t len, const char *what)
{
    if (src == NULL) {
        if (len > 0)
            lab_fatal("applych_send: %s is NULL but %s_len is %zu", what, what, len);
        return NULL;
    }
    return lab_memdup(src, len);
}

static apply_msg copy_msg(const apply_msg *msg)
{
    apply_msg m = *msg;
    m.command = copy_payload(msg->command, msg->command_len, "command");
    m.snapshot = copy_payload(msg->snapshot, msg->snapshot_len, "snapshot");
    return m;
}

/* Caller holds ch->mu. */
static void assert_invariants(const applych *ch)
{
    assert(lab_mutex_held_by_me(&ch->mu));
    assert((ch->head == NULL) == (ch->tail == NULL));
    assert(!ch->closed || ch->head == NULL);
    (void)ch;
}

applych *applych_make(void)
{
    applych *ch = lab_calloc(1, sizeof *ch);
    lab_mutex_init(&ch->mu, "applych->mu");
    lab_cond_init(&ch->offered);
    return ch;
}

void applych_free(applych *ch)
{
    if (ch == NULL)
        return;
    if (ch->head != NULL)
        lab_fatal("applych_free: a sender is still waiting on the channel");
    lab_cond_destroy(&ch->offered);
    lab_mutex_destroy(&ch->mu);
    free(ch);
}

/* Queue o behind earlier senders. Caller holds ch->mu; channel open. */
static void enqueue(applych *ch, offer *o)
{
    assert(lab_mutex_held_by_me(&ch->mu));
    o->next = NULL;
    if (ch->tail != NULL)
        ch->tail->next = o;
    else
        ch->head = o;
    ch->tail = o;
}

/* Remove and return the oldest offer. Caller holds ch->mu; queue non-empty. */
static offer *dequeue(applych *ch)
{
    assert(lab_mutex_held_by_me(&ch->mu));
    offer *o = ch->head;
    ch->head = o->next;
    if (ch->head == NULL)
        ch->tail = NULL;
    o->next = NULL;
    return o;
}

bool applych_send(applych *ch, const apply_msg *msg)
{
    offer o = { .msg = copy_msg(msg), .state = OFFER_WAITING };
    lab_cond_init(&o.done);

    lab_mutex_lock(&ch->mu);
    assert_invariants(ch);
    if (ch->closed) {
        o.state = OFFER_WITHDRAWN;
    } else {
        enqueue(ch, &o);
        lab_cond_signal(&ch->offered);
        lab_thread_set_activity("blocked sending on the apply channel");
        lab_thread_set_waits_for(ch->receiver);
        while (o.state == OFFER_WAITING)
            lab_cond_wait(&o.done, &ch->mu);
        lab_thread_set_waits_for(NULL);
        lab_thread_set_activity(NULL);
    }
    /* Whoever changed o.state has also unlinked o; nobody refers to it now. */
    lab_mutex_unlock(&ch->mu);
    lab_cond_destroy(&o.done);

    if (o.state == OFFER_WITHDRAWN) {
        apply_msg_free(&o.msg);
        return false;
    }
    assert(o.state == OFFER_TAKEN);
    return true;
}

bool applych_receive(applych *ch, apply_msg *out)
{
    lab_mutex_lock(&ch->mu);
    ch->receiver = lab_thread_current();
    while (ch->head == NULL && !ch->closed)
        lab_cond_wait(&ch->offered, &ch->mu);
    assert_invariants(ch);
    if (ch->closed) {
        lab_mutex_unlock(&ch->mu);
        memset(out, 0, sizeof *out);
        return false;
    }
    offer *o = dequeue(ch);
    assert(o->state == OFFER_WAITING);
    *out = o->msg;                  /* the payloads are now the receiver's */
    o->state = OFFER_TAKEN;
    lab_cond_signal(&o->done);      /* o stays valid: its sender needs mu */
    lab_mutex_unlock(&ch->mu);
    return true;
}

void applych_close(applych *ch)
{
    lab_mutex_lock(&ch->mu);
    assert_invariants(ch);
    ch->closed = true;
    while (ch->head != NULL) {
        offer *o = dequeue(ch);
        o->state = OFFER_WITHDRAWN;     /* its sender frees the copy */
        lab_cond_signal(&o->done);
    }
    lab_cond_broadcast(&ch->offered);
    lab_mutex_unlock(&ch->mu);
}

void apply_msg_free(apply_msg *m)
{
    if (m == NULL)
        return;
    free(m->command);
    free(m->snapshot);
    memset(m, 0, sizeof *m);
}

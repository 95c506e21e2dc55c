/*
 * call.c: the life of one RPC, with the original labrpc's numbers.
 *
 * The caller's own thread plays the original's per-request goroutine: it
 * sleeps out simulated delays, decides drops, and waits while a pool thread
 * runs the handler. Every wait is a timed wait on the call's own condition
 * variable, so retiring the end or cleaning up the network wakes it at once
 * (a killed Raft must not sit out a 7-second simulated timeout).
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "lab/fatal.h"
#include "lab/sim.h"
#include "lab/trace.h"
#include "labrpc/labrpc_internal.h"

/* How long a caller spins for a fast handler before it sleeps. */
enum { CALLER_SPIN_US = 20 };

/* The random choices for one call, drawn together from the end's stream so
 * that its position depends only on how many calls the end has made. */
typedef struct draws {
    int short_delay_ms;   /* unreliable: 0-26 ms before delivery */
    int drop_request;     /* < 100 of 1000: request lost */
    int drop_reply;       /* < 100 of 1000: reply lost */
    int reorder;          /* < 600 of 900: reply delivered late */
    int reorder_ms;       /* 200 + U[0, U[0,1999]]: skewed low, mean ~700 ms */
    int fail_ms;          /* unreachable: U[0,6999] with long delays, else U[0,99] */
    int hold_ms;          /* request reordering: held back before delivery, or 0 */
} draws;

/* Request reordering (not in the original labrpc; raftlab's extra tests): a
 * request in HOLD_PER_MILLE is held back HOLD_MIN_MS + U[0, HOLD_SPREAD_MS)
 * before delivery, longer than a heartbeat interval, so that later requests
 * to the same server overtake it. Drawn only while the mode is on, so the
 * other modes' draws, and every seed's run without it, stay as they were. */
enum { HOLD_PER_MILLE = 250, HOLD_MIN_MS = 100, HOLD_SPREAD_MS = 400 };

static draws draw(labrpc_end *end, bool long_delays)
{
    lab_rand *r = &end->rand;
    draws d;
    d.short_delay_ms = (int)lab_rand_below(r, 27);
    d.drop_request = (int)lab_rand_below(r, 1000);
    d.drop_reply = (int)lab_rand_below(r, 1000);
    d.reorder = (int)lab_rand_below(r, 900);
    d.reorder_ms = 200 + (int)lab_rand_below(r, 1 + lab_rand_below(r, 2000));
    d.fail_ms = (int)lab_rand_below(r, long_delays ? 7000 : 100);
    d.hold_ms = 0;
    return d;
}

static int draw_hold(labrpc_end *end)
{
    lab_rand *r = &end->rand;
    int held = (int)lab_rand_below(r, 1000);
    int ms = HOLD_MIN_MS + (int)lab_rand_below(r, HOLD_SPREAD_MS);
    return held < HOLD_PER_MILLE ? ms : 0;
}

/* Sleeps ms with net->mu held (released while waiting). Returns false if the
 * call was aborted (end retired, network cleaned up) meanwhile. */
static bool sleep_out(labrpc_network *net, call *c, int ms)
{
    assert(lab_mutex_held_by_me(&net->mu));
    c->phase = CALL_SLEEPING;
    int64_t deadline = lab_now_ms() + ms;
    while (!c->aborted && lab_cond_wait_until(&c->wake, &net->mu, deadline))
        ;
    return !c->aborted;
}

/* Runs on a pool thread: the handler, then hands the reply to the caller if
 * it is still waiting. */
static void run_job(lab_pool_job *base)
{
    labrpc_job *job = (labrpc_job *)base;
    codec_decoder args;
    codec_decoder_init(&args, job->args, job->args_len);
    job->method->fn(job->service->receiver, &args, &job->reply);
    if (!codec_decoder_done(&args))
        lab_fatal("labrpc: handler %s.%s could not decode its %zu-byte arguments: %s "
                  "(the caller must encode the same fields, in the same order, that the handler decodes)",
                  job->service->name, job->method->name, job->args_len, codec_decoder_error(&args));

    labrpc_network *net = job->net;
    lab_mutex_lock(&net->mu);
    call *c = job->caller;
    if (c) {
        if (lab_trace_on())
            c->answered_us = lab_trace_now();
        codec_buffer tmp = c->reply;
        c->reply = job->reply;
        job->reply = tmp;
        c->job = NULL;
        atomic_store_explicit(&c->handler_done, 1, memory_order_release);
        lab_cond_signal(&c->wake);
    }
    assert(job->server->running > 0 && net->handlers_running > 0);
    if (--job->server->running == 0)
        lab_cond_broadcast(&job->server->idle);
    if (--net->handlers_running == 0)
        lab_cond_broadcast(&net->quiet);
    lab_mutex_unlock(&net->mu);
    codec_buffer_free(&job->reply);
    free(job);
}

/* Hands the request to a pool thread and waits for its reply, or for the
 * request to die (end disabled, server deleted or replaced, end retired,
 * network cleaned up). Returns whether the handler finished. */
static bool run_handler(labrpc_network *net, call *c, labrpc_server *srv, const char *method,
                        const codec_buffer *args)
{
    assert(lab_mutex_held_by_me(&net->mu));
    labrpc_service *svc;
    labrpc_method *m = labrpc_resolve(srv, method, &svc);
    labrpc_job *job = lab_malloc(sizeof *job + args->len);
    memset(job, 0, sizeof *job);
    job->base.run = run_job;
    job->net = net;
    job->server = srv;
    job->service = svc;
    job->method = m;
    m->count++;
    job->caller = c;
    job->args_len = args->len;
    if (args->len)
        memcpy(job->args, args->data, args->len);
    c->job = job;
    c->server = srv;
    c->phase = CALL_WAITING_HANDLER;
    srv->running++;
    net->handlers_running++;
    if (lab_trace_on())
        c->delivered_us = lab_trace_now();
    lab_pool_submit(net->pool, &job->base);

    lab_mutex_unlock(&net->mu);
    lab_spin_until_set(&c->handler_done, CALLER_SPIN_US);
    lab_mutex_lock(&net->mu);
    while (!atomic_load_explicit(&c->handler_done, memory_order_acquire) && !c->cut && !c->aborted)
        lab_cond_wait(&c->wake, &net->mu);
    if (!atomic_load_explicit(&c->handler_done, memory_order_relaxed)) {
        c->fate = c->aborted ? LAB_TRACE_ABORTED : LAB_TRACE_CUT;
        c->job->caller = NULL;   /* abandoned: the pool thread frees the job */
        c->job = NULL;
        return false;
    }
    return true;
}

/* Everything after the request was handed to the network. Called and returns
 * with net->mu held. */
static bool deliver(labrpc_network *net, call *c, const char *method, const codec_buffer *args,
                    const draws *d)
{
    assert(lab_mutex_held_by_me(&net->mu));
    labrpc_end *end = c->end;
    labrpc_server *srv = end->slot ? end->slot->server : NULL;
    if (end->retired) {
        c->fate = LAB_TRACE_ABORTED;
        return false;
    }
    if (!end->enabled || !srv) {
        /* Long delays are what catch a leader that sends RPCs synchronously:
         * one dead peer would stall its heartbeats to all the others. */
        c->fate = LAB_TRACE_UNREACHABLE;
        c->delay_ms = d->fail_ms;
        if (!sleep_out(net, c, d->fail_ms))
            c->fate = LAB_TRACE_ABORTED;
        return false;
    }
    bool reliable = net->reliable;
    bool long_reordering = net->long_reordering;
    if (!reliable) {
        c->delay_ms = d->short_delay_ms;
        c->fate = LAB_TRACE_ABORTED;
        if (!sleep_out(net, c, d->short_delay_ms))
            return false;
        c->fate = LAB_TRACE_REQUEST_DROPPED;
        if (d->drop_request < 100)
            return false;
    }
    if (d->hold_ms > 0) {
        /* Held back; delivered only if the link is still up afterwards. */
        c->delay_ms = (c->delay_ms > 0 ? c->delay_ms : 0) + d->hold_ms;
        c->fate = LAB_TRACE_ABORTED;
        if (!sleep_out(net, c, d->hold_ms))
            return false;
        c->fate = LAB_TRACE_UNREACHABLE;
        if (!end->enabled || end->slot == NULL || end->slot->server != srv)
            return false;
    }
    c->fate = c->aborted ? LAB_TRACE_ABORTED : LAB_TRACE_CUT;
    if (srv->dead || c->aborted)
        return false;   /* the server was deleted while the request travelled */
    srv->count++;
    if (!run_handler(net, c, srv, method, args))
        return false;
    /* A reply computed by a server that died or was cut off meanwhile is never
     * delivered: the caller must not believe an append that went into a
     * persister the tester has since replaced. */
    c->fate = c->aborted ? LAB_TRACE_ABORTED : LAB_TRACE_CUT;
    if (c->cut || c->aborted || !end->enabled || end->slot->server != srv)
        return false;
    c->fate = LAB_TRACE_REPLY_DROPPED;
    if (!reliable && d->drop_reply < 100)
        return false;   /* the handler's effects stay; only the reply is lost */
    if (long_reordering && d->reorder < 600) {
        /* Late replies catch a Raft that trusts an old reply's view of the world. */
        c->delay_ms = d->reorder_ms;
        c->fate = LAB_TRACE_ABORTED;
        if (!sleep_out(net, c, d->reorder_ms))
            return false;
    }
    c->fate = LAB_TRACE_REPLIED;
    net->total_bytes += (int64_t)c->reply.len;
    return true;
}

/* The call's life for lab/trace.h, as it ends; net->mu held. */
static void record_call(const call *c, const char *method, int64_t sent_us, size_t args_len)
{
    lab_trace_event e = lab_trace_blank(LAB_TRACE_CALL);
    e.t3 = e.t0;
    e.t0 = sent_us;
    e.t1 = c->delivered_us;
    e.t2 = c->answered_us;
    e.server = (int16_t)c->end->trace_from;
    e.peer = (int16_t)c->end->trace_to;
    e.name = (int16_t)lab_trace_name_id(method);
    e.a = (int32_t)args_len;
    e.b = c->answered_us >= 0 ? (int32_t)c->reply.len : -1;   /* a reply was made, delivered or not */
    e.c = c->fate;
    e.d = c->delay_ms;
    lab_trace_record(&e);
}

bool labrpc_call(labrpc_end *end, const char *method, const codec_buffer *args, codec_buffer *reply)
{
    labrpc_network *net = end->net;
    lab_sim_transit();   /* in simulation: the request's way to the network (lab/sim.h) */
    lab_mutex_lock(&net->mu);
    if (net->cleaned_up) {
        lab_mutex_unlock(&net->mu);
        return false;
    }
    net->total_count++;
    net->total_bytes += (int64_t)args->len;
    draws d = draw(end, net->long_delays);
    if (net->request_reordering)
        d.hold_ms = draw_hold(end);

    call c;
    memset(&c, 0, sizeof c);
    c.end = end;
    c.delivered_us = c.answered_us = -1;
    c.delay_ms = -1;
    int64_t sent_us = lab_trace_on() ? lab_trace_now() : -1;
    atomic_init(&c.handler_done, 0);
    lab_cond_init(&c.wake);
    c.next = net->calls;
    if (net->calls)
        net->calls->prev = &c;
    net->calls = &c;
    net->calls_in_progress++;

    bool ok = deliver(net, &c, method, args, &d);
    if (sent_us >= 0)
        record_call(&c, method, sent_us, args->len);

    if (c.prev)
        c.prev->next = c.next;
    else
        net->calls = c.next;
    if (c.next)
        c.next->prev = c.prev;
    assert(net->calls_in_progress > 0);
    if (--net->calls_in_progress == 0)
        lab_cond_broadcast(&net->quiet);
    lab_mutex_unlock(&net->mu);

    if (ok) {
        codec_buffer old = *reply;
        *reply = c.reply;
        c.reply = old;
        lab_sim_transit();   /* ... and the reply's way back */
    }
    codec_buffer_free(&c.reply);
    lab_cond_destroy(&c.wake);
    return ok;
}

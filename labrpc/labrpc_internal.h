/*
 * labrpc_internal.h: the network's data structures, shared by network.c
 * (objects, connections, statistics) and call.c (the life of one call).
 * Not part of the API.
 *
 * Locking: one mutex, net->mu, guards every mutable field below unless a
 * comment says otherwise. It is never held while a handler runs or while a
 * caller sleeps (condition waits release it).
 */
#ifndef LABRPC_INTERNAL_H
#define LABRPC_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "lab/pool.h"
#include "lab/rand.h"
#include "lab/sync.h"
#include "labrpc/labrpc.h"

typedef struct labrpc_method {
    char *name;
    labrpc_handler fn;
    int count;                   /* requests dispatched to it; guarded by net->mu */
    struct labrpc_method *next;
} labrpc_method;

struct labrpc_service {   /* immutable once added to a server */
    char *name;
    void *receiver;
    labrpc_method *methods;
    struct labrpc_service *next;
};

/* A server name; the server registered under it may change (restart). */
typedef struct server_slot {
    char *name;
    labrpc_server *server;       /* NULL when deleted */
    struct server_slot *next;
} server_slot;

struct labrpc_server {
    labrpc_service *services;    /* immutable once added to a network */
    labrpc_network *net;         /* set when added */
    int count;                   /* requests that reached dispatch */
    int running;                 /* handlers running now; >= 0 */
    bool dead;                   /* deleted or replaced: no handler starts */
    lab_cond idle;               /* broadcast when running drops to 0 */
    struct labrpc_server *next_all;
};

struct labrpc_end {
    char *name;                  /* immutable */
    labrpc_network *net;         /* immutable */
    bool enabled;
    bool retired;
    server_slot *slot;           /* connection; NULL when unconnected */
    lab_rand rand;               /* this end's own random stream */
    int trace_from, trace_to;    /* servers it links, for lab/trace.h; -1 unknown */
    struct labrpc_end *next_in_bucket;
    struct labrpc_end *next_all;
};

/* What a call is doing, for deciding which events wake it. */
typedef enum {
    CALL_SLEEPING,               /* sleeping out a simulated delay */
    CALL_WAITING_HANDLER,        /* its handler runs on a pool thread */
} call_phase;

typedef struct labrpc_job labrpc_job;

/* One call in progress; lives on the caller's stack. */
typedef struct call {
    labrpc_end *end;
    labrpc_server *server;       /* the server it was dispatched to, if any */
    call_phase phase;
    atomic_int handler_done;     /* raised by the worker, read while spinning */
    bool cut;                    /* end disabled or server gone while waiting */
    bool aborted;                /* end retired or network cleaned up */
    labrpc_job *job;             /* while the handler runs */
    codec_buffer reply;          /* moved here by the worker when done */
    lab_cond wake;
    /* For lab/trace.h, when recording: */
    int fate;                    /* lab_trace_fate */
    int delay_ms;                /* the delay drawn for it */
    int64_t delivered_us;        /* the handler was handed the request; -1: never */
    int64_t answered_us;         /* the handler returned; -1: never */
    struct call *prev, *next;    /* in net->calls */
} call;

/* A handler's run, owned by the pool thread; outlives an abandoned call. */
struct labrpc_job {
    lab_pool_job base;
    labrpc_network *net;
    labrpc_server *server;
    labrpc_service *service;
    labrpc_method *method;
    call *caller;                /* guarded by net->mu; NULL once abandoned */
    codec_buffer reply;
    size_t args_len;
    uint8_t args[];              /* a copy: the caller may leave first */
};

enum { END_BUCKETS = 256 };

struct labrpc_network {
    lab_mutex mu;
    uint64_t seed;               /* immutable */
    bool reliable;
    bool long_delays;
    bool long_reordering;
    bool request_reordering;     /* some requests held back (raftlab's extra tests) */
    bool cleaned_up;             /* calls fail at once from now on */
    int64_t total_count;
    int64_t total_bytes;
    labrpc_end *end_buckets[END_BUCKETS];
    labrpc_end *all_ends;
    server_slot *slots;
    labrpc_server *all_servers;
    call *calls;                 /* every call in progress */
    int calls_in_progress;       /* >= 0 */
    int handlers_running;        /* over all servers; >= 0 */
    lab_cond quiet;              /* broadcast when calls or handlers drop to 0 */
    lab_pool *pool;              /* immutable until cleanup */
};

/* network.c, for call.c; all with net->mu held. */
void labrpc_cut_calls(labrpc_network *net, labrpc_end *end, labrpc_server *server);
labrpc_method *labrpc_resolve(labrpc_server *srv, const char *svc_meth, labrpc_service **svc);

#endif

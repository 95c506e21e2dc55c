/*
 * labrpc.h: a simulated, unreliable RPC network between threads of one
 * process. It can delay, drop, reorder and cut off calls, so a Raft that
 * works on it copes with what a real network does.
 *
 *     labrpc_network *net = labrpc_network_make(seed);
 *
 *     labrpc_service *svc = labrpc_service_make("Raft", rf);
 *     labrpc_service_add_method(svc, "RequestVote", request_vote_handler);
 *     labrpc_server *srv = labrpc_server_make();
 *     labrpc_server_add_service(srv, svc);
 *     labrpc_network_add_server(net, "1", srv);
 *
 *     labrpc_end *end = labrpc_network_make_end(net, "a-random-name");
 *     labrpc_network_connect(net, "a-random-name", "1");
 *     labrpc_network_enable(net, "a-random-name", true);
 *
 *     codec_buffer args = CODEC_BUFFER_INIT, reply = CODEC_BUFFER_INIT;
 *     codec_put_int(&args, term);
 *     if (labrpc_call(end, "Raft.RequestVote", &args, &reply))
 *         ... decode reply.data, reply.len ...
 *
 * A call returns true with the handler's reply, or false if the request or
 * the reply was lost, the end is disabled or unconnected, or the server is
 * gone. False is not a timeout you chose: on a dead link it comes after up to
 * 7 seconds with long delays on (the Raft tests always turn them on), so a
 * Raft must never wait synchronously on one peer, nor hold a lock across a call.
 *
 * Handlers run on the network's own threads, possibly many at once. A handler
 * decodes its arguments from a decoder and appends its reply to a buffer; if
 * the decoder failed or did not consume its input exactly, the caller and the
 * handler disagree on the message's format and the network stops with a
 * fatal error naming the method.
 *
 * Lifetimes (the original relies on a garbage collector; C cannot):
 *  - ends and servers belong to the network and are freed by
 *    labrpc_network_destroy; a retired end or deleted server stays valid
 *    memory, merely dead;
 *  - after labrpc_network_delete_server returns, no handler of that server
 *    starts and callers waiting on it have been released;
 *    labrpc_server_wait_idle then waits until its running handlers return,
 *    after which the receiver (the Raft) may be freed;
 *  - retiring an end, or cleaning up the network, makes every call on it
 *    that sleeps out a simulated delay return false at once;
 *  - labrpc_network_cleanup waits for calls in progress to leave and for
 *    running handlers to return, then stops the network's threads; later
 *    calls return false at once. labrpc_network_destroy frees everything.
 */
#ifndef LABRPC_LABRPC_H
#define LABRPC_LABRPC_H

#include <stdbool.h>
#include <stdint.h>

#include "codec.h"

typedef struct labrpc_network labrpc_network;
typedef struct labrpc_end labrpc_end;
typedef struct labrpc_server labrpc_server;
typedef struct labrpc_service labrpc_service;

/* A handler: decode args, do the work, append the reply. */
typedef void (*labrpc_handler)(void *receiver, codec_decoder *args, codec_buffer *reply);

/* Network. */
labrpc_network *labrpc_network_make(uint64_t seed);
void labrpc_network_cleanup(labrpc_network *net);
void labrpc_network_destroy(labrpc_network *net);   /* cleans up first if needed */
void labrpc_network_set_reliable(labrpc_network *net, bool reliable);
void labrpc_network_set_long_delays(labrpc_network *net, bool on);
void labrpc_network_set_long_reordering(labrpc_network *net, bool on);
/* Not in the original labrpc (raftlab's extra tests): hold some requests
 * back long enough that a later request to the same server overtakes them. */
void labrpc_network_set_request_reordering(labrpc_network *net, bool on);

/* Ends. Made disabled and unconnected. Names must be unique in a network. */
labrpc_end *labrpc_network_make_end(labrpc_network *net, const char *end_name);
void labrpc_network_connect(labrpc_network *net, const char *end_name, const char *server_name);
void labrpc_network_enable(labrpc_network *net, const char *end_name, bool enabled);
/* Retire an end: calls on it fail at once from now on, sleeping ones wake. */
void labrpc_network_retire_end(labrpc_network *net, const char *end_name);
/* Which servers an end links (by number), so that a recorded call (lab/trace.h)
 * says from whom to whom; -1 when unknown, as for an end never labelled. */
void labrpc_end_set_trace_ids(labrpc_end *end, int from, int to);

/* Servers. Adding under a name that holds a server replaces (kills) it. */
void labrpc_network_add_server(labrpc_network *net, const char *server_name, labrpc_server *srv);
/* Detaches the server; returns it (NULL if none) for labrpc_server_wait_idle. */
labrpc_server *labrpc_network_delete_server(labrpc_network *net, const char *server_name);

/* Statistics, as the original counts them. */
int labrpc_network_server_count(labrpc_network *net, const char *server_name); /* requests that reached its dispatch */
int64_t labrpc_network_total_count(labrpc_network *net);   /* every call handed to the network */
int64_t labrpc_network_total_bytes(labrpc_network *net);   /* request bytes + delivered reply bytes */
/* The method of server_name's current server that the most requests reached,
 * as "Service.Method" into method (n bytes), and how many; 0 if none. For
 * saying what a storm of calls was made of. */
int labrpc_network_busiest_method(labrpc_network *net, const char *server_name, char *method, size_t n);

/* The call. method is "Service.Method"; reply is overwritten on success. */
bool labrpc_call(labrpc_end *end, const char *method, const codec_buffer *args, codec_buffer *reply);

/* Servers and services. */
labrpc_server *labrpc_server_make(void);
void labrpc_server_add_service(labrpc_server *srv, labrpc_service *svc);  /* server owns it */
/* Blocks until no handler of this (deleted) server is running. */
void labrpc_server_wait_idle(labrpc_server *srv);
/* Frees a server never added to a network. */
void labrpc_server_free(labrpc_server *srv);

labrpc_service *labrpc_service_make(const char *name, void *receiver);
void labrpc_service_add_method(labrpc_service *svc, const char *method_name, labrpc_handler fn);

#endif

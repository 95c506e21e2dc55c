/*
 * network.c: the network's objects (ends, servers, services), how they are
 * connected, and its statistics. The life of a call is in call.c.
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lab/fatal.h"
#include "labrpc/labrpc_internal.h"

/* ---- network -------------------------------------------------------------- */

labrpc_network *labrpc_network_make(uint64_t seed)
{
    labrpc_network *net = lab_calloc(1, sizeof *net);
    lab_mutex_init(&net->mu, "net->mu");
    lab_cond_init(&net->quiet);
    net->seed = seed;
    net->reliable = true;
    net->pool = lab_pool_make("labrpc handler");
    return net;
}

void labrpc_network_set_reliable(labrpc_network *net, bool reliable)
{
    lab_mutex_lock(&net->mu);
    net->reliable = reliable;
    lab_mutex_unlock(&net->mu);
}

void labrpc_network_set_long_delays(labrpc_network *net, bool on)
{
    lab_mutex_lock(&net->mu);
    net->long_delays = on;
    lab_mutex_unlock(&net->mu);
}

void labrpc_network_set_long_reordering(labrpc_network *net, bool on)
{
    lab_mutex_lock(&net->mu);
    net->long_reordering = on;
    lab_mutex_unlock(&net->mu);
}

void labrpc_network_set_request_reordering(labrpc_network *net, bool on)
{
    lab_mutex_lock(&net->mu);
    net->request_reordering = on;
    lab_mutex_unlock(&net->mu);
}

/* Wakes every call in progress: they return false at once. Then waits for
 * them to leave and for running handlers to return, and stops the pool. */
void labrpc_network_cleanup(labrpc_network *net)
{
    lab_mutex_lock(&net->mu);
    if (net->cleaned_up && !net->pool) {
        lab_mutex_unlock(&net->mu);
        return;
    }
    net->cleaned_up = true;
    for (call *c = net->calls; c; c = c->next) {
        c->aborted = true;
        lab_cond_signal(&c->wake);
    }
    while (net->calls_in_progress > 0 || net->handlers_running > 0)
        lab_cond_wait(&net->quiet, &net->mu);
    lab_pool *pool = net->pool;
    net->pool = NULL;
    lab_mutex_unlock(&net->mu);
    if (pool)
        lab_pool_destroy(pool);
}

static void service_free(labrpc_service *svc)
{
    while (svc) {
        labrpc_service *next_svc = svc->next;
        labrpc_method *m = svc->methods;
        while (m) {
            labrpc_method *next = m->next;
            free(m->name);
            free(m);
            m = next;
        }
        free(svc->name);
        free(svc);
        svc = next_svc;
    }
}

void labrpc_network_destroy(labrpc_network *net)
{
    labrpc_network_cleanup(net);
    assert(net->calls == NULL && net->handlers_running == 0);
    for (labrpc_end *e = net->all_ends, *next; e; e = next) {
        next = e->next_all;
        free(e->name);
        free(e);
    }
    for (server_slot *s = net->slots, *next; s; s = next) {
        next = s->next;
        free(s->name);
        free(s);
    }
    for (labrpc_server *srv = net->all_servers, *next; srv; srv = next) {
        next = srv->next_all;
        srv->net = NULL;
        labrpc_server_free(srv);
    }
    lab_cond_destroy(&net->quiet);
    lab_mutex_destroy(&net->mu);
    free(net);
}

/* ---- ends ----------------------------------------------------------------- */

static unsigned bucket_of(const char *name)
{
    return (unsigned)(lab_hash_string(name) % END_BUCKETS);
}

static labrpc_end *find_end(labrpc_network *net, const char *name)
{
    for (labrpc_end *e = net->end_buckets[bucket_of(name)]; e; e = e->next_in_bucket)
        if (strcmp(e->name, name) == 0)
            return e;
    return NULL;
}

static labrpc_end *must_find_end(labrpc_network *net, const char *name, const char *who)
{
    labrpc_end *e = find_end(net, name);
    if (!e)
        lab_fatal("labrpc: %s: no end named '%s'", who, name);
    return e;
}

labrpc_end *labrpc_network_make_end(labrpc_network *net, const char *end_name)
{
    lab_mutex_lock(&net->mu);
    if (find_end(net, end_name))
        lab_fatal("labrpc: make_end: an end named '%s' already exists", end_name);
    labrpc_end *e = lab_calloc(1, sizeof *e);
    e->name = lab_strdup(end_name);
    e->net = net;
    e->trace_from = e->trace_to = -1;
    lab_rand_seed_labelled(&e->rand, net->seed, end_name);
    unsigned b = bucket_of(end_name);
    e->next_in_bucket = net->end_buckets[b];
    net->end_buckets[b] = e;
    e->next_all = net->all_ends;
    net->all_ends = e;
    lab_mutex_unlock(&net->mu);
    return e;
}

/* The slot named server_name, or NULL: for lookups, which never add one. */
static server_slot *find_slot(labrpc_network *net, const char *server_name)
{
    for (server_slot *s = net->slots; s; s = s->next)
        if (strcmp(s->name, server_name) == 0)
            return s;
    return NULL;
}

/* The slot named server_name, made if it is new: for connect and add. */
static server_slot *slot_for(labrpc_network *net, const char *server_name)
{
    server_slot *s = find_slot(net, server_name);
    if (s)
        return s;
    s = lab_calloc(1, sizeof *s);
    s->name = lab_strdup(server_name);
    s->next = net->slots;
    net->slots = s;
    return s;
}

void labrpc_network_connect(labrpc_network *net, const char *end_name, const char *server_name)
{
    lab_mutex_lock(&net->mu);
    labrpc_end *e = must_find_end(net, end_name, "connect");
    e->slot = slot_for(net, server_name);
    lab_mutex_unlock(&net->mu);
}

void labrpc_network_enable(labrpc_network *net, const char *end_name, bool enabled)
{
    lab_mutex_lock(&net->mu);
    labrpc_end *e = must_find_end(net, end_name, "enable");
    e->enabled = enabled && !e->retired;
    if (!enabled)
        labrpc_cut_calls(net, e, NULL);
    lab_mutex_unlock(&net->mu);
}

void labrpc_end_set_trace_ids(labrpc_end *end, int from, int to)
{
    lab_mutex_lock(&end->net->mu);
    end->trace_from = from;
    end->trace_to = to;
    lab_mutex_unlock(&end->net->mu);
}

void labrpc_network_retire_end(labrpc_network *net, const char *end_name)
{
    lab_mutex_lock(&net->mu);
    labrpc_end *e = must_find_end(net, end_name, "retire_end");
    e->retired = true;
    e->enabled = false;
    for (call *c = net->calls; c; c = c->next) {
        if (c->end == e) {
            c->aborted = true;
            lab_cond_signal(&c->wake);
        }
    }
    lab_mutex_unlock(&net->mu);
}

/* Releases calls waiting for a handler on this end or server (either may be
 * NULL): the original noticed such "dead" requests by polling every 100 ms;
 * we wake them at once. */
void labrpc_cut_calls(labrpc_network *net, labrpc_end *end, labrpc_server *server)
{
    assert(lab_mutex_held_by_me(&net->mu));
    for (call *c = net->calls; c; c = c->next) {
        if (c->phase != CALL_WAITING_HANDLER)
            continue;
        if ((end && c->end == end) || (server && c->server == server)) {
            c->cut = true;
            lab_cond_signal(&c->wake);
        }
    }
}

/* ---- servers -------------------------------------------------------------- */

static void kill_server(labrpc_network *net, labrpc_server *srv)
{
    srv->dead = true;
    labrpc_cut_calls(net, NULL, srv);
}

void labrpc_network_add_server(labrpc_network *net, const char *server_name, labrpc_server *srv)
{
    lab_mutex_lock(&net->mu);
    if (srv->net)
        lab_fatal("labrpc: add_server '%s': this server was already added to a network", server_name);
    srv->net = net;
    srv->next_all = net->all_servers;
    net->all_servers = srv;
    server_slot *slot = slot_for(net, server_name);
    if (slot->server)
        kill_server(net, slot->server);
    slot->server = srv;
    lab_mutex_unlock(&net->mu);
}

labrpc_server *labrpc_network_delete_server(labrpc_network *net, const char *server_name)
{
    lab_mutex_lock(&net->mu);
    server_slot *slot = find_slot(net, server_name);
    labrpc_server *srv = slot ? slot->server : NULL;
    if (srv) {
        kill_server(net, srv);
        slot->server = NULL;
    }
    lab_mutex_unlock(&net->mu);
    return srv;
}

void labrpc_server_wait_idle(labrpc_server *srv)
{
    labrpc_network *net = srv->net;
    if (!net)
        return;   /* never added: nothing can be running */
    lab_mutex_lock(&net->mu);
    assert(srv->dead);   /* else new handlers could start while we wait */
    while (srv->running > 0)
        lab_cond_wait(&srv->idle, &net->mu);
    lab_mutex_unlock(&net->mu);
}

labrpc_server *labrpc_server_make(void)
{
    labrpc_server *srv = lab_calloc(1, sizeof *srv);
    lab_cond_init(&srv->idle);
    return srv;
}

void labrpc_server_free(labrpc_server *srv)
{
    if (!srv)
        return;
    if (srv->net)
        lab_fatal("labrpc: server_free: the server belongs to a network, which frees it");
    assert(srv->running == 0);
    service_free(srv->services);
    lab_cond_destroy(&srv->idle);
    free(srv);
}

void labrpc_server_add_service(labrpc_server *srv, labrpc_service *svc)
{
    if (srv->net)
        lab_fatal("labrpc: add_service '%s': add services before adding the server to the network",
                  svc->name);
    labrpc_service **tail = &srv->services;   /* keep registration order */
    while (*tail)
        tail = &(*tail)->next;
    svc->next = NULL;
    *tail = svc;
}

labrpc_service *labrpc_service_make(const char *name, void *receiver)
{
    labrpc_service *svc = lab_calloc(1, sizeof *svc);
    svc->name = lab_strdup(name);
    svc->receiver = receiver;
    return svc;
}

void labrpc_service_add_method(labrpc_service *svc, const char *method_name, labrpc_handler fn)
{
    labrpc_method *m = lab_calloc(1, sizeof *m);
    m->name = lab_strdup(method_name);
    m->fn = fn;
    labrpc_method **tail = &svc->methods;     /* keep registration order */
    while (*tail)
        tail = &(*tail)->next;
    *tail = m;
}

/* Appends "a, b, c" (the names in a list) to buf. */
#define LIST_NAMES(buf, head, type)                                              \
    do {                                                                         \
        size_t used_ = 0;                                                        \
        (buf)[0] = '\0';                                                         \
        for (type *it_ = (head); it_; it_ = it_->next)                           \
            used_ += (size_t)snprintf((buf) + used_,                             \
                                      used_ < sizeof(buf) ? sizeof(buf) - used_ : 0, \
                                      "%s%s", used_ ? ", " : "", it_->name);     \
    } while (0)

/* Finds "Service.Method" (split at the last dot) on srv; an unknown name is a
 * programming error, reported with the names that do exist. */
labrpc_method *labrpc_resolve(labrpc_server *srv, const char *svc_meth, labrpc_service **svc_out)
{
    const char *dot = strrchr(svc_meth, '.');
    size_t svc_len = dot ? (size_t)(dot - svc_meth) : strlen(svc_meth);
    const char *meth = dot ? dot + 1 : "";
    char known[512];
    for (labrpc_service *svc = srv->services; svc; svc = svc->next) {
        if (strlen(svc->name) != svc_len || strncmp(svc->name, svc_meth, svc_len) != 0)
            continue;
        for (labrpc_method *m = svc->methods; m; m = m->next) {
            if (strcmp(m->name, meth) == 0) {
                *svc_out = svc;
                return m;
            }
        }
        LIST_NAMES(known, svc->methods, labrpc_method);
        lab_fatal("labrpc: unknown method '%s' in %s; expecting one of: %s",
                  meth, svc->name, known);
    }
    LIST_NAMES(known, srv->services, labrpc_service);
    lab_fatal("labrpc: unknown service '%.*s' in '%s'; expecting one of: %s",
              (int)svc_len, svc_meth, svc_meth, known);
}

/* ---- statistics ----------------------------------------------------------- */

int labrpc_network_server_count(labrpc_network *net, const char *server_name)
{
    lab_mutex_lock(&net->mu);
    server_slot *slot = find_slot(net, server_name);
    int n = slot && slot->server ? slot->server->count : 0;
    lab_mutex_unlock(&net->mu);
    return n;
}

int labrpc_network_busiest_method(labrpc_network *net, const char *server_name, char *method, size_t n)
{
    int most = 0;
    lab_mutex_lock(&net->mu);
    server_slot *slot = find_slot(net, server_name);
    for (labrpc_service *svc = slot && slot->server ? slot->server->services : NULL; svc; svc = svc->next)
        for (labrpc_method *m = svc->methods; m; m = m->next)
            if (m->count > most) {
                most = m->count;
                snprintf(method, n, "%s.%s", svc->name, m->name);
            }
    lab_mutex_unlock(&net->mu);
    return most;
}

int64_t labrpc_network_total_count(labrpc_network *net)
{
    lab_mutex_lock(&net->mu);
    int64_t n = net->total_count;
    lab_mutex_unlock(&net->mu);
    return n;
}

int64_t labrpc_network_total_bytes(labrpc_network *net)
{
    lab_mutex_lock(&net->mu);
    int64_t n = net->total_bytes;
    lab_mutex_unlock(&net->mu);
    return n;
}

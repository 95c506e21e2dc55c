/*
 * bench_labrpc.c: what one simulated RPC costs (make bench).
 *
 * Sequential: 100,000 back-to-back calls of a tiny handler on a reliable
 * link, the original's TestBenchmark (Go: 11-14 us per RPC on the course
 * machine). Concurrent: 8 client threads, one end each. Then the CPU time
 * the whole run used. Numbers, not pass/fail.
 */
#include <stdio.h>
#include <stdlib.h>

#include "lab/fatal.h"
#include "lab/sync.h"
#include "labrpc/labrpc.h"

enum { SEQUENTIAL_CALLS = 100000, CLIENTS = 8, CALLS_PER_CLIENT = 25000 };

static void echo(void *receiver, codec_decoder *args, codec_buffer *reply)
{
    (void)receiver;
    int64_t v = 0;
    codec_get_int64(args, &v);
    codec_put_int64(reply, v + 1);
}

static void call_n(labrpc_end *end, int n)
{
    codec_buffer args = CODEC_BUFFER_INIT, reply = CODEC_BUFFER_INIT;
    for (int i = 0; i < n; i++) {
        codec_buffer_reset(&args);
        codec_put_int64(&args, i);
        if (!labrpc_call(end, "Bench.Echo", &args, &reply))
            lab_fatal("bench: a call on a reliable link failed");
        codec_decoder d;
        int64_t v = 0;
        codec_decoder_init(&d, reply.data, reply.len);
        if (!codec_get_int64(&d, &v) || !codec_decoder_done(&d) || v != i + 1)
            lab_fatal("bench: wrong reply");
    }
    codec_buffer_free(&args);
    codec_buffer_free(&reply);
}

static void *client_main(void *arg)
{
    call_n(arg, CALLS_PER_CLIENT);
    return NULL;
}

static labrpc_end *enabled_end(labrpc_network *net, const char *name)
{
    labrpc_end *e = labrpc_network_make_end(net, name);
    labrpc_network_connect(net, name, "server");
    labrpc_network_enable(net, name, true);
    return e;
}

int main(void)
{
    double cpu0 = lab_cpu_seconds();
    labrpc_network *net = labrpc_network_make(1);
    labrpc_service *svc = labrpc_service_make("Bench", NULL);
    labrpc_service_add_method(svc, "Echo", echo);
    labrpc_server *srv = labrpc_server_make();
    labrpc_server_add_service(srv, svc);
    labrpc_network_add_server(net, "server", srv);

    labrpc_end *end = enabled_end(net, "sequential");
    call_n(end, 1000);   /* warm up the pool and the allocator */
    int64_t t0 = lab_now_us();
    call_n(end, SEQUENTIAL_CALLS);
    double seq_us = (double)(lab_now_us() - t0) / SEQUENTIAL_CALLS;
    printf("labrpc sequential: %.2f us/rpc\n", seq_us);
    fflush(stdout);

    lab_thread threads[CLIENTS];
    labrpc_end *ends[CLIENTS];
    for (int i = 0; i < CLIENTS; i++) {
        char name[32];
        snprintf(name, sizeof name, "client-%d", i);
        ends[i] = enabled_end(net, name);
    }
    t0 = lab_now_us();
    for (int i = 0; i < CLIENTS; i++)
        lab_thread_create(&threads[i], "bench client", client_main, ends[i]);
    for (int i = 0; i < CLIENTS; i++)
        lab_thread_join(&threads[i]);
    double secs = (double)(lab_now_us() - t0) / 1e6;
    printf("labrpc concurrent: %.0f rpc/s (%d clients)\n", CLIENTS * CALLS_PER_CLIENT / secs, CLIENTS);

    labrpc_network_destroy(net);
    printf("cpu: %.2f s user+sys\n", lab_cpu_seconds() - cpu0);
    return 0;
}

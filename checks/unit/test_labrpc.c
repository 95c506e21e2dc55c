/*
 * test_labrpc.c: the original labrpc tests, ported: each checks one
 * behaviour of the simulated network that the Raft tests rely on.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checks/unit/labrpc_fixture.h"
#include "harness/support/test_support.h"
#include "lab/fatal.h"
#include "lab/sync.h"
#include "labrpc/labrpc.h"

TestSuite(labrpc, .timeout = 60, .fini = test_check_leaks);

typedef struct fixture {
    labrpc_network *net;
    junk j;
} fixture;

static void fixture_make(fixture *f, const char *server_name)
{
    f->net = labrpc_network_make(test_seed());
    junk_init(&f->j);
    labrpc_network_add_server(f->net, server_name, junk_server(&f->j));
}

static labrpc_end *connected_end(fixture *f, const char *end_name, const char *server_name)
{
    labrpc_end *e = labrpc_network_make_end(f->net, end_name);
    labrpc_network_connect(f->net, end_name, server_name);
    labrpc_network_enable(f->net, end_name, true);
    return e;
}

static void fixture_destroy(fixture *f)
{
    junk_release(&f->j);
    labrpc_network_destroy(f->net);
    junk_destroy(&f->j);
}

/* Catches: a call path that loses or garbles replies. */
Test(labrpc, basic)
{
    fixture f;
    fixture_make(&f, "server99");
    labrpc_end *e = connected_end(&f, "end1-99", "server99");

    char *greeting = NULL;
    cr_assert(call_greet(e, 111, &greeting));
    cr_assert_str_eq(greeting, "handler2-111");
    free(greeting);

    int n = 0;
    cr_assert(call_atoi(e, "9099", &n));
    cr_assert_eq(n, 9099);
    fixture_destroy(&f);
}

/* Catches: a disabled end that still delivers, or one that never recovers. */
Test(labrpc, disconnect)
{
    fixture f;
    fixture_make(&f, "server99");
    labrpc_end *e = labrpc_network_make_end(f.net, "end1-99");
    labrpc_network_connect(f.net, "end1-99", "server99");

    char *greeting = NULL;
    cr_assert_not(call_greet(e, 111, &greeting), "a call on a disabled end succeeded");
    cr_assert_null(greeting, "a failed call changed the reply");

    labrpc_network_enable(f.net, "end1-99", true);
    int n = 0;
    cr_assert(call_atoi(e, "9099", &n));
    cr_assert_eq(n, 9099);
    fixture_destroy(&f);
}

/* Catches: a per-server count that misses or double-counts requests. */
Test(labrpc, counts)
{
    fixture f;
    fixture_make(&f, "99");
    labrpc_end *e = connected_end(&f, "end1-99", "99");
    for (int i = 0; i < 17; i++) {
        char *reply = NULL;
        cr_assert(call_greet(e, i, &reply));
        char want[32];
        snprintf(want, sizeof want, "handler2-%d", i);
        cr_assert_str_eq(reply, want);
        free(reply);
    }
    cr_assert_eq(labrpc_network_server_count(f.net, "99"), 17);
    fixture_destroy(&f);
}

/* Catches: byte statistics that miss requests or replies. The original's
 * bounds were tuned to gob; ours follow from our codec's exact sizes. */
Test(labrpc, bytes)
{
    fixture f;
    fixture_make(&f, "99");
    labrpc_end *e = connected_end(&f, "end1-99", "99");

    char arg[289];
    memset(arg, 'x', 288);
    arg[288] = '\0';
    int64_t before = labrpc_network_total_bytes(f.net);
    for (int i = 0; i < 17; i++) {
        codec_buffer args = CODEC_BUFFER_INIT, reply = CODEC_BUFFER_INIT;
        codec_put_bytes(&args, arg, 288);
        cr_assert(labrpc_call(e, "Junk.Length", &args, &reply));
        codec_buffer_free(&args);
        codec_buffer_free(&reply);
    }
    int64_t phase1 = labrpc_network_total_bytes(f.net) - before;
    int64_t want1 = 17 * (int64_t)(codec_bytes_size(288) + codec_int64_size(288));
    cr_assert_eq(phase1, want1, "phase 1: %lld bytes, expected %lld", (long long)phase1,
                 (long long)want1);
    cr_assert(phase1 <= 6000, "phase 1 larger than gob's upper bound");

    before = labrpc_network_total_bytes(f.net);
    for (int i = 0; i < 17; i++) {
        codec_buffer args = CODEC_BUFFER_INIT, reply = CODEC_BUFFER_INIT;
        codec_put_int(&args, 107);
        cr_assert(labrpc_call(e, "Junk.Ys", &args, &reply));
        codec_buffer_free(&args);
        codec_buffer_free(&reply);
    }
    int64_t phase2 = labrpc_network_total_bytes(f.net) - before;
    int64_t want2 = 17 * (int64_t)(codec_int64_size(107) + codec_bytes_size(107));
    cr_assert_eq(phase2, want2, "phase 2: %lld bytes, expected %lld", (long long)phase2,
                 (long long)want2);
    cr_assert(phase2 <= 2500, "phase 2 larger than gob's upper bound");
    fixture_destroy(&f);
}

typedef struct many_client {
    labrpc_end *end;
    int calls;
    int correct;
    lab_thread thread;
} many_client;

static void *many_client_main(void *arg)
{
    many_client *c = arg;
    for (int i = 0; i < c->calls; i++) {
        char *reply = NULL;
        if (call_greet(c->end, 100 + i, &reply)) {
            char want[32];
            snprintf(want, sizeof want, "handler2-%d", 100 + i);
            c->correct += strcmp(reply, want) == 0;
        }
        free(reply);
    }
    return NULL;
}

static void run_clients(many_client *clients, int n)
{
    for (int i = 0; i < n; i++)
        lab_thread_create(&clients[i].thread, "client", many_client_main, &clients[i]);
    for (int i = 0; i < n; i++)
        lab_thread_join(&clients[i].thread);
}

/* Catches: crosstalk or lost replies between many concurrent ends. */
Test(labrpc, concurrent_many)
{
    fixture f;
    fixture_make(&f, "1000");
    many_client clients[20];
    for (int i = 0; i < 20; i++) {
        char name[32];
        snprintf(name, sizeof name, "end-%d", i);
        clients[i] = (many_client){connected_end(&f, name, "1000"), 10, 0, {0}};
    }
    run_clients(clients, 20);
    int total = 0;
    for (int i = 0; i < 20; i++)
        total += clients[i].correct;
    cr_assert_eq(total, 200);
    cr_assert_eq(labrpc_network_server_count(f.net, "1000"), 200);
    fixture_destroy(&f);
}

/* Catches: an "unreliable" network that delivers everything or nothing. */
Test(labrpc, unreliable)
{
    fixture f;
    fixture_make(&f, "1000");
    labrpc_network_set_reliable(f.net, false);
    enum { CLIENTS = 300 };
    many_client *clients = calloc(CLIENTS, sizeof *clients);
    for (int i = 0; i < CLIENTS; i++) {
        char name[32];
        snprintf(name, sizeof name, "end-%d", i);
        clients[i] = (many_client){connected_end(&f, name, "1000"), 1, 0, {0}};
    }
    run_clients(clients, CLIENTS);
    int ok = 0;
    for (int i = 0; i < CLIENTS; i++)
        ok += clients[i].correct;
    free(clients);
    cr_assert(ok > 0, "no RPCs succeeded on an unreliable network");
    cr_assert(ok < CLIENTS, "all RPCs succeeded despite unreliable");
    fixture_destroy(&f);
}

/* Catches: concurrent calls on one end interfering with each other. */
Test(labrpc, concurrent_one)
{
    fixture f;
    fixture_make(&f, "1000");
    labrpc_end *e = connected_end(&f, "end", "1000");
    many_client clients[20];
    for (int i = 0; i < 20; i++)
        clients[i] = (many_client){e, 1, 0, {0}};
    run_clients(clients, 20);
    int total = 0;
    for (int i = 0; i < 20; i++)
        total += clients[i].correct;
    cr_assert_eq(total, 20);
    cr_assert_eq(junk_log_count(&f.j), 20);
    cr_assert_eq(labrpc_network_server_count(f.net, "1000"), 20);
    fixture_destroy(&f);
}

/* Catches: delayed failures on a disabled end holding up later calls once
 * the end is enabled (e.g. calls queued behind one another). */
Test(labrpc, regression_enable_after_failures)
{
    fixture f;
    fixture_make(&f, "1000");
    labrpc_end *e = labrpc_network_make_end(f.net, "end");
    labrpc_network_connect(f.net, "end", "1000");
    many_client clients[20];
    for (int i = 0; i < 20; i++)
        clients[i] = (many_client){e, 1, 0, {0}};
    for (int i = 0; i < 20; i++)
        lab_thread_create(&clients[i].thread, "client", many_client_main, &clients[i]);
    lab_sleep_ms(100);

    labrpc_network_enable(f.net, "end", true);
    int64_t t0 = lab_now_us();
    char *reply = NULL;
    cr_assert(call_greet(e, 99, &reply));
    int64_t took_us = lab_now_us() - t0;
    free(reply);
    cr_assert(took_us <= test_latency_ms(30) * 1000, "a call on a just-enabled end took %lld us (> 30 ms)",
              (long long)took_us);

    for (int i = 0; i < 20; i++)
        lab_thread_join(&clients[i].thread);
    int delivered = 0;
    for (int i = 0; i < 20; i++)
        delivered += clients[i].correct;
    cr_assert_eq(delivered, 0, "a call issued on a disabled end was delivered");
    cr_assert_eq(labrpc_network_server_count(f.net, "1000"), 1);
    fixture_destroy(&f);
}

typedef struct slow_call {
    labrpc_end *end;
    lab_mutex mu;
    bool done;       /* guarded by mu */
    bool ok;         /* guarded by mu */
    int64_t done_ms; /* guarded by mu */
    lab_thread thread;
} slow_call;

static void *slow_call_main(void *arg)
{
    slow_call *s = arg;
    codec_buffer args = CODEC_BUFFER_INIT, reply = CODEC_BUFFER_INIT;
    codec_put_int(&args, 0);
    bool ok = labrpc_call(s->end, "Junk.Slow", &args, &reply);
    codec_buffer_free(&args);
    codec_buffer_free(&reply);
    lab_mutex_lock(&s->mu);
    s->done = true;
    s->ok = ok;
    s->done_ms = lab_now_ms();
    lab_mutex_unlock(&s->mu);
    return NULL;
}

/* Catches: a caller left waiting (for 20 s) on a handler of a server that
 * the tester has deleted; the original polled every 100 ms. */
Test(labrpc, killed)
{
    fixture f;
    fixture_make(&f, "99");
    slow_call s = {.end = connected_end(&f, "end1-99", "99")};
    lab_mutex_init(&s.mu, "s.mu");
    lab_thread_create(&s.thread, "caller", slow_call_main, &s);

    lab_sleep_ms(1100);
    lab_mutex_lock(&s.mu);
    bool early = s.done;
    lab_mutex_unlock(&s.mu);
    cr_assert_not(early, "the 20-second handler returned early");

    int64_t deleted_ms = lab_now_ms();
    labrpc_server *srv = labrpc_network_delete_server(f.net, "99");
    cr_assert_not_null(srv);
    int64_t deadline = deleted_ms + test_latency_ms(100);
    bool done = false;
    while (!done && lab_now_ms() < deadline + 50) {
        lab_sleep_ms(5);
        lab_mutex_lock(&s.mu);
        done = s.done;
        lab_mutex_unlock(&s.mu);
    }
    cr_assert(done, "the call did not return after delete_server");
    cr_assert_not(s.ok, "a call to a deleted server succeeded");
    cr_assert(s.done_ms - deleted_ms <= test_latency_ms(100), "the call returned %lld ms after delete_server (> 100)",
              (long long)(s.done_ms - deleted_ms));
    lab_thread_join(&s.thread);

    cr_assert_eq(junk_slow_running(&f.j), 1, "the handler itself should still be running");
    junk_release(&f.j);
    labrpc_server_wait_idle(srv);
    cr_assert_eq(junk_slow_running(&f.j), 0, "wait_idle returned while a handler ran");
    lab_mutex_destroy(&s.mu);
    fixture_destroy(&f);
}

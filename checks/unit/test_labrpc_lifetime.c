/*
 * test_labrpc_lifetime.c: the rules the C network adds to the original
 * (which relied on a garbage collector), its delay distributions, its
 * statistics rules, seeded randomness and its errors.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __linux__
#include <dirent.h>
#endif

#include "checks/unit/labrpc_fixture.h"
#include "harness/support/test_support.h"
#include "lab/fatal.h"
#include "lab/sync.h"
#include "labrpc/labrpc.h"

TestSuite(labrpc_lifetime, .timeout = 60, .fini = test_check_leaks);

/* A call made on its own thread, with the time it returned. */
typedef struct timed_call {
    labrpc_end *end;
    const char *method;
    lab_mutex *mu;
    bool done;        /* guarded by *mu */
    bool ok;          /* guarded by *mu */
    int64_t start_ms; /* guarded by *mu: when the call began */
    int64_t done_ms;  /* guarded by *mu */
    lab_thread thread;
} timed_call;

static void *timed_call_main(void *arg)
{
    timed_call *t = arg;
    codec_buffer args = CODEC_BUFFER_INIT, reply = CODEC_BUFFER_INIT;
    codec_put_int(&args, 7);
    int64_t start_ms = lab_now_ms();
    bool ok = labrpc_call(t->end, t->method, &args, &reply);
    codec_buffer_free(&args);
    codec_buffer_free(&reply);
    lab_mutex_lock(t->mu);
    t->done = true;
    t->ok = ok;
    t->start_ms = start_ms;
    t->done_ms = lab_now_ms();
    lab_mutex_unlock(t->mu);
    return NULL;
}

static void start_calls(timed_call *calls, int n, labrpc_end **ends, const char *method,
                        lab_mutex *mu)
{
    for (int i = 0; i < n; i++) {
        calls[i] = (timed_call){.end = ends[i], .method = method, .mu = mu};
        lab_thread_create(&calls[i].thread, "caller", timed_call_main, &calls[i]);
    }
}

static int count_pending(timed_call *calls, int n, lab_mutex *mu)
{
    int pending = 0;
    lab_mutex_lock(mu);
    for (int i = 0; i < n; i++)
        pending += !calls[i].done;
    lab_mutex_unlock(mu);
    return pending;
}

static labrpc_network *long_delay_network(junk *j)
{
    labrpc_network *net = labrpc_network_make(test_seed());
    labrpc_network_set_long_delays(net, true);
    junk_init(j);
    labrpc_network_add_server(net, "0", junk_server(j));
    return net;
}

static labrpc_end *end_to(labrpc_network *net, const char *name, const char *server, bool enabled)
{
    labrpc_end *e = labrpc_network_make_end(net, name);
    labrpc_network_connect(net, name, server);
    labrpc_network_enable(net, name, enabled);
    return e;
}

/* Catches: a killed Raft whose kill takes seconds because one of its threads
 * sits out a 7-second simulated timeout on a dead link. */
Test(labrpc_lifetime, retire_end_wakes_long_delay)
{
    junk j;
    labrpc_network *net = long_delay_network(&j);
    enum { N = 10 };
    labrpc_end *ends[N];
    ends[0] = end_to(net, "dead-end", "0", false);
    for (int i = 1; i < N; i++)
        ends[i] = ends[0];
    lab_mutex mu;
    lab_mutex_init(&mu, "calls");
    timed_call calls[N];
    start_calls(calls, N, ends, "Junk.Greet", &mu);
    lab_sleep_ms(100);
    cr_assert(count_pending(calls, N, &mu) > 0, "every long delay was under 100 ms");

    int64_t retired_ms = lab_now_ms();
    labrpc_network_retire_end(net, "dead-end");
    for (int i = 0; i < N; i++)
        lab_thread_join(&calls[i].thread);
    for (int i = 0; i < N; i++) {
        cr_assert_not(calls[i].ok);
        cr_assert(calls[i].done_ms - retired_ms <= test_latency_ms(50),
                  "a call returned %lld ms after its end was retired (> 50)",
                  (long long)(calls[i].done_ms - retired_ms));
    }
    /* Calls on a retired end fail at once. */
    int64_t t0 = lab_now_ms();
    char *reply = NULL;
    cr_assert_not(call_greet(ends[0], 1, &reply));
    cr_assert(lab_now_ms() - t0 <= test_latency_ms(10));
    lab_mutex_destroy(&mu);
    labrpc_network_destroy(net);
    junk_destroy(&j);
}

#ifdef __linux__
static int thread_count(void)
{
    DIR *d = opendir("/proc/self/task");
    if (!d)
        return -1;
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}
#else
static int thread_count(void) { return -1; }   /* no portable way; skip */
#endif

/* Catches: a cleanup that waits out simulated delays, or leaves the
 * network's threads running (a leak per test, and a crash when they wake). */
Test(labrpc_lifetime, cleanup_with_calls_in_flight)
{
    junk j;
    labrpc_network *net = long_delay_network(&j);
    enum { N = 100 };
    labrpc_end *ends[N];
    for (int i = 0; i < N; i++) {
        char name[32];
        snprintf(name, sizeof name, "e%d", i);
        /* Half sleep out a long delay on a disabled end; half wait for a
         * slow handler, released just before cleanup. */
        ends[i] = end_to(net, name, "0", i % 2 == 1);
    }
    int threads_before = thread_count();
    lab_mutex mu;
    lab_mutex_init(&mu, "calls");
    timed_call calls[N];
    for (int i = 0; i < N; i++) {
        calls[i] = (timed_call){.end = ends[i], .method = i % 2 ? "Junk.Slow" : "Junk.Greet", .mu = &mu};
        lab_thread_create(&calls[i].thread, "caller", timed_call_main, &calls[i]);
    }
    lab_sleep_ms(100);
    cr_assert(count_pending(calls, N, &mu) > N / 2, "calls finished too early for the test");
    int64_t t0 = lab_now_ms();
    junk_release(&j);        /* handlers return promptly; cleanup waits for them */
    labrpc_network_cleanup(net);
    int64_t took = lab_now_ms() - t0;
    cr_assert(took <= test_latency_ms(100), "cleanup took %lld ms (> 100)", (long long)took);
    cr_assert_eq(count_pending(calls, N, &mu), 0, "cleanup returned before its calls did");
    for (int i = 0; i < N; i++)
        lab_thread_join(&calls[i].thread);
    if (threads_before >= 0)
        cr_assert(thread_count() <= threads_before, "cleanup left %d threads behind",
                  thread_count() - threads_before);

    char *reply = NULL;
    cr_assert_not(call_greet(ends[1], 1, &reply), "a call after cleanup succeeded");
    lab_mutex_destroy(&mu);
    labrpc_network_destroy(net);
    junk_destroy(&j);
}

/* A call to Junk.Slow whose handler is running, and what cut it off. */
typedef struct slow_fixture {
    junk j;
    labrpc_network *net;
    labrpc_end *end;
    lab_mutex mu;
    timed_call call;
} slow_fixture;

static void slow_call_running(slow_fixture *f)
{
    f->net = long_delay_network(&f->j);
    f->end = end_to(f->net, "e", "0", true);
    lab_mutex_init(&f->mu, "calls");
    start_calls(&f->call, 1, &f->end, "Junk.Slow", &f->mu);
    while (junk_slow_running(&f->j) == 0)
        lab_sleep_ms(1);
}

/* The call must return false within 50 ms of cut_ms, when it was cut off. */
static void expect_released(slow_fixture *f, int64_t cut_ms)
{
    lab_thread_join(&f->call.thread);
    cr_assert_not(f->call.ok, "the call succeeded although it was cut off");
    cr_assert(f->call.done_ms - cut_ms <= test_latency_ms(50),
              "the call returned %lld ms after it was cut off (> 50)",
              (long long)(f->call.done_ms - cut_ms));
}

static void slow_fixture_destroy(slow_fixture *f)
{
    junk_release(&f->j);
    lab_mutex_destroy(&f->mu);
    labrpc_network_destroy(f->net);
    junk_destroy(&f->j);
}

/* Catches: a caller left waiting on a server that was replaced by a restart. */
Test(labrpc_lifetime, replaced_server_releases_callers)
{
    slow_fixture f;
    slow_call_running(&f);
    junk j2;
    junk_init(&j2);
    int64_t t0 = lab_now_ms();
    labrpc_network_add_server(f.net, "0", junk_server(&j2));
    expect_released(&f, t0);

    char *reply = NULL;
    cr_assert(call_greet(f.end, 5, &reply), "the replacement server does not answer");
    free(reply);
    cr_assert_eq(junk_log_count(&j2), 1);
    slow_fixture_destroy(&f);
    junk_destroy(&j2);
}

/* Catches: a reply delivered over a link that was cut while the handler ran. */
Test(labrpc_lifetime, disable_while_handler_runs)
{
    slow_fixture f;
    slow_call_running(&f);
    int64_t t0 = lab_now_ms();
    labrpc_network_enable(f.net, "e", false);
    expect_released(&f, t0);
    slow_fixture_destroy(&f);
}

/* Catches: handlers of a deleted server starting, or wait_idle not waiting. */
Test(labrpc_lifetime, deleted_server_runs_no_handler)
{
    junk j;
    labrpc_network *net = long_delay_network(&j);
    labrpc_network_set_long_delays(net, false);
    labrpc_end *e = end_to(net, "e", "0", true);
    labrpc_server *srv = labrpc_network_delete_server(net, "0");
    labrpc_server_wait_idle(srv);
    char *reply = NULL;
    cr_assert_not(call_greet(e, 1, &reply));
    cr_assert_eq(junk_log_count(&j), 0);
    cr_assert_null(labrpc_network_delete_server(net, "0"));
    labrpc_network_destroy(net);
    junk_destroy(&j);
}

/* Catches: a network whose disabled-end failures come too fast (so a leader
 * that calls synchronously would not be caught) or never. */
Test(labrpc_lifetime, disabled_end_delays)
{
    junk j;
    labrpc_network *net = long_delay_network(&j);
    enum { N = 60 };
    labrpc_end *ends[N];
    for (int i = 0; i < N; i++) {
        char name[32];
        snprintf(name, sizeof name, "e%d", i);
        ends[i] = end_to(net, name, "0", false);
    }
    lab_mutex mu;
    lab_mutex_init(&mu, "calls");
    timed_call calls[N];
    start_calls(calls, N, ends, "Junk.Greet", &mu);
    int64_t sum = 0, max = 0;
    for (int i = 0; i < N; i++) {
        lab_thread_join(&calls[i].thread);
        int64_t took = calls[i].done_ms - calls[i].start_ms;
        cr_assert_not(calls[i].ok);
        sum += took;
        max = took > max ? took : max;
    }
    cr_assert(max < 7000 + test_latency_ms(200), "a long delay took %lld ms", (long long)max);
    cr_assert(sum / N > 2000 && sum / N < 5000, "mean long delay %lld ms, expected ~3500",
              (long long)(sum / N));

    labrpc_network_set_long_delays(net, false);
    start_calls(calls, N, ends, "Junk.Greet", &mu);
    sum = max = 0;
    for (int i = 0; i < N; i++) {
        lab_thread_join(&calls[i].thread);
        int64_t took = calls[i].done_ms - calls[i].start_ms;
        sum += took;
        max = took > max ? took : max;
    }
    cr_assert(max < 100 + test_latency_ms(100), "a short delay took %lld ms", (long long)max);
    cr_assert(sum / N >= 20 && sum / N <= 80 + test_latency_ms(10) - 10, "mean short delay %lld ms, expected ~50",
              (long long)(sum / N));
    lab_mutex_destroy(&mu);
    labrpc_network_destroy(net);
    junk_destroy(&j);
}

/* Catches: long reordering that never delays replies, or loses them. */
Test(labrpc_lifetime, long_reordering_delays_replies)
{
    junk j;
    labrpc_network *net = long_delay_network(&j);
    labrpc_network_set_long_reordering(net, true);
    enum { N = 60 };
    labrpc_end *ends[N];
    for (int i = 0; i < N; i++) {
        char name[32];
        snprintf(name, sizeof name, "e%d", i);
        ends[i] = end_to(net, name, "0", true);
    }
    lab_mutex mu;
    lab_mutex_init(&mu, "calls");
    timed_call calls[N];
    start_calls(calls, N, ends, "Junk.Greet", &mu);
    int late = 0;
    for (int i = 0; i < N; i++) {
        lab_thread_join(&calls[i].thread);
        cr_assert(calls[i].ok, "long reordering lost a reply on a reliable network");
        int64_t took = calls[i].done_ms - calls[i].start_ms;
        cr_assert(took < 2200 + test_latency_ms(200), "a reordered reply took %lld ms", (long long)took);
        late += took >= 200;
    }
    /* Late means >= 200 ms: only meaningful when on-time replies are fast,
     * which they are not under valgrind (the calls run one at a time). */
    if (test_latency_is_measured())
        cr_assert(late > N / 3 && late < N * 9 / 10, "%d of %d replies were late, expected ~2/3",
                  late, N);
    lab_mutex_destroy(&mu);
    labrpc_network_destroy(net);
    junk_destroy(&j);
}

/* Catches: request reordering (raftlab's extra tests, beyond the original
 * labrpc) that holds no request back, holds too many or too long, or
 * delivers a held request over a link cut meanwhile. */
Test(labrpc_lifetime, request_reordering_holds_requests)
{
    junk j;
    labrpc_network *net = long_delay_network(&j);
    labrpc_network_set_request_reordering(net, true);
    enum { N = 80 };
    labrpc_end *ends[N];
    for (int i = 0; i < N; i++) {
        char name[32];
        snprintf(name, sizeof name, "r%d", i);
        ends[i] = end_to(net, name, "0", true);
    }
    lab_mutex mu;
    lab_mutex_init(&mu, "calls");
    timed_call calls[N];
    start_calls(calls, N, ends, "Junk.Greet", &mu);
    int held = 0;
    for (int i = 0; i < N; i++) {
        lab_thread_join(&calls[i].thread);
        cr_assert(calls[i].ok, "request reordering lost a call on a reliable network");
        int64_t took = calls[i].done_ms - calls[i].start_ms;
        cr_assert(took < 500 + test_latency_ms(200), "a held request took %lld ms", (long long)took);
        held += took >= 100;
    }
    if (test_latency_is_measured())
        cr_assert(held >= N / 10 && held <= N / 2, "%d of %d requests were held, expected ~1/4", held, N);

    /* A request held while its link is cut is not delivered. */
    int before = junk_log_count(&j);
    for (int i = 0; i < N; i++)
        calls[i] = (timed_call){.end = ends[i], .method = "Junk.Greet", .mu = &mu};
    start_calls(calls, N, ends, "Junk.Greet", &mu);
    lab_sleep_ms(50);   /* past every unheld request's delivery, before any held one's */
    for (int i = 0; i < N; i++) {
        char name[32];
        snprintf(name, sizeof name, "r%d", i);
        labrpc_network_enable(net, name, false);
    }
    int failed = 0;
    for (int i = 0; i < N; i++) {
        lab_thread_join(&calls[i].thread);
        failed += !calls[i].ok;
    }
    if (test_latency_is_measured())
        cr_assert(failed >= 1 && junk_log_count(&j) - before == N - failed,
                  "%d calls failed, %d handlers ran: a held request crossed a cut link", failed,
                  junk_log_count(&j) - before);
    lab_mutex_destroy(&mu);
    labrpc_network_destroy(net);
    junk_destroy(&j);
}

/* Runs n sequential calls on one unreliable end; returns the outcome bits. */
static uint64_t unreliable_pattern(uint64_t seed, int n, int *handler_runs)
{
    labrpc_network *net = labrpc_network_make(seed);
    labrpc_network_set_reliable(net, false);
    junk j;
    junk_init(&j);
    labrpc_network_add_server(net, "0", junk_server(&j));
    labrpc_end *e = end_to(net, "the-end", "0", true);
    uint64_t bits = 0;
    for (int i = 0; i < n; i++) {
        char *reply = NULL;
        if (call_greet(e, i, &reply))
            bits |= 1ull << i;
        free(reply);
    }
    *handler_runs = junk_log_count(&j);
    labrpc_network_destroy(net);
    junk_destroy(&j);
    return bits;
}

/* Catches: random choices that do not derive from the seed (a failing run's
 * fault schedule could not be replayed). */
Test(labrpc_lifetime, same_seed_same_faults)
{
    int runs1, runs2, runs3;
    uint64_t a = unreliable_pattern(42, 64, &runs1);
    uint64_t b = unreliable_pattern(42, 64, &runs2);
    uint64_t c = unreliable_pattern(43, 64, &runs3);
    cr_assert_eq(a, b, "the same seed gave different drops");
    cr_assert_eq(runs1, runs2);
    cr_assert_neq(a, c, "different seeds gave the same drops");
}

/* Catches: drop probabilities far from the original's (handler runs 90%,
 * call succeeds 81%). */
Test(labrpc_lifetime, unreliable_rates)
{
    int runs = 0, ok = 0, handled = 0;
    for (uint64_t seed = 1; seed <= 8; seed++) {
        int h;
        uint64_t bits = unreliable_pattern(seed, 64, &h);
        ok += __builtin_popcountll(bits);
        handled += h;
        runs += 64;
    }
    double ok_rate = (double)ok / runs, run_rate = (double)handled / runs;
    cr_assert(ok_rate > 0.74 && ok_rate < 0.88, "success rate %.3f, expected ~0.81", ok_rate);
    cr_assert(run_rate > 0.84 && run_rate < 0.95, "handler-run rate %.3f, expected ~0.90", run_rate);
}

/* Catches: statistics that skip failed calls or count undelivered replies. */
Test(labrpc_lifetime, statistics_rules)
{
    junk j;
    labrpc_network *net = long_delay_network(&j);
    labrpc_network_set_long_delays(net, false);
    labrpc_end *off = end_to(net, "off", "0", false);
    labrpc_end *on = end_to(net, "on", "0", true);
    char *reply = NULL;
    cr_assert_not(call_greet(off, 1, &reply));
    cr_assert_eq(labrpc_network_total_count(net), 1, "a failed call was not counted");
    cr_assert_eq(labrpc_network_total_bytes(net), (int64_t)codec_int64_size(1),
                 "a failed call's request bytes were not counted, or a reply was");
    cr_assert_eq(labrpc_network_server_count(net, "0"), 0);
    cr_assert(call_greet(on, 1, &reply));
    cr_assert_eq(labrpc_network_total_count(net), 2);
    cr_assert_eq(labrpc_network_total_bytes(net),
                 2 * (int64_t)codec_int64_size(1) + (int64_t)codec_bytes_size(strlen("handler2-1")));
    cr_assert_eq(labrpc_network_server_count(net, "0"), 1);
    free(reply);
    labrpc_network_destroy(net);
    junk_destroy(&j);
}

static void exit_if_mentions(const char *message, const char *a, const char *b)
{
    bool good = strstr(message, a) && strstr(message, b);
    if (!good)
        fprintf(stderr, "unexpected fatal message: %s\n", message);
    exit(good ? 42 : 43);
}

/* Makes a call that must stop with a fatal error; hook checks the message
 * and exits 42 (the test's expected exit code) if it is right. */
static void call_expecting_fatal(lab_fatal_hook hook, const char *method, int nargs)
{
    junk j;
    labrpc_network *net = long_delay_network(&j);
    labrpc_end *e = end_to(net, "e", "0", true);
    lab_set_fatal_hook(hook);
    codec_buffer args = CODEC_BUFFER_INIT, reply = CODEC_BUFFER_INIT;
    for (int i = 0; i < nargs; i++)
        codec_put_int(&args, i);
    labrpc_call(e, method, &args, &reply);
    exit(44);   /* the call returned: no fatal error */
}

static void unknown_method_hook(const char *message)
{
    exit_if_mentions(message, "unknown method 'Nope'", "Atoi, Greet, Slow, Length, Ys");
}

/* Catches: a misspelt RPC name that silently fails instead of saying what
 * is wrong and what exists. */
Test(labrpc_lifetime, unknown_method_is_fatal, .exit_code = 42)
{
    call_expecting_fatal(unknown_method_hook, "Junk.Nope", 0);
}

static void unknown_service_hook(const char *message)
{
    exit_if_mentions(message, "unknown service 'Raft'", "expecting one of: Junk");
}

Test(labrpc_lifetime, unknown_service_is_fatal, .exit_code = 42)
{
    call_expecting_fatal(unknown_service_hook, "Raft.RequestVote", 0);
}

static void mismatch_hook(const char *message)
{
    exit_if_mentions(message, "Junk.Greet could not decode", "same fields");
}

/* Catches: a caller and handler that disagree on the message format being
 * silently accepted (a reply built from half-decoded arguments). */
Test(labrpc_lifetime, argument_mismatch_is_fatal, .exit_code = 42)
{
    call_expecting_fatal(mismatch_hook, "Junk.Greet", 2);   /* Greet decodes one int */
}

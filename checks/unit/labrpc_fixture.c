/*
 * labrpc_fixture.c: the junk server used by the labrpc tests.
 */
#include "checks/unit/labrpc_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lab/fatal.h"

static void logged(junk *j)
{
    lab_mutex_lock(&j->mu);
    j->log_count++;
    lab_mutex_unlock(&j->mu);
}

static void handle_atoi(void *receiver, codec_decoder *args, codec_buffer *reply)
{
    char *s = NULL;
    if (codec_get_string(args, &s))
        codec_put_int(reply, atoi(s));
    free(s);
    logged(receiver);
}

static void handle_greet(void *receiver, codec_decoder *args, codec_buffer *reply)
{
    int n = 0;
    codec_get_int(args, &n);
    char text[32];
    snprintf(text, sizeof text, "handler2-%d", n);
    codec_put_string(reply, text);
    logged(receiver);
}

static void handle_slow(void *receiver, codec_decoder *args, codec_buffer *reply)
{
    junk *j = receiver;
    int ignored;
    codec_get_int(args, &ignored);
    lab_mutex_lock(&j->mu);
    j->slow_running++;
    int64_t deadline = lab_now_ms() + 20000;
    while (!j->released && lab_cond_wait_until(&j->released_cv, &j->mu, deadline))
        ;
    j->slow_running--;
    lab_mutex_unlock(&j->mu);
    codec_put_int(reply, 0);
}

static void handle_length(void *receiver, codec_decoder *args, codec_buffer *reply)
{
    const uint8_t *p;
    size_t n = 0;
    codec_get_bytes_view(args, &p, &n);
    codec_put_int64(reply, (int64_t)n);
    logged(receiver);
}

static void handle_ys(void *receiver, codec_decoder *args, codec_buffer *reply)
{
    int n = 0;
    codec_get_int(args, &n);
    char *s = lab_malloc((size_t)n + 1);
    memset(s, 'y', (size_t)n);
    s[n] = '\0';
    codec_put_string(reply, s);
    free(s);
    logged(receiver);
}

void junk_init(junk *j)
{
    memset(j, 0, sizeof *j);
    lab_mutex_init(&j->mu, "junk->mu");
    lab_cond_init(&j->released_cv);
}

labrpc_server *junk_server(junk *j)
{
    labrpc_service *svc = labrpc_service_make("Junk", j);
    labrpc_service_add_method(svc, "Atoi", handle_atoi);
    labrpc_service_add_method(svc, "Greet", handle_greet);
    labrpc_service_add_method(svc, "Slow", handle_slow);
    labrpc_service_add_method(svc, "Length", handle_length);
    labrpc_service_add_method(svc, "Ys", handle_ys);
    labrpc_server *srv = labrpc_server_make();
    labrpc_server_add_service(srv, svc);
    return srv;
}

void junk_release(junk *j)
{
    lab_mutex_lock(&j->mu);
    j->released = true;
    lab_cond_broadcast(&j->released_cv);
    lab_mutex_unlock(&j->mu);
}

void junk_destroy(junk *j)
{
    lab_cond_destroy(&j->released_cv);
    lab_mutex_destroy(&j->mu);
}

int junk_log_count(junk *j)
{
    lab_mutex_lock(&j->mu);
    int n = j->log_count;
    lab_mutex_unlock(&j->mu);
    return n;
}

int junk_slow_running(junk *j)
{
    lab_mutex_lock(&j->mu);
    int n = j->slow_running;
    lab_mutex_unlock(&j->mu);
    return n;
}

bool call_greet(labrpc_end *e, int n, char **reply_out)
{
    codec_buffer args = CODEC_BUFFER_INIT, reply = CODEC_BUFFER_INIT;
    codec_put_int(&args, n);
    bool ok = labrpc_call(e, "Junk.Greet", &args, &reply);
    if (ok) {
        codec_decoder d;
        codec_decoder_init(&d, reply.data, reply.len);
        if (!codec_get_string(&d, reply_out) || !codec_decoder_done(&d))
            lab_fatal("Junk.Greet: bad reply: %s", codec_decoder_error(&d));
    }
    codec_buffer_free(&args);
    codec_buffer_free(&reply);
    return ok;
}

bool call_atoi(labrpc_end *e, const char *s, int *reply_out)
{
    codec_buffer args = CODEC_BUFFER_INIT, reply = CODEC_BUFFER_INIT;
    codec_put_string(&args, s);
    bool ok = labrpc_call(e, "Junk.Atoi", &args, &reply);
    if (ok) {
        codec_decoder d;
        codec_decoder_init(&d, reply.data, reply.len);
        if (!codec_get_int(&d, reply_out) || !codec_decoder_done(&d))
            lab_fatal("Junk.Atoi: bad reply: %s", codec_decoder_error(&d));
    }
    codec_buffer_free(&args);
    codec_buffer_free(&reply);
    return ok;
}

/*
 * codec.c: the message codec (raftlab's labgob): zigzag varints, one-byte
 * booleans and length-prefixed byte strings, read back with bounds checks and
 * sticky errors. codec.h describes the wire format and how to use it.
 *
 * Error messages name the byte offset where the failing field starts, so a
 * student can count fields in a hex dump. A failed read leaves d->pos at that
 * offset and its output untouched.
 */
#include "labrpc/codec.h"

#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lab/fatal.h"

/* 64 bits in groups of 7: nine full groups, and a 10th that holds only bit 63. */
#define VARINT_MAX_BYTES 10

/* A first allocation big enough for a typical RPC, so most never regrow. */
#define BUFFER_FIRST_CAP 64

/* ---------------------------------------------------------------- buffer */

void codec_buffer_init(codec_buffer *b)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void codec_buffer_free(codec_buffer *b)
{
    free(b->data);
    codec_buffer_init(b);
}

void codec_buffer_reset(codec_buffer *b)
{
    b->len = 0;
}

/* Makes room for n more bytes. Doubling keeps appends O(1) amortised. */
static void buffer_reserve(codec_buffer *b, size_t n)
{
    if (n <= b->cap - b->len)
        return;
    if (n > SIZE_MAX - b->len)
        lab_fatal("codec: a buffer of %zu bytes cannot grow by %zu", b->len, n);
    size_t need = b->len + n;
    size_t cap = b->cap > 0 ? b->cap : BUFFER_FIRST_CAP;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    b->data = lab_realloc(b->data, cap);
    b->cap = cap;
}

void codec_buffer_append(codec_buffer *b, const void *p, size_t n)
{
    if (n == 0)
        return;
    if (p == NULL)
        lab_fatal("codec_buffer_append: NULL pointer with length %zu", n);
    buffer_reserve(b, n);
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

/* -------------------------------------------------------------- encoding */

/*
 * Zigzag maps 0, -1, 1, -2, 2 ... to 0, 1, 2, 3, 4 ..., so a small negative
 * number (a "none yet" index of -1) takes one byte instead of ten.
 * Written without shifting a negative number, which C leaves undefined.
 */
static uint64_t zigzag_encode(int64_t v)
{
    uint64_t doubled = (uint64_t)v << 1;
    return v < 0 ? ~doubled : doubled;
}

static int64_t zigzag_decode(uint64_t u)
{
    int64_t half = (int64_t)(u >> 1);    /* <= INT64_MAX, so the cast is exact */
    return (u & 1) ? -half - 1 : half;
}

void codec_put_uint64(codec_buffer *b, uint64_t v)
{
    uint8_t out[VARINT_MAX_BYTES];
    size_t n = 0;
    while (v >= 0x80) {
        out[n++] = (uint8_t)(v | 0x80);  /* low 7 bits, "more follows" */
        v >>= 7;
    }
    out[n++] = (uint8_t)v;
    codec_buffer_append(b, out, n);
}

void codec_put_int64(codec_buffer *b, int64_t v)
{
    codec_put_uint64(b, zigzag_encode(v));
}

void codec_put_int(codec_buffer *b, int v)
{
    codec_put_int64(b, v);
}

void codec_put_bool(codec_buffer *b, bool v)
{
    uint8_t byte = v ? 1 : 0;
    codec_buffer_append(b, &byte, 1);
}

void codec_put_bytes(codec_buffer *b, const void *p, size_t n)
{
    if (n > 0 && p == NULL)
        lab_fatal("codec_put_bytes: NULL pointer with length %zu", n);
    codec_put_uint64(b, n);
    codec_buffer_append(b, p, n);
}

void codec_put_string(codec_buffer *b, const char *s)
{
    if (s == NULL)
        lab_fatal("codec_put_string: NULL string (encode \"\" for an empty one)");
    codec_put_bytes(b, s, strlen(s));
}

static size_t uvarint_size(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

size_t codec_int64_size(int64_t v)
{
    return uvarint_size(zigzag_encode(v));
}

size_t codec_bytes_size(size_t n)
{
    return uvarint_size(n) + n;
}

/* -------------------------------------------------------------- decoding */

void codec_decoder_init(codec_decoder *d, const void *data, size_t len)
{
    if (data == NULL && len > 0)
        lab_fatal("codec_decoder_init: NULL data with length %zu", len);
    d->data = data;
    d->len = len;
    d->pos = 0;
    d->error[0] = '\0';
}

bool codec_decoder_ok(const codec_decoder *d)
{
    return d->error[0] == '\0';
}

const char *codec_decoder_error(const codec_decoder *d)
{
    return d->error;
}

/*
 * Records why the read starting at byte `start` failed and rewinds to it.
 * Only the first failure is kept: later ones are its consequences.
 * Always returns false, so a reader can `return fail(...)`.
 */
__attribute__((format(printf, 3, 4)))
static bool fail(codec_decoder *d, size_t start, const char *fmt, ...)
{
    if (codec_decoder_ok(d)) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(d->error, sizeof d->error, fmt, ap);
        va_end(ap);
    }
    d->pos = start;
    return false;
}

/*
 * Reads a varint. Only the shortest encoding of each value is accepted (no
 * trailing 0x00 group), so every value has exactly one encoding and a corrupt
 * byte cannot turn into a different but "valid" message of the same length.
 * `what` names the field in error messages ("integer", "length").
 */
static bool read_uvarint(codec_decoder *d, const char *what, uint64_t *out)
{
    size_t start = d->pos;
    size_t left = d->len - start;
    uint64_t v = 0;
    for (size_t i = 0; i < VARINT_MAX_BYTES; i++) {
        if (i >= left)
            return fail(d, start, "truncated %s at byte %zu of %zu", what, start, d->len);
        uint8_t byte = d->data[start + i];
        if (i == VARINT_MAX_BYTES - 1 && byte > 1)
            return fail(d, start, "%s at byte %zu overflows 64 bits", what, start);
        v |= (uint64_t)(byte & 0x7f) << (7 * i);
        if ((byte & 0x80) == 0) {
            if (byte == 0 && i > 0)
                return fail(d, start, "overlong %s at byte %zu", what, start);
            d->pos = start + i + 1;
            *out = v;
            return true;
        }
    }
    /* Not reached: the 10th byte is 0 or 1, so it ended the loop above. */
    return fail(d, start, "%s at byte %zu overflows 64 bits", what, start);
}

bool codec_get_uint64(codec_decoder *d, uint64_t *v)
{
    if (!codec_decoder_ok(d))
        return false;
    return read_uvarint(d, "integer", v);
}

bool codec_get_int64(codec_decoder *d, int64_t *v)
{
    uint64_t u = 0;
    if (!codec_get_uint64(d, &u))
        return false;
    *v = zigzag_decode(u);
    return true;
}

bool codec_get_int(codec_decoder *d, int *v)
{
    size_t start = d->pos;
    int64_t wide = 0;
    if (!codec_get_int64(d, &wide))
        return false;
    if (wide < INT_MIN || wide > INT_MAX)
        return fail(d, start, "integer %" PRId64 " at byte %zu does not fit in an int",
                    wide, start);
    *v = (int)wide;
    return true;
}

bool codec_get_bool(codec_decoder *d, bool *v)
{
    if (!codec_decoder_ok(d))
        return false;
    size_t start = d->pos;
    if (start >= d->len)
        return fail(d, start, "truncated bool at byte %zu of %zu", start, d->len);
    uint8_t byte = d->data[start];
    if (byte > 1)
        return fail(d, start, "bool byte %u at byte %zu is not 0 or 1", (unsigned)byte, start);
    d->pos = start + 1;
    *v = byte == 1;
    return true;
}

/*
 * The length is checked against the bytes actually left before anything is
 * allocated, so a corrupt length of 2^64-1 fails here instead of asking
 * malloc for exabytes. "Bytes left" counts from just after the length.
 */
bool codec_get_bytes_view(codec_decoder *d, const uint8_t **p, size_t *n)
{
    if (!codec_decoder_ok(d))
        return false;
    size_t start = d->pos;
    uint64_t len = 0;
    if (!read_uvarint(d, "length", &len))
        return false;
    size_t left = d->len - d->pos;
    if (len > left)
        return fail(d, start, "length %" PRIu64 " at byte %zu exceeds the %zu bytes left",
                    len, start, left);
    *p = d->data + d->pos;
    *n = (size_t)len;
    d->pos += (size_t)len;
    return true;
}

bool codec_get_bytes(codec_decoder *d, uint8_t **p, size_t *n)
{
    const uint8_t *view = NULL;
    size_t len = 0;
    if (!codec_get_bytes_view(d, &view, &len))
        return false;
    /* At least one byte, so that success never hands back NULL. */
    uint8_t *copy = lab_malloc(len > 0 ? len : 1);
    if (len > 0)
        memcpy(copy, view, len);
    *p = copy;
    *n = len;
    return true;
}

bool codec_get_string(codec_decoder *d, char **s)
{
    size_t start = d->pos;
    const uint8_t *view = NULL;
    size_t len = 0;
    if (!codec_get_bytes_view(d, &view, &len))
        return false;
    /* A C string cannot hold a NUL; accepting one would silently truncate it. */
    if (len > 0 && memchr(view, '\0', len) != NULL)
        return fail(d, start, "string at byte %zu contains a NUL byte", start);
    char *copy = lab_malloc(len + 1);
    if (len > 0)
        memcpy(copy, view, len);
    copy[len] = '\0';
    *s = copy;
    return true;
}

bool codec_decoder_done(codec_decoder *d)
{
    if (!codec_decoder_ok(d))
        return false;
    if (d->pos != d->len)
        return fail(d, d->pos, "%zu bytes left over after byte %zu of %zu",
                    d->len - d->pos, d->pos, d->len);
    return true;
}

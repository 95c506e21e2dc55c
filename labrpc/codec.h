/*
 * codec.h: the message codec (raftlab's labgob). Students encode RPC
 * arguments, replies and persistent state with it.
 *
 * Encoding appends to a growable codec_buffer:
 *     codec_buffer b = CODEC_BUFFER_INIT;
 *     codec_put_int(&b, rf->current_term);
 *     codec_put_bool(&b, granted);
 *     codec_put_bytes(&b, cmd, cmd_len);
 *     ... use b.data, b.len ...
 *     codec_buffer_free(&b);
 *
 * Decoding reads the same values back in the same order:
 *     codec_decoder d;
 *     codec_decoder_init(&d, data, len);
 *     int term; bool granted;
 *     codec_get_int(&d, &term);
 *     codec_get_bool(&d, &granted);
 *     if (!codec_decoder_done(&d))      // every read succeeded, input used exactly
 *         ... codec_decoder_error(&d) says what went wrong ...
 *
 * Every read is bounds-checked and returns false on failure; errors are
 * sticky (after one failure every later read fails and leaves its output
 * untouched), so it is enough to check once at the end. No input, however
 * truncated or corrupt, makes the decoder read out of bounds or allocate more
 * than the input's length. A decoder that ignored a short read would turn a
 * truncated persisted state into silent data loss on restart.
 *
 * Wire format: integers are zigzag varints (1 byte for -64..63, 2 bytes up to
 * +-8191); booleans one byte (0 or 1); byte strings and strings a varint
 * length then the bytes. There are no type tags: both sides must agree on the
 * order and kinds of fields.
 */
#ifndef LABRPC_CODEC_H
#define LABRPC_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A growable byte buffer; a zeroed one is empty and valid. */
typedef struct codec_buffer {
    uint8_t *data;
    size_t len;
    size_t cap;
} codec_buffer;

#define CODEC_BUFFER_INIT {NULL, 0, 0}

void codec_buffer_init(codec_buffer *b);
void codec_buffer_free(codec_buffer *b);     /* leaves it empty and reusable */
void codec_buffer_reset(codec_buffer *b);    /* len = 0, keeps the memory */
void codec_buffer_append(codec_buffer *b, const void *p, size_t n);

/* Encoding: each appends one value. */
void codec_put_int(codec_buffer *b, int v);
void codec_put_int64(codec_buffer *b, int64_t v);
void codec_put_uint64(codec_buffer *b, uint64_t v);
void codec_put_bool(codec_buffer *b, bool v);
void codec_put_bytes(codec_buffer *b, const void *p, size_t n);
void codec_put_string(codec_buffer *b, const char *s);

/* Decoding. The input must stay valid while the decoder is used. */
typedef struct codec_decoder {
    const uint8_t *data;
    size_t len;
    size_t pos;          /* bytes consumed so far */
    char error[96];      /* empty while no read has failed */
} codec_decoder;

void codec_decoder_init(codec_decoder *d, const void *data, size_t len);

bool codec_get_int(codec_decoder *d, int *v);        /* fails if out of int's range */
bool codec_get_int64(codec_decoder *d, int64_t *v);
bool codec_get_uint64(codec_decoder *d, uint64_t *v);
bool codec_get_bool(codec_decoder *d, bool *v);
/* A malloc'd copy (caller frees; never NULL on success, even when *n == 0). */
bool codec_get_bytes(codec_decoder *d, uint8_t **p, size_t *n);
/* A pointer into the input, valid as long as the input is. */
bool codec_get_bytes_view(codec_decoder *d, const uint8_t **p, size_t *n);
/* A malloc'd NUL-terminated copy; fails if the string contains a NUL byte. */
bool codec_get_string(codec_decoder *d, char **s);

bool codec_decoder_ok(const codec_decoder *d);       /* no read has failed */
/* ok, and every input byte consumed; records an error if bytes are left. */
bool codec_decoder_done(codec_decoder *d);
/* "" when ok, else e.g. "truncated integer at byte 7 of 9". */
const char *codec_decoder_error(const codec_decoder *d);

/* Size of v as a varint / as a length-prefixed byte string, for byte bounds. */
size_t codec_int64_size(int64_t v);
size_t codec_bytes_size(size_t n);

#endif

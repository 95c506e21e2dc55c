/*
 * test_codec.c: the codec's round trips, wire sizes, every decode error, and
 * a randomized check that no input (truncated, bit-flipped or random) makes
 * the decoder crash or read out of bounds. Run it under SAN=address.
 */
#include <criterion/criterion.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "checks/unit/codec_test_helpers.h"
#include "harness/support/test_support.h"
#include "labrpc/codec.h"

TestSuite(codec, .timeout = 60, .fini = test_check_leaks);

/* ------------------------------------------------------------- helpers */

/* A private xorshift64* stream with a fixed seed, so failures replay exactly. */
static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static uint64_t rng_next(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1du;
}

static size_t rng_below(size_t bound)
{
    return (size_t)(rng_next() % bound);
}


/* Encodes v as an int64 and reads it back, checking its size too. */
static void check_int64_round_trip(int64_t v)
{
    codec_buffer b = CODEC_BUFFER_INIT;
    codec_put_int64(&b, v);
    cr_assert_eq(b.len, codec_int64_size(v), "size of %lld", (long long)v);
    codec_decoder d;
    decode_from(&d, &b);
    int64_t got = 0;
    cr_assert(codec_get_int64(&d, &got));
    cr_assert_eq(got, v, "got %lld, want %lld", (long long)got, (long long)v);
    cr_assert(codec_decoder_done(&d));
    codec_buffer_free(&b);
}

/* ---------------------------------------------------------- round trips */

/* Catches a zigzag or varint bug at either end of int's range. */
Test(codec, int_round_trips_at_extremes)
{
    const int values[] = {0, -1, 1, 63, -64, 64, -65, 8191, -8192, 8192,
                          INT_MAX, INT_MIN, INT_MAX - 1, INT_MIN + 1};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        codec_buffer b = CODEC_BUFFER_INIT;
        codec_put_int(&b, values[i]);
        codec_decoder d;
        decode_from(&d, &b);
        int got = 0;
        cr_assert(codec_get_int(&d, &got), "%d: %s", values[i], codec_decoder_error(&d));
        cr_assert_eq(got, values[i]);
        cr_assert(codec_decoder_done(&d));
        codec_buffer_free(&b);
    }
}

/* Catches a signed shift or overflow in zigzag at INT64_MIN / INT64_MAX. */
Test(codec, int64_round_trips_at_extremes)
{
    check_int64_round_trip(0);
    check_int64_round_trip(-1);
    check_int64_round_trip(INT64_MAX);
    check_int64_round_trip(INT64_MIN);
    check_int64_round_trip(INT64_MIN + 1);
}

/* Catches an off-by-one where a varint grows a byte (every 7-bit boundary). */
Test(codec, int64_round_trips_at_every_size_boundary)
{
    for (int bit = 0; bit < 63; bit++) {
        int64_t p = (int64_t)1 << bit;
        check_int64_round_trip(p);
        check_int64_round_trip(p - 1);
        check_int64_round_trip(-p);
        check_int64_round_trip(-p - 1);
    }
}

/* Catches a uint64 reader that loses bit 63 or mishandles the 10th byte. */
Test(codec, uint64_round_trips)
{
    const uint64_t values[] = {0, 1, 127, 128, 16383, 16384, UINT32_MAX,
                               (uint64_t)1 << 63, UINT64_MAX - 1, UINT64_MAX};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        codec_buffer b = CODEC_BUFFER_INIT;
        codec_put_uint64(&b, values[i]);
        codec_decoder d;
        decode_from(&d, &b);
        uint64_t got = 0;
        cr_assert(codec_get_uint64(&d, &got));
        cr_assert_eq(got, values[i]);
        cr_assert(codec_decoder_done(&d));
        codec_buffer_free(&b);
    }
}

/* Catches a bool encoded as anything but one byte 0/1. */
Test(codec, bool_round_trips)
{
    codec_buffer b = CODEC_BUFFER_INIT;
    codec_put_bool(&b, true);
    codec_put_bool(&b, false);
    cr_assert_eq(b.len, 2);
    cr_assert_eq(b.data[0], 1);
    cr_assert_eq(b.data[1], 0);
    codec_decoder d;
    decode_from(&d, &b);
    bool t = false, f = true;
    cr_assert(codec_get_bool(&d, &t));
    cr_assert(codec_get_bool(&d, &f));
    cr_assert(t);
    cr_assert_not(f);
    cr_assert(codec_decoder_done(&d));
    codec_buffer_free(&b);
}

/* Catches returning NULL for an empty byte string (the header promises not). */
Test(codec, empty_bytes_round_trip_to_non_null)
{
    codec_buffer b = CODEC_BUFFER_INIT;
    codec_put_bytes(&b, NULL, 0);
    cr_assert_eq(b.len, 1);
    codec_decoder d;
    decode_from(&d, &b);
    uint8_t *p = NULL;
    size_t n = 99;
    cr_assert(codec_get_bytes(&d, &p, &n));
    cr_assert_not_null(p);
    cr_assert_eq(n, 0);
    cr_assert(codec_decoder_done(&d));
    free(p);
    codec_buffer_free(&b);
}

/* Catches a wrong multi-byte length or a buffer that grows wrongly. */
Test(codec, large_bytes_round_trip)
{
    size_t n = 1u << 20;
    uint8_t *in = malloc(n);
    for (size_t i = 0; i < n; i++)
        in[i] = (uint8_t)rng_next();
    codec_buffer b = CODEC_BUFFER_INIT;
    codec_put_bytes(&b, in, n);
    cr_assert_eq(b.len, codec_bytes_size(n));
    codec_decoder d;
    decode_from(&d, &b);
    uint8_t *out = NULL;
    size_t got = 0;
    cr_assert(codec_get_bytes(&d, &out, &got));
    cr_assert_eq(got, n);
    cr_assert(memcmp(in, out, n) == 0);
    cr_assert(codec_decoder_done(&d));
    free(in);
    free(out);
    codec_buffer_free(&b);
}

/* Catches get_bytes returning a pointer into the input instead of a copy. */
Test(codec, bytes_copy_is_independent_of_input)
{
    codec_buffer b = CODEC_BUFFER_INIT;
    codec_put_bytes(&b, "abc", 3);
    codec_decoder d;
    decode_from(&d, &b);
    uint8_t *out = NULL;
    size_t n = 0;
    cr_assert(codec_get_bytes(&d, &out, &n));
    memset(b.data, 'z', b.len);
    cr_assert(memcmp(out, "abc", 3) == 0);
    free(out);
    codec_buffer_free(&b);
}

/* Catches a view that points at the length prefix rather than the bytes. */
Test(codec, bytes_view_points_into_input)
{
    codec_buffer b = CODEC_BUFFER_INIT;
    codec_put_int(&b, 7);
    codec_put_bytes(&b, "hello", 5);
    codec_decoder d;
    decode_from(&d, &b);
    int seven = 0;
    const uint8_t *p = NULL;
    size_t n = 0;
    cr_assert(codec_get_int(&d, &seven));
    cr_assert(codec_get_bytes_view(&d, &p, &n));
    cr_assert_eq(n, 5);
    cr_assert_eq(p, b.data + 2);
    cr_assert(memcmp(p, "hello", 5) == 0);
    cr_assert(codec_decoder_done(&d));
    codec_buffer_free(&b);
}

/* Catches a missing NUL terminator or a dropped high (UTF-8) byte. */
Test(codec, string_round_trips)
{
    const char *in = "Raft.AppendEntries \xc3\xa9\xff";
    codec_buffer b = CODEC_BUFFER_INIT;
    codec_put_string(&b, in);
    codec_decoder d;
    decode_from(&d, &b);
    char *out = NULL;
    cr_assert(codec_get_string(&d, &out));
    cr_assert_str_eq(out, in);
    cr_assert(codec_decoder_done(&d));
    free(out);
    codec_buffer_free(&b);
}

/* Catches an empty string decoded as NULL or unterminated. */
Test(codec, empty_string_round_trips)
{
    codec_buffer b = CODEC_BUFFER_INIT;
    codec_put_string(&b, "");
    cr_assert_eq(b.len, 1);
    codec_decoder d;
    decode_from(&d, &b);
    char *out = NULL;
    cr_assert(codec_get_string(&d, &out));
    cr_assert_not_null(out);
    cr_assert_str_eq(out, "");
    cr_assert(codec_decoder_done(&d));
    free(out);
    codec_buffer_free(&b);
}

/* Catches fields read back in the wrong order or overlapping. */
Test(codec, mixed_message_round_trips)
{
    codec_buffer b = CODEC_BUFFER_INIT;
    codec_put_int(&b, 42);
    codec_put_bool(&b, true);
    codec_put_string(&b, "x=1");
    codec_put_int64(&b, INT64_MIN);
    codec_put_bytes(&b, "\0\1\2", 3);
    codec_put_uint64(&b, 300);
    codec_decoder d;
    decode_from(&d, &b);
    int i = 0; bool flag = false; char *s = NULL; int64_t w = 0;
    uint8_t *p = NULL; size_t n = 0; uint64_t u = 0;
    cr_assert(codec_get_int(&d, &i) && codec_get_bool(&d, &flag) &&
              codec_get_string(&d, &s) && codec_get_int64(&d, &w) &&
              codec_get_bytes(&d, &p, &n) && codec_get_uint64(&d, &u));
    cr_assert(codec_decoder_done(&d), "%s", codec_decoder_error(&d));
    cr_assert(i == 42 && flag && w == INT64_MIN && u == 300 && n == 3);
    cr_assert_str_eq(s, "x=1");
    cr_assert(memcmp(p, "\0\1\2", 3) == 0);
    free(s);
    free(p);
    codec_buffer_free(&b);
}

/* ------------------------------------------------------------ wire format */

/* Catches a change of wire format (persisted states would stop decoding). */
Test(codec, encodes_known_bytes)
{
    codec_buffer b = CODEC_BUFFER_INIT;
    codec_put_int(&b, 0);       /* 00 */
    codec_put_int(&b, -1);      /* 01 */
    codec_put_int(&b, 1);       /* 02 */
    codec_put_int(&b, -64);     /* 7f */
    codec_put_int(&b, 64);      /* 80 01 */
    codec_put_uint64(&b, 300);  /* ac 02 */
    codec_put_string(&b, "hi"); /* 02 'h' 'i' */
    const uint8_t want[] = {0x00, 0x01, 0x02, 0x7f, 0x80, 0x01, 0xac, 0x02, 0x02, 'h', 'i'};
    cr_assert_eq(b.len, sizeof want);
    cr_assert(memcmp(b.data, want, sizeof want) == 0);
    codec_buffer_free(&b);
}

/* Catches a varint that is not as small as the header promises. */
Test(codec, small_ints_take_one_or_two_bytes)
{
    for (int v = -8192; v <= 8191; v++) {
        size_t want = (v >= -64 && v <= 63) ? 1 : 2;
        cr_assert_eq(codec_int64_size(v), want, "%d", v);
    }
    cr_assert_eq(codec_int64_size(8192), 3);
    cr_assert_eq(codec_int64_size(INT64_MIN), 10);
    cr_assert_eq(codec_int64_size(INT64_MAX), 10);
}

/* Catches codec_int64_size disagreeing with what codec_put_int64 writes. */
Test(codec, int64_size_matches_encoding)
{
    for (int i = 0; i < 10000; i++) {
        int64_t v = (int64_t)(rng_next() >> (1 + rng_below(63)));
        if (rng_next() & 1)
            v = -v;
        codec_buffer b = CODEC_BUFFER_INIT;
        codec_put_int64(&b, v);
        cr_assert_eq(b.len, codec_int64_size(v), "%lld", (long long)v);
        codec_buffer_free(&b);
    }
}

/* Catches codec_bytes_size disagreeing with what codec_put_bytes writes. */
Test(codec, bytes_size_matches_encoding)
{
    const size_t sizes[] = {0, 1, 127, 128, 16383, 16384, 70000};
    static uint8_t zeros[70000];
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        codec_buffer b = CODEC_BUFFER_INIT;
        codec_put_bytes(&b, zeros, sizes[i]);
        cr_assert_eq(b.len, codec_bytes_size(sizes[i]), "%zu", sizes[i]);
        codec_buffer_free(&b);
    }
}

/* Size of a string's encoding. */
static size_t string_size(size_t n)
{
    char *s = malloc(n + 1);
    memset(s, 'x', n);
    s[n] = '\0';
    codec_buffer b = CODEC_BUFFER_INIT;
    codec_put_string(&b, s);
    size_t len = b.len;
    codec_buffer_free(&b);
    free(s);
    return len;
}

/* Catches an encoding fatter than gob's, which would break TestBytes' bounds. */
Test(codec, sizes_no_larger_than_gob)
{
    codec_buffer b = CODEC_BUFFER_INIT;
    codec_put_int(&b, 111);
    cr_assert_leq(b.len, 5);
    codec_buffer_reset(&b);
    codec_put_int(&b, 0);
    cr_assert_leq(b.len, 4);
    cr_assert_leq(string_size(288), 296);
    cr_assert_leq(string_size(107), 111);
    cr_assert_leq(string_size(5000), 5008);
    /* RequestVote args: term, candidate, last log index, last log term. */
    codec_buffer_reset(&b);
    codec_put_int(&b, INT_MAX);
    codec_put_int(&b, 4);
    codec_put_int(&b, INT_MAX);
    codec_put_int(&b, INT_MAX);
    cr_assert_leq(b.len, 91);
    /* RequestVote reply: term, vote granted. */
    codec_buffer_reset(&b);
    codec_put_int(&b, INT_MAX);
    codec_put_bool(&b, true);
    cr_assert_leq(b.len, 55);
    codec_buffer_free(&b);
}

/* ---------------------------------------------------------------- buffer */

/* Catches reset freeing (or free not resetting) the buffer's memory. */
Test(codec, buffer_reset_keeps_memory_and_free_empties)
{
    codec_buffer b;
    codec_buffer_init(&b);
    codec_put_string(&b, "some bytes");
    uint8_t *mem = b.data;
    size_t cap = b.cap;
    codec_buffer_reset(&b);
    cr_assert_eq(b.len, 0);
    cr_assert_eq(b.data, mem);
    cr_assert_eq(b.cap, cap);
    codec_buffer_free(&b);
    cr_assert_null(b.data);
    cr_assert_eq(b.len, 0);
    cr_assert_eq(b.cap, 0);
    codec_put_int(&b, 5);   /* still usable after free */
    cr_assert_eq(b.len, 1);
    codec_buffer_free(&b);
}

/* Catches growth that loses or reorders bytes over many reallocations. */
Test(codec, buffer_grows_over_many_appends)
{
    codec_buffer b = CODEC_BUFFER_INIT;
    for (size_t i = 0; i < 100000; i++) {
        uint8_t byte = (uint8_t)(i * 7);
        codec_buffer_append(&b, &byte, 1);
    }
    cr_assert_eq(b.len, 100000);
    cr_assert_geq(b.cap, b.len);
    for (size_t i = 0; i < 100000; i++)
        cr_assert_eq(b.data[i], (uint8_t)(i * 7));
    codec_buffer_free(&b);
}

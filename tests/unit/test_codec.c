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

#include "labrpc/codec.h"
#include "tests/support/test_support.h"

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

/* Starts a decoder on the bytes encoded so far. */
static void decode_from(codec_decoder *d, const codec_buffer *b)
{
    codec_decoder_init(d, b->data, b->len);
}

/* The decoder has failed, with exactly this message. */
static void expect_error(const codec_decoder *d, const char *message)
{
    cr_assert_not(codec_decoder_ok(d), "expected failure \"%s\"", message);
    cr_assert_str_eq(codec_decoder_error(d), message);
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

/* ---------------------------------------------------------------- errors */

/* Catches a varint read that runs past the end of the input. */
Test(codec, truncated_integer_fails)
{
    const uint8_t in[9] = {0, 0, 0, 0, 0, 0, 0, 0x80, 0x80};
    codec_decoder d;
    codec_decoder_init(&d, in, sizeof in);
    int v = 0;
    for (int i = 0; i < 7; i++)
        cr_assert(codec_get_int(&d, &v));
    v = 1234;
    cr_assert_not(codec_get_int(&d, &v));
    cr_assert_eq(v, 1234);
    expect_error(&d, "truncated integer at byte 7 of 9");
}

/* Catches reading a value from empty input. */
Test(codec, empty_input_fails_every_read)
{
    codec_decoder d;
    codec_decoder_init(&d, NULL, 0);
    cr_assert(codec_decoder_ok(&d));
    bool flag = true;
    cr_assert_not(codec_get_bool(&d, &flag));
    expect_error(&d, "truncated bool at byte 0 of 0");
}

/* Catches honouring bytes beyond len (e.g. reading to a terminator instead). */
Test(codec, never_reads_past_len)
{
    const uint8_t in[] = {0x80, 0x01, 0x05};    /* valid 2-byte varint */
    codec_decoder d;
    codec_decoder_init(&d, in, 1);
    uint64_t u = 0;
    cr_assert_not(codec_get_uint64(&d, &u));
    expect_error(&d, "truncated integer at byte 0 of 1");
}

/* Catches accepting a non-minimal varint (two encodings of one value). */
Test(codec, overlong_integer_fails)
{
    const uint8_t in[] = {0x80, 0x00};
    codec_decoder d;
    codec_decoder_init(&d, in, sizeof in);
    int64_t v = 5;
    cr_assert_not(codec_get_int64(&d, &v));
    cr_assert_eq(v, 5);
    expect_error(&d, "overlong integer at byte 0");
}

/* Catches an overlong encoding hidden behind real payload bits. */
Test(codec, overlong_multibyte_integer_fails)
{
    const uint8_t in[] = {0x01, 0x81, 0x80, 0x00};
    codec_decoder d;
    codec_decoder_init(&d, in, sizeof in);
    uint64_t u = 0;
    cr_assert(codec_get_uint64(&d, &u));
    cr_assert_not(codec_get_uint64(&d, &u));
    expect_error(&d, "overlong integer at byte 1");
}

/* Catches a 10th byte whose bits are shifted out of 64 bits unnoticed. */
Test(codec, tenth_byte_overflow_fails)
{
    uint8_t in[10];
    memset(in, 0xff, 9);
    in[9] = 0x02;
    codec_decoder d;
    codec_decoder_init(&d, in, sizeof in);
    uint64_t u = 7;
    cr_assert_not(codec_get_uint64(&d, &u));
    cr_assert_eq(u, 7);
    expect_error(&d, "integer at byte 0 overflows 64 bits");
}

/* Catches a varint reader that keeps going past 10 bytes. */
Test(codec, eleven_byte_integer_fails)
{
    uint8_t in[11];
    memset(in, 0xff, 10);
    in[10] = 0x01;
    codec_decoder d;
    codec_decoder_init(&d, in, sizeof in);
    int64_t v = 0;
    cr_assert_not(codec_get_int64(&d, &v));
    expect_error(&d, "integer at byte 0 overflows 64 bits");
}

/* Catches rejecting the legal 10-byte maximum along with the overflows. */
Test(codec, tenth_byte_of_one_is_accepted)
{
    uint8_t in[10];
    memset(in, 0xff, 9);
    in[9] = 0x01;
    codec_decoder d;
    codec_decoder_init(&d, in, sizeof in);
    uint64_t u = 0;
    cr_assert(codec_get_uint64(&d, &u));
    cr_assert_eq(u, UINT64_MAX);
    cr_assert(codec_decoder_done(&d));
}

/* Catches truncating an int64 into an int instead of failing. */
Test(codec, int_out_of_range_fails)
{
    codec_buffer b = CODEC_BUFFER_INIT;
    codec_put_int64(&b, 5000000000);
    codec_decoder d;
    decode_from(&d, &b);
    int v = 3;
    cr_assert_not(codec_get_int(&d, &v));
    cr_assert_eq(v, 3);
    expect_error(&d, "integer 5000000000 at byte 0 does not fit in an int");
    codec_buffer_free(&b);
}

/* Catches an off-by-one in the int range check at either end. */
Test(codec, int_range_edges)
{
    const int64_t outside[] = {(int64_t)INT_MAX + 1, (int64_t)INT_MIN - 1};
    for (size_t i = 0; i < 2; i++) {
        codec_buffer b = CODEC_BUFFER_INIT;
        codec_put_int64(&b, outside[i]);
        codec_decoder d;
        decode_from(&d, &b);
        int v = 0;
        cr_assert_not(codec_get_int(&d, &v), "%lld", (long long)outside[i]);
        codec_decoder_init(&d, b.data, b.len);
        int64_t w = 0;
        cr_assert(codec_get_int64(&d, &w));
        cr_assert_eq(w, outside[i]);
        codec_buffer_free(&b);
    }
}

/* Catches a bool decoder that treats any non-zero byte as true. */
Test(codec, bool_byte_other_than_0_or_1_fails)
{
    const uint8_t in[] = {1, 0, 1, 7};
    codec_decoder d;
    codec_decoder_init(&d, in, sizeof in);
    bool flag = false;
    for (int i = 0; i < 3; i++)
        cr_assert(codec_get_bool(&d, &flag));
    flag = true;
    cr_assert_not(codec_get_bool(&d, &flag));
    cr_assert(flag);
    expect_error(&d, "bool byte 7 at byte 3 is not 0 or 1");
}

/* Catches a length compared against the whole input instead of what is left. */
Test(codec, length_beyond_input_fails)
{
    codec_buffer b = CODEC_BUFFER_INIT;
    codec_put_int(&b, 0);
    codec_put_int(&b, 0);
    codec_put_uint64(&b, 4294967295u);
    codec_buffer_append(&b, "12345", 5);
    codec_decoder d;
    decode_from(&d, &b);
    int v;
    cr_assert(codec_get_int(&d, &v) && codec_get_int(&d, &v));
    uint8_t *p = (uint8_t *)"untouched";
    size_t n = 77;
    cr_assert_not(codec_get_bytes(&d, &p, &n));
    cr_assert_str_eq((char *)p, "untouched");
    cr_assert_eq(n, 77);
    expect_error(&d, "length 4294967295 at byte 2 exceeds the 5 bytes left");
    codec_buffer_free(&b);
}

/* Catches a length of exactly one too many being accepted. */
Test(codec, length_one_past_end_fails)
{
    const uint8_t in[] = {4, 'a', 'b', 'c'};
    codec_decoder d;
    codec_decoder_init(&d, in, sizeof in);
    const uint8_t *p = NULL;
    size_t n = 0;
    cr_assert_not(codec_get_bytes_view(&d, &p, &n));
    expect_error(&d, "length 4 at byte 0 exceeds the 3 bytes left");
}

/* Catches a truncated length prefix being reported as something else. */
Test(codec, truncated_length_fails)
{
    const uint8_t in[] = {0x80};
    codec_decoder d;
    codec_decoder_init(&d, in, sizeof in);
    char *s = NULL;
    cr_assert_not(codec_get_string(&d, &s));
    cr_assert_null(s);
    expect_error(&d, "truncated length at byte 0 of 1");
}

/*
 * Catches allocating before checking the length: a malloc of 2^40 or 2^64-1
 * bytes fails (lab_malloc then aborts) or trips ASan's allocation limit.
 */
Test(codec, huge_lengths_fail_without_allocating)
{
    const uint64_t lengths[] = {UINT64_MAX, (uint64_t)1 << 40, SIZE_MAX, (uint64_t)1 << 62};
    for (size_t i = 0; i < sizeof lengths / sizeof lengths[0]; i++) {
        codec_buffer b = CODEC_BUFFER_INIT;
        codec_put_uint64(&b, lengths[i]);
        codec_buffer_append(&b, "abc", 3);
        codec_decoder d;
        decode_from(&d, &b);
        uint8_t *p = NULL;
        size_t n = 0;
        cr_assert_not(codec_get_bytes(&d, &p, &n));
        cr_assert_null(p);
        decode_from(&d, &b);
        char *s = NULL;
        cr_assert_not(codec_get_string(&d, &s));
        cr_assert_null(s);
        cr_assert(strstr(codec_decoder_error(&d), "bytes left") != NULL);
        codec_buffer_free(&b);
    }
}

/* Catches get_string silently truncating at an embedded NUL. */
Test(codec, string_with_embedded_nul_fails)
{
    codec_buffer b = CODEC_BUFFER_INIT;
    codec_put_bytes(&b, "a\0b", 3);
    codec_decoder d;
    decode_from(&d, &b);
    char *s = NULL;
    cr_assert_not(codec_get_string(&d, &s));
    cr_assert_null(s);
    expect_error(&d, "string at byte 0 contains a NUL byte");
    decode_from(&d, &b);     /* the same bytes are fine as a byte string */
    uint8_t *p = NULL;
    size_t n = 0;
    cr_assert(codec_get_bytes(&d, &p, &n));
    cr_assert_eq(n, 3);
    free(p);
    codec_buffer_free(&b);
}

/* Catches done() ignoring unread trailing bytes (a field forgotten on decode). */
Test(codec, done_fails_on_leftover_bytes)
{
    codec_buffer b = CODEC_BUFFER_INIT;
    for (int i = 0; i < 15; i++)
        codec_put_int(&b, i);
    codec_decoder d;
    decode_from(&d, &b);
    int v;
    for (int i = 0; i < 12; i++)
        cr_assert(codec_get_int(&d, &v));
    cr_assert(codec_decoder_ok(&d));
    cr_assert_not(codec_decoder_done(&d));
    expect_error(&d, "3 bytes left over after byte 12 of 15");
    codec_buffer_free(&b);
}

/* Catches done() failing on input that was consumed exactly. */
Test(codec, done_succeeds_on_exact_and_empty_input)
{
    codec_decoder d;
    codec_decoder_init(&d, NULL, 0);
    cr_assert(codec_decoder_done(&d));
    cr_assert(codec_decoder_done(&d));
    cr_assert_str_eq(codec_decoder_error(&d), "");
}

/* ---------------------------------------------------------- sticky errors */

/*
 * Catches a decoder that recovers after a failure and reads on. The input
 * {01 00} fails as a string (it holds a NUL) but would read fine as any other
 * type, so only stickiness makes the later reads fail.
 */
Test(codec, errors_are_sticky)
{
    const uint8_t in[] = {0x01, 0x00};
    codec_decoder d;
    codec_decoder_init(&d, in, sizeof in);
    char *s = NULL;
    cr_assert_not(codec_get_string(&d, &s));
    size_t pos = d.pos;
    int i = -5; int64_t w = -5; uint64_t u = 5; bool flag = false;
    uint8_t *p = NULL; const uint8_t *view = NULL; size_t n = 9;
    cr_assert_not(codec_get_int(&d, &i));
    cr_assert_not(codec_get_int64(&d, &w));
    cr_assert_not(codec_get_uint64(&d, &u));
    cr_assert_not(codec_get_bool(&d, &flag));
    cr_assert_not(codec_get_bytes(&d, &p, &n));
    cr_assert_not(codec_get_bytes_view(&d, &view, &n));
    cr_assert_not(codec_get_string(&d, &s));
    cr_assert_not(codec_decoder_done(&d));
    cr_assert(i == -5 && w == -5 && u == 5 && !flag && s == NULL && p == NULL &&
              view == NULL && n == 9, "a read after the failure wrote its output");
    cr_assert_eq(d.pos, pos);
    expect_error(&d, "string at byte 0 contains a NUL byte");
}

/* Catches an int range failure that is not sticky (the int64 read would work). */
Test(codec, int_range_error_is_sticky)
{
    codec_buffer b = CODEC_BUFFER_INIT;
    codec_put_int64(&b, 5000000000);
    codec_decoder d;
    decode_from(&d, &b);
    int v = 0;
    int64_t w = 0;
    cr_assert_not(codec_get_int(&d, &v));
    cr_assert_not(codec_get_int64(&d, &w));
    cr_assert_eq(w, 0);
    codec_buffer_free(&b);
}

/* Catches a later failure overwriting the message of the first one. */
Test(codec, first_error_message_is_kept)
{
    const uint8_t in[] = {0x80, 0x00};
    codec_decoder d;
    codec_decoder_init(&d, in, sizeof in);
    int v;
    cr_assert_not(codec_get_int(&d, &v));
    cr_assert_not(codec_get_int(&d, &v));
    cr_assert_not(codec_decoder_done(&d));
    expect_error(&d, "overlong integer at byte 0");
}

/* Catches an error flag raised by a successful read. */
Test(codec, successful_reads_leave_no_error)
{
    codec_buffer b = CODEC_BUFFER_INIT;
    codec_put_int(&b, 1);
    codec_decoder d;
    decode_from(&d, &b);
    int v;
    cr_assert(codec_get_int(&d, &v));
    cr_assert(codec_decoder_ok(&d));
    cr_assert_str_eq(codec_decoder_error(&d), "");
    codec_buffer_free(&b);
}

/* ------------------------------------------------- randomized robustness */

/* The fixed schema the robustness test encodes and decodes. */
struct sample {
    int term;
    bool granted;
    uint8_t *entry;
    size_t entry_len;
    char *name;
    int64_t index;
    uint64_t count;
    bool flag;
};

static void sample_free(struct sample *s)
{
    free(s->entry);
    free(s->name);
}

/* A random int64 with a random magnitude, so every varint size appears. */
static int64_t random_int64(void)
{
    int64_t magnitude = (int64_t)(rng_next() >> (1 + rng_below(63)));
    return (rng_next() & 1) ? -magnitude : magnitude;
}

/* Appends a random message of the schema that sample_decode reads. */
static void sample_encode(codec_buffer *b)
{
    codec_put_int(b, (int)(random_int64() % INT_MAX));
    codec_put_bool(b, rng_next() & 1);
    uint8_t entry[40];
    size_t entry_len = rng_below(sizeof entry);
    for (size_t i = 0; i < entry_len; i++)
        entry[i] = (uint8_t)rng_next();
    codec_put_bytes(b, entry, entry_len);
    char name[20];
    size_t name_len = rng_below(sizeof name);
    for (size_t i = 0; i < name_len; i++)
        name[i] = (char)(1 + rng_below(255));
    name[name_len] = '\0';
    codec_put_string(b, name);
    codec_put_int64(b, random_int64());
    codec_put_uint64(b, rng_next() >> rng_below(64));
    codec_put_bool(b, rng_next() & 1);
    codec_put_bytes(b, entry, entry_len / 2);
}

/* Decodes the schema from exactly len bytes, frees what it decoded, and
 * returns codec_decoder_done. */
static bool sample_decode(const uint8_t *data, size_t len)
{
    struct sample s = {0};
    const uint8_t *view = NULL;
    size_t view_len = 0;
    codec_decoder d;
    codec_decoder_init(&d, data, len);
    codec_get_int(&d, &s.term);
    codec_get_bool(&d, &s.granted);
    codec_get_bytes(&d, &s.entry, &s.entry_len);
    codec_get_string(&d, &s.name);
    codec_get_int64(&d, &s.index);
    codec_get_uint64(&d, &s.count);
    codec_get_bool(&d, &s.flag);
    codec_get_bytes_view(&d, &view, &view_len);
    bool done = codec_decoder_done(&d);
    cr_assert(done == (codec_decoder_error(&d)[0] == '\0'));
    cr_assert_leq(d.pos, d.len);
    if (view != NULL)
        cr_assert(view >= data && view_len <= len - (size_t)(view - data));
    sample_free(&s);
    return done;
}

/* Decodes a private, exactly-sized copy so ASan sees any read past the end. */
static bool decode_exact_copy(const uint8_t *data, size_t len)
{
    uint8_t *copy = malloc(len > 0 ? len : 1);
    if (len > 0)
        memcpy(copy, data, len);
    bool ok = sample_decode(len > 0 ? copy : NULL, len);
    free(copy);
    return ok;
}

/* Catches crashes, out-of-bounds reads and leaks on corrupt input. */
Test(codec, survives_truncated_flipped_and_random_input)
{
    codec_buffer b = CODEC_BUFFER_INIT;
    for (int round = 0; round < 20000; round++) {
        codec_buffer_reset(&b);
        sample_encode(&b);
        cr_assert(decode_exact_copy(b.data, b.len), "round %d: valid message rejected", round);
        switch (round % 3) {
        case 0:     /* truncated: must fail, since some field runs out */
            cr_assert_not(decode_exact_copy(b.data, rng_below(b.len)), "round %d", round);
            break;
        case 1:     /* a few bits flipped: may or may not decode */
            for (int flips = 1 + (int)rng_below(3); flips > 0; flips--)
                b.data[rng_below(b.len)] ^= (uint8_t)(1u << rng_below(8));
            decode_exact_copy(b.data, b.len);
            break;
        default:    /* pure noise of random length */
            b.len = rng_below(b.cap);
            for (size_t i = 0; i < b.len; i++)
                b.data[i] = (uint8_t)rng_next();
            decode_exact_copy(b.data, b.len);
            break;
        }
    }
    codec_buffer_free(&b);
}

/* Catches a truncation that still decodes: every prefix of a message must fail. */
Test(codec, every_prefix_of_a_message_fails)
{
    codec_buffer b = CODEC_BUFFER_INIT;
    for (int round = 0; round < 200; round++) {
        codec_buffer_reset(&b);
        sample_encode(&b);
        for (size_t len = 0; len < b.len; len++)
            cr_assert_not(decode_exact_copy(b.data, len), "round %d, %zu of %zu bytes",
                          round, len, b.len);
    }
    codec_buffer_free(&b);
}

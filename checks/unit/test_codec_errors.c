/*
 * test_codec_errors.c: every way a decode can fail, with its message, and
 * the stickiness of errors: a decoder that let a short read pass would turn
 * a truncated persisted state into silent data loss on restart.
 */
#include <criterion/criterion.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "checks/unit/codec_test_helpers.h"
#include "harness/support/test_support.h"
#include "labrpc/codec.h"

TestSuite(codec_errors, .timeout = 60, .fini = test_check_leaks);

/* ---------------------------------------------------------------- errors */

/* Catches a varint read that runs past the end of the input. */
Test(codec_errors, truncated_integer_fails)
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
Test(codec_errors, empty_input_fails_every_read)
{
    codec_decoder d;
    codec_decoder_init(&d, NULL, 0);
    cr_assert(codec_decoder_ok(&d));
    bool flag = true;
    cr_assert_not(codec_get_bool(&d, &flag));
    expect_error(&d, "truncated bool at byte 0 of 0");
}

/* Catches honouring bytes beyond len (e.g. reading to a terminator instead). */
Test(codec_errors, never_reads_past_len)
{
    const uint8_t in[] = {0x80, 0x01, 0x05};    /* valid 2-byte varint */
    codec_decoder d;
    codec_decoder_init(&d, in, 1);
    uint64_t u = 0;
    cr_assert_not(codec_get_uint64(&d, &u));
    expect_error(&d, "truncated integer at byte 0 of 1");
}

/* Catches accepting a non-minimal varint (two encodings of one value). */
Test(codec_errors, overlong_integer_fails)
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
Test(codec_errors, overlong_multibyte_integer_fails)
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
Test(codec_errors, tenth_byte_overflow_fails)
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
Test(codec_errors, eleven_byte_integer_fails)
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
Test(codec_errors, tenth_byte_of_one_is_accepted)
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
Test(codec_errors, int_out_of_range_fails)
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
Test(codec_errors, int_range_edges)
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
Test(codec_errors, bool_byte_other_than_0_or_1_fails)
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
Test(codec_errors, length_beyond_input_fails)
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
Test(codec_errors, length_one_past_end_fails)
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
Test(codec_errors, truncated_length_fails)
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
Test(codec_errors, huge_lengths_fail_without_allocating)
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
Test(codec_errors, string_with_embedded_nul_fails)
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
Test(codec_errors, done_fails_on_leftover_bytes)
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
Test(codec_errors, done_succeeds_on_exact_and_empty_input)
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
Test(codec_errors, errors_are_sticky)
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
Test(codec_errors, int_range_error_is_sticky)
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
Test(codec_errors, first_error_message_is_kept)
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
Test(codec_errors, successful_reads_leave_no_error)
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

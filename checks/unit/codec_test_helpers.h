/*
 * codec_test_helpers.h: small assertions shared by the codec test files.
 */
#ifndef TESTS_UNIT_CODEC_TEST_HELPERS_H
#define TESTS_UNIT_CODEC_TEST_HELPERS_H

#include <criterion/criterion.h>

#include "labrpc/codec.h"

/* Starts a decoder on the bytes encoded so far. */
static inline void decode_from(codec_decoder *d, const codec_buffer *b)
{
    codec_decoder_init(d, b->data, b->len);
}

/* The decoder has failed, with exactly this message. */
static inline void expect_error(const codec_decoder *d, const char *message)
{
    cr_assert_not(codec_decoder_ok(d), "expected failure \"%s\"", message);
    cr_assert_str_eq(codec_decoder_error(d), message);
}

#endif

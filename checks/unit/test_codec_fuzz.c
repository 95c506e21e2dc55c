/*
 * test_codec_fuzz.c: the codec on hostile input. Thousands of truncated,
 * bit-flipped and random buffers, decoded with a fixed schema from exact-size
 * copies (so that AddressSanitizer sees any read past the end), must never
 * crash, and a truncated message must always fail.
 */
#include <criterion/criterion.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "harness/support/test_support.h"
#include "lab/rand.h"
#include "labrpc/codec.h"

TestSuite(codec_fuzz, .timeout = 120, .fini = test_check_leaks);

/* A fixed seed, so that a failure replays exactly. */
static lab_rand rng;
static bool rng_ready;

static uint64_t rng_next(void)
{
    if (!rng_ready) {
        lab_rand_seed(&rng, 0x9e3779b97f4a7c15u);
        rng_ready = true;
    }
    return lab_rand_next(&rng);
}

static size_t rng_below(size_t bound)
{
    return (size_t)(rng_next() % bound);
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
Test(codec_fuzz, survives_truncated_flipped_and_random_input)
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
Test(codec_fuzz, every_prefix_of_a_message_fails)
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

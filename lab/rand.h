/*
 * rand.h: small seeded pseudo-random streams (splitmix64 seeding, xoshiro256**).
 *
 * Every random choice of the network and the harness comes from a stream
 * derived from the test's one seed, so a failing run's fault schedule can be
 * replayed. A stream is not thread-safe: its owner's lock guards it.
 */
#ifndef LAB_RAND_H
#define LAB_RAND_H

#include <stdint.h>

typedef struct lab_rand {
    uint64_t s[4];
} lab_rand;

void lab_rand_seed(lab_rand *r, uint64_t seed);
/* A stream derived from a seed and a label, e.g. (test seed, end name). */
void lab_rand_seed_labelled(lab_rand *r, uint64_t seed, const char *label);
uint64_t lab_rand_next(lab_rand *r);
/* Uniform in [0, bound); bound > 0. */
uint64_t lab_rand_below(lab_rand *r, uint64_t bound);
/* FNV-1a of a string: a cheap, well-spread hash for labels and names. */
uint64_t lab_hash_string(const char *s);
/* The same hash, one value at a time: h = lab_hash_mix(h, v), starting
 * from LAB_HASH_INIT (e.g. a digest of a sequence of thread ids). */
#define LAB_HASH_INIT 0xcbf29ce484222325ULL
static inline uint64_t lab_hash_mix(uint64_t h, uint64_t v)
{
    return (h ^ v) * 0x100000001b3ULL;
}

#endif

/*
 * rand.c: xoshiro256** streams seeded through splitmix64 (public-domain
 * algorithms by Blackman and Vigna), and labelled sub-streams.
 */
#include "lab/rand.h"

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void lab_rand_seed(lab_rand *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&seed);
}

uint64_t lab_hash_string(const char *s)
{
    uint64_t h = LAB_HASH_INIT;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        h = lab_hash_mix(h, *p);
    return h;
}

void lab_rand_seed_labelled(lab_rand *r, uint64_t seed, const char *label)
{
    /* The label's hash, mixed with the seed: one stream per label. */
    uint64_t h = lab_hash_string(label);
    lab_rand_seed(r, seed ^ splitmix64(&h));
}

static inline uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t lab_rand_next(lab_rand *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

uint64_t lab_rand_below(lab_rand *r, uint64_t bound)
{
    /* Rejection sampling keeps it uniform. */
    uint64_t limit = UINT64_MAX - UINT64_MAX % bound;
    uint64_t x;
    do
        x = lab_rand_next(r);
    while (x >= limit);
    return x % bound;
}

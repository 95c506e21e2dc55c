/*
 * harness_random.c: the harness's seeded random stream (harness.h), shared by
 * every tester thread under h->mu. Its seed is the test's SEED, labelled
 * apart from the network's stream, so replaying a seed replays the tester's
 * choices (which servers to cut off or crash, the commands, the ends' names).
 */
#include "harness/harness_internal.h"

#include "lab/rand.h"
#include "lab/sync.h"

static const char name_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

uint64_t harness_rand(harness *h, uint64_t bound)
{
    lab_mutex_lock(&h->mu);
    uint64_t x = lab_rand_below(&h->rand, bound);
    lab_mutex_unlock(&h->mu);
    return x;
}

int64_t harness_rand_int(harness *h)
{
    lab_mutex_lock(&h->mu);
    int64_t x = (int64_t)(lab_rand_next(&h->rand) >> 1);
    lab_mutex_unlock(&h->mu);
    return x;
}

void harness_rand_string(harness *h, char *buf, size_t n)
{
    lab_mutex_lock(&h->mu);
    for (size_t k = 0; k < n; k++)
        buf[k] = name_alphabet[lab_rand_below(&h->rand, 64)];
    buf[n] = '\0';
    lab_mutex_unlock(&h->mu);
}

/*
 * persister.c: a Raft server's "stable storage", kept in memory.
 *
 * Two byte strings (the Raft state and the latest snapshot) behind one lock.
 * Saves copy in, reads copy out, so a caller that scribbles on its buffer
 * after a save (or on what a read returned) cannot change what is stored;
 * that is what makes a restarted server read exactly what was persisted.
 * A save replaces both strings under the lock, so no reader sees a new state
 * with an old snapshot.
 */
#include "persister/persister.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "lab/fatal.h"
#include "lab/sync.h"

struct persister {
    lab_mutex mu;
    /* guarded by mu; each buffer is NULL exactly when its length is 0 */
    uint8_t *state;
    size_t state_len;
    uint8_t *snapshot;
    size_t snapshot_len;
};

/* The stored buffers' invariant. Caller holds p->mu. */
static void assert_invariants(const persister *p)
{
    assert(lab_mutex_held_by_me(&p->mu));
    assert((p->state == NULL) == (p->state_len == 0));
    assert((p->snapshot == NULL) == (p->snapshot_len == 0));
    (void)p;
}

/* A private copy of len bytes of src, or NULL when len is 0. */
static uint8_t *copy_bytes(const void *src, size_t len)
{
    if (len == 0)
        return NULL;
    assert(src != NULL);
    return lab_memdup(src, len);
}

persister *persister_make(void)
{
    persister *p = lab_calloc(1, sizeof *p);
    lab_mutex_init(&p->mu, "persister->mu");
    return p;
}

persister *persister_copy(persister *p)
{
    persister *c = persister_make();
    lab_mutex_lock(&p->mu);
    assert_invariants(p);
    c->state = copy_bytes(p->state, p->state_len);
    c->state_len = p->state_len;
    c->snapshot = copy_bytes(p->snapshot, p->snapshot_len);
    c->snapshot_len = p->snapshot_len;
    lab_mutex_unlock(&p->mu);
    return c;
}

void persister_free(persister *p)
{
    if (p == NULL)
        return;
    lab_mutex_destroy(&p->mu);
    free(p->state);
    free(p->snapshot);
    free(p);
}

void persister_save(persister *p, const void *state, size_t state_len,
                    const void *snapshot, size_t snapshot_len)
{
    if ((state == NULL && state_len > 0) || (snapshot == NULL && snapshot_len > 0))
        lab_fatal("persister_save: NULL buffer with a non-zero length "
                  "(state_len %zu, snapshot_len %zu)", state_len, snapshot_len);

    /* Copy outside the lock; swap both in under it (the atomic part). */
    uint8_t *new_state = copy_bytes(state, state_len);
    uint8_t *new_snapshot = copy_bytes(snapshot, snapshot_len);

    lab_mutex_lock(&p->mu);
    uint8_t *old_state = p->state;
    uint8_t *old_snapshot = p->snapshot;
    p->state = new_state;
    p->state_len = state_len;
    p->snapshot = new_snapshot;
    p->snapshot_len = snapshot_len;
    assert_invariants(p);
    lab_mutex_unlock(&p->mu);

    free(old_state);
    free(old_snapshot);
}

uint8_t *persister_read_raft_state(persister *p, size_t *len)
{
    assert(len != NULL);
    lab_mutex_lock(&p->mu);
    assert_invariants(p);
    uint8_t *copy = lab_memdup(p->state, p->state_len);
    *len = p->state_len;
    lab_mutex_unlock(&p->mu);
    return copy;
}

uint8_t *persister_read_snapshot(persister *p, size_t *len)
{
    assert(len != NULL);
    lab_mutex_lock(&p->mu);
    assert_invariants(p);
    uint8_t *copy = lab_memdup(p->snapshot, p->snapshot_len);
    *len = p->snapshot_len;
    lab_mutex_unlock(&p->mu);
    return copy;
}

size_t persister_raft_state_size(persister *p)
{
    lab_mutex_lock(&p->mu);
    size_t n = p->state_len;
    lab_mutex_unlock(&p->mu);
    return n;
}

size_t persister_snapshot_size(persister *p)
{
    lab_mutex_lock(&p->mu);
    size_t n = p->snapshot_len;
    lab_mutex_unlock(&p->mu);
    return n;
}

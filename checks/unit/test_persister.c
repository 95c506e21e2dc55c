/*
 * test_persister.c: the persister stores and returns copies, replaces state
 * and snapshot together, and persister_copy is independent of its original.
 */
#include <criterion/criterion.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "harness/support/test_support.h"
#include "lab/sync.h"
#include "persister/persister.h"

TestSuite(persister, .timeout = 30, .fini = test_check_leaks);

/* Asserts that the stored state is exactly the n bytes of want. */
static void expect_state(persister *p, const char *want, size_t n)
{
    size_t len = 12345;
    uint8_t *got = persister_read_raft_state(p, &len);
    cr_assert_not_null(got);
    cr_assert_eq(len, n, "state has %zu bytes, expected %zu", len, n);
    cr_assert(memcmp(got, want, n) == 0, "state bytes differ");
    free(got);
}

/* Asserts that the stored snapshot is exactly the n bytes of want. */
static void expect_snapshot(persister *p, const char *want, size_t n)
{
    size_t len = 12345;
    uint8_t *got = persister_read_snapshot(p, &len);
    cr_assert_not_null(got);
    cr_assert_eq(len, n, "snapshot has %zu bytes, expected %zu", len, n);
    cr_assert(memcmp(got, want, n) == 0, "snapshot bytes differ");
    free(got);
}

/* Catches: a fresh persister returning NULL, garbage lengths or sizes. */
Test(persister, fresh_persister_reads_empty_and_non_null)
{
    persister *p = persister_make();
    expect_state(p, "", 0);
    expect_snapshot(p, "", 0);
    cr_assert_eq(persister_raft_state_size(p), 0);
    cr_assert_eq(persister_snapshot_size(p), 0);
    persister_free(p);
}

/* Catches: save keeping the caller's pointer instead of a copy of the state. */
Test(persister, saved_state_is_a_copy)
{
    persister *p = persister_make();
    char state[] = "term=3";
    persister_save(p, state, 6, NULL, 0);
    memset(state, 'X', 6);
    expect_state(p, "term=3", 6);
    persister_free(p);
}

/* Catches: save keeping the caller's pointer instead of a copy of the snapshot. */
Test(persister, saved_snapshot_is_a_copy)
{
    persister *p = persister_make();
    char snap[] = "snapshot";
    persister_save(p, "s", 1, snap, 8);
    memset(snap, 'X', 8);
    expect_snapshot(p, "snapshot", 8);
    persister_free(p);
}

/* Catches: reads handing out the stored buffer (a caller's edit would persist). */
Test(persister, reads_return_copies)
{
    persister *p = persister_make();
    persister_save(p, "state", 5, "snap", 4);
    size_t len;
    uint8_t *s = persister_read_raft_state(p, &len);
    uint8_t *t = persister_read_snapshot(p, &len);
    memset(s, 'X', 5);
    memset(t, 'X', 4);
    free(s);
    free(t);
    expect_state(p, "state", 5);
    expect_snapshot(p, "snap", 4);
    persister_free(p);
}

/* Catches: sizes that report a stale or swapped length. */
Test(persister, sizes_report_saved_lengths)
{
    persister *p = persister_make();
    persister_save(p, "abc", 3, "12345", 5);
    cr_assert_eq(persister_raft_state_size(p), 3);
    cr_assert_eq(persister_snapshot_size(p), 5);
    persister_save(p, "abcdefg", 7, "1", 1);
    cr_assert_eq(persister_raft_state_size(p), 7);
    cr_assert_eq(persister_snapshot_size(p), 1);
    persister_free(p);
}

/* Catches: a second save appending to, or failing to replace, the first. */
Test(persister, save_replaces_state_and_snapshot)
{
    persister *p = persister_make();
    persister_save(p, "old state", 9, "old snapshot", 12);
    persister_save(p, "new", 3, "NEW", 3);
    expect_state(p, "new", 3);
    expect_snapshot(p, "NEW", 3);
    persister_free(p);
}

/* Catches: a NULL snapshot treated as "keep the old one" (2023's TestSnapshotInit2D). */
Test(persister, save_with_null_snapshot_erases_snapshot)
{
    persister *p = persister_make();
    persister_save(p, "state", 5, "snapshot", 8);
    persister_save(p, "state2", 6, NULL, 0);
    expect_state(p, "state2", 6);
    expect_snapshot(p, "", 0);
    cr_assert_eq(persister_snapshot_size(p), 0);
    persister_free(p);
}

/* Catches: an empty state save that leaves the old state in place. */
Test(persister, save_with_empty_state_erases_state)
{
    persister *p = persister_make();
    persister_save(p, "state", 5, "snap", 4);
    persister_save(p, NULL, 0, "snap", 4);
    expect_state(p, "", 0);
    cr_assert_eq(persister_raft_state_size(p), 0);
    expect_snapshot(p, "snap", 4);
    persister_free(p);
}

/* Catches: persister_copy losing or mixing up what the original held. */
Test(persister, copy_holds_the_same_contents)
{
    persister *p = persister_make();
    persister_save(p, "state", 5, "snapshot", 8);
    persister *c = persister_copy(p);
    expect_state(c, "state", 5);
    expect_snapshot(c, "snapshot", 8);
    persister_free(p);
    persister_free(c);
}

/* Catches: a copy sharing storage, so a zombie's save reaches the restarted server. */
Test(persister, saving_to_original_leaves_copy_unchanged)
{
    persister *p = persister_make();
    persister_save(p, "state", 5, "snapshot", 8);
    persister *c = persister_copy(p);
    persister_save(p, "zombie", 6, "zombie snap", 11);
    expect_state(c, "state", 5);
    expect_snapshot(c, "snapshot", 8);
    persister_free(p);
    persister_free(c);
}

/* Catches: a copy sharing storage, so the new server's save changes the old one. */
Test(persister, saving_to_copy_leaves_original_unchanged)
{
    persister *p = persister_make();
    persister_save(p, "state", 5, "snapshot", 8);
    persister *c = persister_copy(p);
    persister_save(c, "newer", 5, NULL, 0);
    expect_state(p, "state", 5);
    expect_snapshot(p, "snapshot", 8);
    persister_free(p);
    persister_free(c);
}

/* Catches: a copy whose buffers are freed with the original (use after free). */
Test(persister, copy_outlives_original)
{
    persister *p = persister_make();
    persister_save(p, "state", 5, "snapshot", 8);
    persister *c = persister_copy(p);
    persister_free(p);
    expect_state(c, "state", 5);
    expect_snapshot(c, "snapshot", 8);
    persister_free(c);
}

enum { SAVE_MS = 200, MAX_LEN = 4096 };

typedef struct saver_arg {
    persister *p;
    atomic_bool stop;
} saver_arg;

/* Until told to stop, saves pairs whose state and snapshot are equal. */
static void *saver(void *arg)
{
    saver_arg *a = arg;
    static char buf[MAX_LEN];
    for (int i = 0; !atomic_load(&a->stop); i++) {
        size_t n = 1 + (size_t)(i * 997) % MAX_LEN;
        memset(buf, 'a' + i % 26, n);
        persister_save(a->p, buf, n, buf, n);
    }
    return NULL;
}

/* Catches: a save that updates state and snapshot in two separately locked steps. */
Test(persister, save_replaces_both_atomically)
{
    saver_arg a = { .p = persister_make() };
    persister_save(a.p, "x", 1, "x", 1);
    lab_thread t;
    lab_thread_create(&t, "saver", saver, &a);
    int mismatches = 0;
    for (int64_t end = lab_now_ms() + SAVE_MS; lab_now_ms() < end;) {
        persister *c = persister_copy(a.p);   /* takes both under one lock */
        size_t sl, nl;
        uint8_t *s = persister_read_raft_state(c, &sl);
        uint8_t *n = persister_read_snapshot(c, &nl);
        if (sl != nl || memcmp(s, n, sl) != 0)
            mismatches++;
        free(s);
        free(n);
        persister_free(c);
    }
    atomic_store(&a.stop, true);
    lab_thread_join(&t);
    cr_assert_eq(mismatches, 0, "%d copies held a state and snapshot from different saves",
                 mismatches);
    persister_free(a.p);
}

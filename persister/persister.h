/*
 * persister.h: in-memory "stable storage" for one Raft server.
 *
 * A Raft saves its persistent state (current term, vote, log) and its latest
 * snapshot together, atomically, and reads them back in raft_make after a
 * crash. The harness gives a restarted server a fresh persister holding
 * copies of the old one's contents, so writes by a killed instance go nowhere.
 *
 * Every save stores copies and every read returns a fresh malloc'd copy that
 * the caller frees, so neither side can change the other's bytes. There is
 * no "save state only": pass the current snapshot every time (NULL, 0 before
 * the first) or it is erased. All functions are thread-safe.
 */
#ifndef PERSISTER_PERSISTER_H
#define PERSISTER_PERSISTER_H

#include <stddef.h>
#include <stdint.h>

typedef struct persister persister;

persister *persister_make(void);
/* An independent persister holding copies of p's state and snapshot. */
persister *persister_copy(persister *p);
void persister_free(persister *p);

void persister_save(persister *p, const void *state, size_t state_len,
                    const void *snapshot, size_t snapshot_len);
/* Copies (never NULL; *len is 0 when nothing was saved). Caller frees. */
uint8_t *persister_read_raft_state(persister *p, size_t *len);
uint8_t *persister_read_snapshot(persister *p, size_t *len);
size_t persister_raft_state_size(persister *p);
size_t persister_snapshot_size(persister *p);

#endif

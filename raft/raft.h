/*
 * raft.h: the API that the tester (and, later, a key/value service) calls.
 * The framework owns this file; students implement it in raft/raft.c.
 *
 *   raft_make      create a server; must return quickly (start threads for
 *                  long-running work). peers[me] is this server's own end.
 *   raft_register_service
 *                  add the "Raft" service with its RPC handlers to srv;
 *                  the tester calls it after raft_make.
 *   raft_start     propose a command; returns at once whether this server
 *                  believes it is the leader, and where the command will
 *                  appear in the log if it is ever committed. No guarantee
 *                  that it ever will be. Must behave after raft_kill began.
 *   raft_get_state current term and whether this server believes it leads.
 *   raft_snapshot  the service has a snapshot of everything through index;
 *                  trim the log and persist state and snapshot together.
 *                  Called from the tester's applier thread, which is the
 *                  thread receiving from the apply channel.
 *   raft_kill      stop every thread of this instance and return when they
 *                  have exited; then free everything. Afterwards the
 *                  instance must not touch its ends, persister or channel.
 *
 * Log indices start at 1 (index 0 is the empty log's "previous entry").
 * Commands are opaque byte strings: copy them, never keep the caller's pointer.
 */
#ifndef RAFT_RAFT_H
#define RAFT_RAFT_H

#include <stdbool.h>
#include <stddef.h>

#include "../labrpc/labrpc.h"
#include "../persister/persister.h"
#include "applych/applych.h"

typedef struct raft raft;

/* peers is copied; the ends themselves belong to the network. */
raft *raft_make(labrpc_end **peers, int npeers, int me, persister *ps, applych *ch);
void raft_register_service(raft *rf, labrpc_server *srv);
bool raft_start(raft *rf, const void *command, size_t len, int *index, int *term);
void raft_get_state(raft *rf, int *term, bool *is_leader);
void raft_snapshot(raft *rf, int index, const void *snapshot, size_t len);
void raft_kill(raft *rf);

#endif

/*
 * applych.h: the apply channel, through which a Raft hands committed
 * commands (and installed snapshots) to the service above it, in log order.
 *
 * It behaves like Go's unbuffered channel: applych_send blocks until the
 * receiver has taken the message (a rendezvous), so a Raft that holds its
 * lock while sending can deadlock with a service that calls back into Raft
 * (raft_snapshot) before receiving again. Send from a thread that holds no
 * lock.
 *
 * The channel copies the payloads: the sender may free its buffers as soon
 * as send returns, and the receiver owns what it receives (apply_msg_free).
 * Closing makes blocked and later sends return false at once (a message
 * offered but not yet taken is withdrawn); receives return false once the
 * channel is closed. Any number of threads may send; one thread receives.
 */
#ifndef RAFT_APPLYCH_H
#define RAFT_APPLYCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct apply_msg {
    bool command_valid;      /* a committed command */
    uint8_t *command;
    size_t command_len;
    int command_index;

    bool snapshot_valid;     /* a snapshot received from the leader */
    uint8_t *snapshot;
    size_t snapshot_len;
    int snapshot_term;
    int snapshot_index;
} apply_msg;

typedef struct applych applych;

applych *applych_make(void);
void applych_free(applych *ch);          /* no thread may be using it */
bool applych_send(applych *ch, const apply_msg *msg);
bool applych_receive(applych *ch, apply_msg *out);
void applych_close(applych *ch);
void apply_msg_free(apply_msg *m);      /* frees the payloads, zeroes *m */

#endif

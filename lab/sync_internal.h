/*
 * sync_internal.h: what sync.c and registry.c share about a thread. Not for
 * use outside lab/.
 */
#ifndef LAB_SYNC_INTERNAL_H
#define LAB_SYNC_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "lab/sync.h"

struct lab_thread_info {
    char name[48];
    void *(*fn)(void *);
    void *arg;
    bool adopted;                          /* made by lab_thread_adopt, never exits */
    /* Written only by the thread itself, read by hang dumps. */
    _Atomic(const lab_mutex *) blocked_on; /* the mutex being locked or waited with */
    atomic_int blocked_kind;               /* enum lab_thread_state */
    /* The registry of live threads; guarded by registry.c's lock. */
    pthread_t handle;
    lab_thread_info *prev, *next;
    bool registered;
};

void lab_registry_created(void);            /* lab_thread_create, before the thread starts */
void lab_registry_add(lab_thread_info *t);  /* by the thread itself, first thing */
void lab_registry_remove(lab_thread_info *t); /* by the thread itself, last thing */

#endif

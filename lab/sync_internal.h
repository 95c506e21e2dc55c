/*
 * sync_internal.h: what sync.c and registry.c share about a thread. Not for
 * use outside lab/.
 */
#ifndef LAB_SYNC_INTERNAL_H
#define LAB_SYNC_INTERNAL_H

#include <pthread.h>
#include <signal.h>
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
    _Atomic(const char *) activity;        /* lab_thread_set_activity: a static string or NULL */
    _Atomic(const lab_thread_info *) waits_for; /* lab_thread_set_waits_for; compared, dereferenced only if live */
    int group;                             /* inherited from the creator (lab_thread_set_group) */
    /* The registry of live threads; guarded by registry.c's lock. */
    pthread_t handle;
    lab_thread_info *prev, *next;
    bool registered;
    /* Every thread made by lab_thread_create, until it is joined; registry.c's lock. */
    lab_thread_info *unjoined_prev, *unjoined_next;
    bool returned;                         /* its function has returned */
    /* Its alternate signal stack (registry.c); the thread's own. */
    void *alt_stack;
    stack_t previous_alt_stack;
    /* Simulation mode (lab/sim.c): its record there; NULL outside a
     * simulation. Set by the creator before the thread starts (or by
     * lab_sim_start for the first thread); cleared by lab_sim_stop. */
    struct lab_sim_thread *sim;
};

/* The calling thread's record: its own, an adopted one, or a thread-local
 * stand-in ("main") for a thread the layer has never seen. */
lab_thread_info *lab_thread_self(void);

void lab_registry_created(lab_thread_info *t); /* lab_thread_create, before the thread starts */
void lab_registry_joined(lab_thread_info *t);  /* lab_thread_join, before t is freed */
void lab_registry_add(lab_thread_info *t);  /* by the thread itself, first thing */
void lab_registry_remove(lab_thread_info *t); /* by the thread itself, last thing */
/* t's name into out if t is a live registered thread; false (out untouched) if not. */
bool lab_registry_name_of(const lab_thread_info *t, char *out, size_t n);

#endif

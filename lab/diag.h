/*
 * diag.h: what every thread of the process is doing, for hang dumps and the
 * check that a killed Raft left no thread behind. Threads appear here from
 * lab_thread_create until their function returns; a thread that was not made
 * by lab_thread_create (a test's main thread) appears once it calls
 * lab_thread_adopt.
 */
#ifndef LAB_DIAG_H
#define LAB_DIAG_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "lab/sync.h"   /* lab_thread_info */

enum lab_thread_state {
    LAB_THREAD_RUNNING,   /* not blocked in the lab layer: computing, or in a system call */
    LAB_THREAD_LOCKING,   /* in lab_mutex_lock */
    LAB_THREAD_WAITING,   /* in lab_cond_wait or lab_cond_wait_until */
    LAB_THREAD_SLEEPING,  /* in lab_sleep_ms */
};

typedef struct lab_thread_view {
    pthread_t handle;
    char name[48];
    enum lab_thread_state state;
    char mutex[48];   /* LOCKING: the mutex it wants; WAITING: the one the wait released */
    int holder;       /* LOCKING: index of the mutex's holder in the views, or -1 */
    char holder_name[48]; /* LOCKING: the holder's name; "" if free or unknown */
    bool adopted;
    int group;            /* see lab_thread_set_group; -1 for none */
    char activity[64];    /* see lab_thread_set_activity; "" for none */
    char waits_for[48];   /* see lab_thread_set_waits_for; "" for none (or not alive) */
} lab_thread_view;

/* Registers the calling thread (one not made by lab_thread_create) under name. */
void lab_thread_adopt(const char *name);

/* Groups: a thread made by lab_thread_create joins its creator's group, so
 * every thread a Raft instance starts, directly or not, carries the group
 * its creator was in when it called raft_make (the harness sets one per
 * instance, and so can tell which threads outlive raft_kill). -1: none. */
void lab_thread_set_group(int group);
int lab_thread_group(void);
/* The threads of group made by lab_thread_create and not yet joined, named
 * into out ("'S2 ticker' (still running), 'S2 lane' (ended, never joined)");
 * how many. */
size_t lab_threads_unjoined_in_group(int group, char *out, size_t n);

/* What the calling thread is about to block on, when the view alone would
 * not say it ("sending on the apply channel"); NULL clears it. what must be
 * a static string. */
void lab_thread_set_activity(const char *what);

/* The calling thread, as lab_thread_set_waits_for names it. */
lab_thread_info *lab_thread_current(void);
/* Before an untimed wait on a condition variable that only one particular
 * thread can end (a sender on a rendezvous channel waits for its receiver):
 * names that thread, so that a hang dump shows the wait-for edge and the
 * deadlock detector of simulation mode follows it like a mutex's holder.
 * NULL clears it. A thread that has ended is ignored, never dereferenced. */
void lab_thread_set_waits_for(const lab_thread_info *server);

/* Fills out[0..max) with the registered threads; returns how many there are
 * (possibly more than max). A consistent picture: taken under one lock. */
size_t lab_threads_view(lab_thread_view *out, size_t max);

/* Threads made by lab_thread_create whose function has not returned yet. */
int lab_threads_running(void);

const char *lab_thread_state_name(enum lab_thread_state s);

#endif

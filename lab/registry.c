/*
 * registry.c: the list of live threads behind lab/diag.h. One internal lock
 * (a raw pthread mutex: this is the layer itself) guards the list; it is
 * taken only when a thread starts or ends and when a dump looks.
 */
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lab/diag.h"
#include "lab/sync_internal.h"

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static lab_thread_info *registry_head;   /* guarded by registry_lock */
static atomic_int threads_running;      /* created and not yet returned */

static lab_thread_info *unjoined_head;   /* guarded by registry_lock */

void lab_registry_created(lab_thread_info *t)
{
    atomic_fetch_add(&threads_running, 1);
    pthread_mutex_lock(&registry_lock);
    t->unjoined_prev = NULL;
    t->unjoined_next = unjoined_head;
    if (unjoined_head)
        unjoined_head->unjoined_prev = t;
    unjoined_head = t;
    pthread_mutex_unlock(&registry_lock);
}

void lab_registry_joined(lab_thread_info *t)
{
    pthread_mutex_lock(&registry_lock);
    if (t->unjoined_prev)
        t->unjoined_prev->unjoined_next = t->unjoined_next;
    else
        unjoined_head = t->unjoined_next;
    if (t->unjoined_next)
        t->unjoined_next->unjoined_prev = t->unjoined_prev;
    pthread_mutex_unlock(&registry_lock);
}

size_t lab_threads_unjoined_in_group(int group, char *out, size_t n)
{
    size_t found = 0, len = 0;
    if (n > 0)
        out[0] = '\0';
    pthread_mutex_lock(&registry_lock);
    for (lab_thread_info *t = unjoined_head; t != NULL; t = t->unjoined_next) {
        if (t->group != group)
            continue;
        if (len < n)
            len += (size_t)snprintf(out + len, n - len, "%s'%s' (%s)", found ? ", " : "", t->name,
                                    t->returned ? "ended, never joined" : "still running");
        found++;
    }
    pthread_mutex_unlock(&registry_lock);
    return found;
}

/*
 * Every lab thread gets an alternate signal stack, so that a crash handler
 * installed with SA_ONSTACK (the harness's) still runs after a stack
 * overflow, when the thread's own stack is exhausted. The previous one (a
 * sanitizer's, or none) is put back before the thread ends.
 */
enum { ALT_STACK_BYTES = 64 * 1024 };   /* the crash handler symbolises a stack */

static void alt_stack_install(lab_thread_info *t)
{
    stack_t ss = {.ss_sp = malloc(ALT_STACK_BYTES), .ss_size = ALT_STACK_BYTES, .ss_flags = 0};
    if (ss.ss_sp != NULL && sigaltstack(&ss, &t->previous_alt_stack) == 0)
        t->alt_stack = ss.ss_sp;
    else
        free(ss.ss_sp);   /* no alternate stack: a crash report needs a stack left */
}

static void alt_stack_remove(lab_thread_info *t)
{
    if (t->alt_stack == NULL)
        return;
    sigaltstack(&t->previous_alt_stack, NULL);
    free(t->alt_stack);
    t->alt_stack = NULL;
}

void lab_registry_add(lab_thread_info *t)
{
    alt_stack_install(t);
    pthread_mutex_lock(&registry_lock);
    t->handle = pthread_self();
    t->prev = NULL;
    t->next = registry_head;
    if (registry_head)
        registry_head->prev = t;
    registry_head = t;
    t->registered = true;
    pthread_mutex_unlock(&registry_lock);
}

void lab_registry_remove(lab_thread_info *t)
{
    pthread_mutex_lock(&registry_lock);
    t->returned = true;
    if (t->registered) {
        if (t->prev)
            t->prev->next = t->next;
        else
            registry_head = t->next;
        if (t->next)
            t->next->prev = t->prev;
        t->registered = false;
    }
    pthread_mutex_unlock(&registry_lock);
    alt_stack_remove(t);
    if (!t->adopted)
        atomic_fetch_sub(&threads_running, 1);
}

bool lab_registry_name_of(const lab_thread_info *t, char *out, size_t n)
{
    bool found = false;
    pthread_mutex_lock(&registry_lock);
    for (lab_thread_info *r = registry_head; r != NULL && !found; r = r->next)
        if (r == t) {
            snprintf(out, n, "%s", r->name);
            found = true;
        }
    pthread_mutex_unlock(&registry_lock);
    return found;
}

int lab_threads_running(void)
{
    return atomic_load(&threads_running);
}

const char *lab_thread_state_name(enum lab_thread_state s)
{
    switch (s) {
    case LAB_THREAD_RUNNING: return "running";
    case LAB_THREAD_LOCKING: return "waiting for a mutex";
    case LAB_THREAD_WAITING: return "waiting on a condition variable";
    case LAB_THREAD_SLEEPING: return "sleeping";
    }
    return "?";
}

static int index_of(lab_thread_info *const *infos, size_t n, const lab_thread_info *t)
{
    for (size_t i = 0; i < n; i++)
        if (infos[i] == t)
            return (int)i;
    return -1;
}

enum { VIEW_MAX_INFOS = 1024 };

size_t lab_threads_view(lab_thread_view *out, size_t max)
{
    static lab_thread_info *infos[VIEW_MAX_INFOS];   /* guarded by registry_lock */
    pthread_mutex_lock(&registry_lock);
    size_t n = 0;
    for (lab_thread_info *t = registry_head; t != NULL; t = t->next)
        if (n < VIEW_MAX_INFOS)
            infos[n++] = t;
    size_t total = n;
    for (size_t i = 0; i < n && i < max; i++) {
        lab_thread_info *t = infos[i];
        lab_thread_view *v = &out[i];
        memset(v, 0, sizeof *v);
        v->handle = t->handle;
        v->adopted = t->adopted;
        v->group = t->group;
        const char *activity = atomic_load(&t->activity);
        if (activity)
            snprintf(v->activity, sizeof v->activity, "%s", activity);
        snprintf(v->name, sizeof v->name, "%s", t->name);
        /* Like a holder below: named only if it is still registered. */
        const lab_thread_info *server = atomic_load(&t->waits_for);
        int s = index_of(infos, n, server);
        if (s >= 0)
            snprintf(v->waits_for, sizeof v->waits_for, "%s", infos[s]->name);
        v->state = (enum lab_thread_state)atomic_load(&t->blocked_kind);
        v->holder = -1;
        const lab_mutex *m = atomic_load(&t->blocked_on);
        if (m == NULL || (v->state != LAB_THREAD_LOCKING && v->state != LAB_THREAD_WAITING))
            continue;
        snprintf(v->mutex, sizeof v->mutex, "%s", m->name ? m->name : "?");
        if (v->state != LAB_THREAD_LOCKING)
            continue;
        /* A holder that is not in the registry may have exited: never read it. */
        lab_thread_info *h = atomic_load(&((lab_mutex *)m)->holder);
        v->holder = index_of(infos, n, h);
        if (v->holder >= 0)
            snprintf(v->holder_name, sizeof v->holder_name, "%s", h->name);
        else if (h != NULL)
            snprintf(v->holder_name, sizeof v->holder_name, "%s", "a thread outside the lab layer");
    }
    pthread_mutex_unlock(&registry_lock);
    return total;
}

// hostile (or just buggy): starts threads without end through the lab's own lab_thread_create
// base: stub
// expect: OK 0 /LIMIT: .*(address-space limit \(2 GiB\)|process limit).*pthread_create failed/
#include <stdlib.h>
#include "lab/sync.h"
static void *bomb_sleep(void *arg)
{
    (void)arg;
    for (;;)
        lab_sleep_ms(1000);
    return NULL;
}
static void hostile_make(void)
{
    for (;;) {
        lab_thread *t = malloc(sizeof *t);
        lab_thread_create(t, "bomb", bomb_sleep, NULL);
    }
}

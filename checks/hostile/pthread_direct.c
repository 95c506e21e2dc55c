// hostile (or an honest slip): starts its own pthread, which the lab's thread registry and kill check never see
// base: stub
// expect: REFUSED 0 /uses pthread_create|calls pthread_create, which a Raft may not use: it starts threads the lab does not know \(use lab_thread_create\)/
#include <pthread.h>
static void *spin(void *arg) { return arg; }
static void hostile_make(void)
{
    pthread_t t;
    pthread_create(&t, NULL, spin, NULL);
}

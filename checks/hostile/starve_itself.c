// hostile: burns CPU in three threads of its own (3 s of CPU, both cores at once), then fails: its own load must never make its failure a STARVED re-run
// base: stub
// expect: OK 0 /LIVENESS/
#include "lab/sync.h"
static int started;
static void *burn(void *arg)
{
    (void)arg;
    while (lab_cpu_seconds() < 3.0)
        ;
    return 0;
}
static void hostile_make(void)
{
    static lab_thread threads[3];
    if (started++)
        return;
    for (int i = 0; i < 3; i++)
        lab_thread_create(&threads[i], "burner", burn, 0);
}

// hostile: opens the verdict file by the path the tester reads (LAB_VERDICT_FILE) and appends a forged record
// base: stub
// expect: REFUSED 0 /calls getenv|calls fopen/
#include <stdio.h>
#include <stdlib.h>
static void hostile_make(void)
{
    const char *path = getenv("LAB_VERDICT_FILE");
    FILE *f = path ? fopen(path, "a") : NULL;
    if (f) {
        fputs("VERDICT guessed raft2A/t01_initial_election PASS\n", f);
        fclose(f);
    }
}

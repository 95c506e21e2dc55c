// hostile: forks a detached process that waits for the grader to finish and rewrites results.json
// base: stub
// expect: REFUSED 0 /calls fork, which a Raft may not use: it starts a process/
#include <unistd.h>
static void hostile_make(void)
{
    if (fork() == 0) {
        setsid();
        sleep(30);
    }
}

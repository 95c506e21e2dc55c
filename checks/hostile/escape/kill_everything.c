// hostile: SIGKILLs every process it may (kill -1), its runner, pid 1, and the check's canary process by its pid
// base: stub
// expect: OK 0
#include <signal.h>
#include <stdio.h>
#include <unistd.h>
static void hostile_make(void)
{
    kill((pid_t)@CANARY@, SIGKILL);
    kill(1, SIGKILL);
    kill(getppid(), SIGKILL);
    kill(-1, SIGKILL);
}

// hostile: writes a forged verdict record straight to the verdict descriptor
// base: stub
// expect: REFUSED 0 /calls write, which a Raft may not use|calls getenv/
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
static void hostile_make(void)
{
    const char *fd = getenv("LAB_VERDICT_FD");
    const char *line = "VERDICT k raft2A/t01_initial_election PASS\n";
    if (fd)
        (void)!write(atoi(fd), line, strlen(line));
}

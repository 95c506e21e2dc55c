// hostile: changes the environment from raft_make (no constructor), for the next process the tester starts
// base: stub
// expect: REFUSED 0 /calls setenv, which a Raft may not use: it changes the environment/
#include <stdlib.h>
static void hostile_make(void)
{
    setenv("LAB_CPU_SCALE", "1000", 1);
}

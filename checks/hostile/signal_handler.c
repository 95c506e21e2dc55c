// hostile: replaces the tester's SIGSEGV handler, so a crash is never reported
// base: stub
// expect: REFUSED 0 /calls signal|calls sigaction/
#include <signal.h>
static void hostile_make(void)
{
    signal(SIGSEGV, SIG_IGN);
}

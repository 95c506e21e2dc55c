// hostile: kills Criterion's runner process (its parent) so that no verdict is written
// base: stub
// expect: REFUSED 0 /calls kill|calls getppid|uses getppid/
#include <signal.h>
#include <unistd.h>
static void hostile_make(void)
{
    kill(getppid(), SIGKILL);
}

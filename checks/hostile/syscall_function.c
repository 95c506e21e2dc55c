// hostile: syscall(2), to do what the allowlist forbids by number
// base: stub
// expect: REFUSED 0 /calls syscall, which a Raft may not use/
#include <unistd.h>
#include <sys/syscall.h>
static void hostile_make(void)
{
    syscall(SYS_getpid);
}

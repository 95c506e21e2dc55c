// hostile: makes a buffer executable to run machine code built at run time
// base: stub
// expect: REFUSED 0 /calls mprotect, which a Raft may not use: it makes memory executable/
#include <sys/mman.h>
static unsigned char code[4096] __attribute__((aligned(4096)));
static void hostile_make(void)
{
    code[0] = 0xc3;
    if (mprotect(code, sizeof code, PROT_READ | PROT_EXEC) == 0)
        ((void (*)(void))(void *)code)();
}

// hostile (or just buggy): allocates 64 MiB at a time without end, writing into each, and uses malloc's NULL when it comes
// base: stub
// expect: OK 0 /LIMIT: raft2A/t01_initial_election: ran out of its address-space limit \(2 GiB\): SIGSEGV .*out of memory: its address space had reached/
// (it writes one byte per MiB: touching every page of 2 GiB takes over 10 s at load 20, and the watchdog's
// HANG for raft_make would come first; the address-space limit counts what is allocated, touched or not)
#include <stdlib.h>
static char *volatile hog_keep;
static void hostile_make(void)
{
    for (;;) {
        char *p = malloc(64 << 20);
        for (size_t i = 0; i < (64 << 20); i += 1 << 20)
            p[i] = 1;   /* malloc's NULL, once the address space is used up: SIGSEGV at 0x0 */
        hog_keep = p;
    }
}

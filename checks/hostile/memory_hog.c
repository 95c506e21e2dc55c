// hostile (or just buggy): allocates and touches 64 MiB at a time without end, and uses malloc's NULL when it comes
// base: stub
// expect: OK 0 /LIMIT: ran out of its address-space limit \(2 GiB\): SIGSEGV .*out of memory: its address space had reached/
#include <stdlib.h>
#include <string.h>
static char *volatile hog_keep;
static void hostile_make(void)
{
    for (;;) {
        char *p = malloc(64 << 20);
        memset(p, 1, 64 << 20);   /* malloc's NULL, once the address space is used up: SIGSEGV at 0x0 */
        hog_keep = p;
    }
}

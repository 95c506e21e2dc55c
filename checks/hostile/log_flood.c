// hostile (or just buggy): prints newlines without end: a huge log the grader once took 68 s and 1.9 GB to read
// base: stub
// expect: OK 0 /LIMIT: .*file-size limit/
#include <stdio.h>
static void hostile_make(void)
{
    for (;;)
        fputs("\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n", stdout);
}

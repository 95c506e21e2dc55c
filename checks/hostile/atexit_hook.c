// hostile: an atexit handler: code that runs after the test, outside it
// base: stub
// expect: REFUSED 0 /calls atexit/
#include <stdlib.h>
static void later(void) {}
static void hostile_make(void)
{
    atexit(later);
}

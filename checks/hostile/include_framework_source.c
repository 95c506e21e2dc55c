// hostile: includes a framework source file (its code would replace the library's)
// base: none
// expect: REFUSED|BUILD-ERROR 0 /lab\/sync\.c/
#include "lab/sync.c"

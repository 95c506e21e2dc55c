// hostile: #include of the reference solution through the lab's -I. include path
// base: none
// expect: REFUSED|BUILD-ERROR 0 /solution\/raft\.c/
#include "solution/raft.c"

// hostile: #include of the reference solution by its absolute path
// base: none
// expect: REFUSED|BUILD-ERROR 0 /solution\/raft\.c/
#include "@ROOT@/solution/raft.c"

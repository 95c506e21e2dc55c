// hostile: #include "/dev/ptmx": the compiler waits for input forever
// base: skeleton
// expect: REFUSED|BUILD-ERROR 0 /dev\/ptmx|time limit/
#include "/dev/ptmx"

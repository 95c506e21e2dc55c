// hostile: #include "/dev/zero": the compiler reads zeros until memory runs out
// base: skeleton
// expect: REFUSED|BUILD-ERROR 0 /dev\/zero|limit/
#include "/dev/zero"

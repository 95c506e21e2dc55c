// hostile: includes the compiler's environment (/proc/self/environ), to read the grader's variables in the errors
// base: skeleton
// expect: REFUSED|BUILD-ERROR 0 /proc\/self\/environ: No such file|a device or a kernel file/
#include "/proc/self/environ"

// hostile: includes a file of the machine to read it in the compiler's errors
// base: skeleton
// expect: REFUSED|BUILD-ERROR 0 /etc\/shadow/
#include "/etc/shadow"

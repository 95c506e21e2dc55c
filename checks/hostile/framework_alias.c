// hostile: defines a framework function under an alias of its own static code
// base: skeleton
// expect: REFUSED 0 /defines lab_now_ms, a framework function/
#include <stdint.h>
static int64_t frozen_clock(void) { return 0; }
int64_t lab_now_ms(void) __attribute__((alias("frozen_clock")));

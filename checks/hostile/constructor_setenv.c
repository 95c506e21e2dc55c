// hostile: a constructor that changes an environment variable the harness reads (time dilation, scale)
// base: skeleton
// expect: REFUSED 0 /\.init_array|setenv/
#include <stdlib.h>
__attribute__((constructor)) static void slow_the_clock(void)
{
    setenv("LAB_TIME_DILATION", "100", 1);
}

// hostile: includes the tester's own headers to reach its internals
// base: skeleton
// expect: REFUSED|BUILD-ERROR 0 /harness\/harness_internal/
#include "harness/harness_internal.h"

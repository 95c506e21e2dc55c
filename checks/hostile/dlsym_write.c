// hostile: finds write() through dlsym, to dodge the allowlist of symbols
// base: stub
// expect: REFUSED 0 /calls dlsym|uses dlsym/
#define _GNU_SOURCE 1
#include <dlfcn.h>
static void hostile_make(void)
{
    void *w = dlsym(RTLD_DEFAULT, "write");
    (void)w;
}

// hostile: raises its hard limits (file size, CPU, address space, processes) to infinity, then floods its log
// base: stub
// expect: OK 0 /LIMIT: .*file-size limit/
#include <stdio.h>
#include <sys/resource.h>
static void hostile_make(void)
{
    static const int which[] = {RLIMIT_FSIZE, RLIMIT_CPU, RLIMIT_AS, RLIMIT_NPROC};
    static const char *names[] = {"RLIMIT_FSIZE", "RLIMIT_CPU", "RLIMIT_AS", "RLIMIT_NPROC"};
    for (int i = 0; i < 4; i++) {
        struct rlimit r = {RLIM_INFINITY, RLIM_INFINITY};
        if (setrlimit(which[i], &r) == 0)
            printf("ESCAPED: raised %s\n", names[i]);
        else
            printf("could not raise %s\n", names[i]);
    }
    fflush(stdout);
    for (;;)
        fputs("a line of text, forever, to be stopped by the file-size limit ...................\n", stdout);
}

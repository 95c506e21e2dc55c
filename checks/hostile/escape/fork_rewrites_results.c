// hostile: a detached child (fork, setsid) outlives its test, then rewrites the reports and results.json every 0.1 s for a minute
// base: stub
// expect: OK 0
#include <stdlib.h>
#include <unistd.h>
static void hostile_make(void)
{
    static int once;
    if (once++)
        return;
    if (fork() == 0) {
        setsid();
        if (fork() == 0) {   /* a grandchild, re-parented away from the test */
            execl("/bin/sh", "sh", "-c",
                  "for i in $(seq 600); do for d in @OUT@/*/; do "
                  "echo '{\"score\": 100}' > \"$d/results.json\" && echo 'ESCAPED: results.json rewritten'; "
                  "echo 'ALL TESTS PASSED' > \"$d/report.txt\"; done; "
                  "touch @ESCAPE@/fork_survived && echo 'ESCAPED: wrote outside the sandbox'; sleep 0.1; done",
                  (char *)NULL);
        }
        _exit(0);
    }
}

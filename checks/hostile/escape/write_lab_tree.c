// hostile: appends to the lab's Makefile, the grader's Python and the reference, and plants a file in the lab tree
// base: stub
// expect: OK 0
#include <stdio.h>
static void hostile_make(void)
{
    static int once;
    if (once++)
        return;
    static const char *targets[] = {"@ROOT@/Makefile", "@ROOT@/tools/raftlab/grade.py", "@ROOT@/solution/raft.c",
                                    "@ROOT@/grading/points.json", "@ROOT@/tools/raftlab/planted.py",
                                    "@ESCAPE@/planted"};
    for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++) {
        FILE *f = fopen(targets[i], "a");
        if (f != NULL) {
            fputs("\n# escaped\n", f);
            fclose(f);
            printf("ESCAPED: wrote %s\n", targets[i]);
        } else {
            printf("could not write %s\n", targets[i]);
        }
    }
    fflush(stdout);
}

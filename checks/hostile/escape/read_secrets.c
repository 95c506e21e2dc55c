// hostile: reads the reference solution, the grader's Python, the points and the environment the grader inherited (its parent's, by pid)
// base: stub
// expect: OK 0
#include <stdio.h>
static void hostile_make(void)
{
    static int once;
    if (once++)
        return;
    static const char *secrets[] = {"@ROOT@/solution/raft.c", "@ROOT@/tools/raftlab/grade.py",
                                    "@ROOT@/grading/points.json", "@ROOT@/Makefile", "/proc/@CHECK_PID@/environ",
                                    "@ESCAPE@/../hostile/reference.c"};
    for (size_t i = 0; i < sizeof secrets / sizeof secrets[0]; i++) {
        FILE *f = fopen(secrets[i], "r");
        char line[64] = "";
        if (f != NULL && fgets(line, sizeof line, f) != NULL)
            printf("ESCAPED: read %s: %s\n", secrets[i], line);
        else
            printf("could not read %s\n", secrets[i]);
        if (f != NULL)
            fclose(f);
    }
    fflush(stdout);
}

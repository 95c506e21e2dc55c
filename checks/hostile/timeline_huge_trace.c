// hostile (or just chatty): log lines enough for a trace far over the grader's cap and the run's file-size limit
// base: stub
// expect: OK 0 /LIVENESS/
// timeline: none /^not kept: its trace data (is .* over the grader's|grew over|is not valid JSON)/
#include <string.h>
#include "lab/debug.h"
static void hostile_make(void)
{
    char line[2001];
    memset(line, '<', sizeof line - 1);
    line[sizeof line - 1] = '\0';
    for (int i = 0; i < 20000; i++)
        DPRINTF(FLOOD, 0, "%s", line);
}

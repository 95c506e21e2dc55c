// hostile: a thread whose name (which a crash's FAIL reason quotes) clears the screen and sets the terminal's title
// base: stub
// expect: OK 0 /CRASH: .*thread '\\x1b\]0;owned\\x07\\x1b\[2J\\x1b\[HALL TESTS PASSED'/
#include <stdlib.h>
#include "lab/sync.h"
static int *volatile nowhere;
static void *crash_now(void *arg)
{
    (void)arg;
    *nowhere = 1;
    return NULL;
}
static void hostile_make(void)
{
    static int once;
    if (once++)
        return;
    lab_thread *t = malloc(sizeof *t);
    lab_thread_create(t, "\x1b]0;owned\a\x1b[2J\x1b[HALL TESTS PASSED", crash_now, NULL);
    lab_sleep_ms(2000);
}

// hostile: syscall bytes hidden inside an instruction's immediate, for a jump into its middle
// base: stub
// expect: REFUSED 0 /bytes of a system call instruction/
static volatile unsigned sink;
static void hostile_make(void)
{
    sink = 0xc3050f90u;   /* nop; syscall; ret: reachable only by a jump into the mov */
}

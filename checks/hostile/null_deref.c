// buggy, not hostile: a genuine NULL dereference, far from any limit, must stay a CRASH (not be taken for a LIMIT)
// base: stub
// expect: OK 0 /CRASH: raft2A/t01_initial_election: SIGSEGV \(segmentation fault\) at address 0x0 in [^;]*\(SEED/
static int *volatile nowhere;
static void hostile_make(void)
{
    *nowhere = 1;
}

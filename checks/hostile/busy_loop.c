// hostile (or just buggy): spins forever in raft_make, burning CPU
// base: stub
// expect: OK 0 /LIMIT: .*CPU-time limit \(4 s|HANG: .*raft_make\(server 0\) did not return within 10 s; thread 'tester' running/
// (LIMIT when the run gets a core; on a loaded machine it gets under 4 s of CPU
// in 10 s of wall time, and the watchdog's HANG, naming the spinning call, comes first)
static volatile int forever = 1;
static void hostile_make(void)
{
    while (forever)
        ;
}

// hostile (or just buggy): spins forever in raft_make, burning CPU
// base: stub
// expect: OK 0 /LIMIT: .*killed by the kernel \(SIGKILL\) at its CPU-time limit \(4 s|HANG: .*raft_make\(server 0\) did not return within 10 s; thread 'tester' running/
// (LIMIT when the run gets a core; on a loaded machine it gets under 4 s of CPU
// in 10 s of wall time, and the watchdog's HANG, naming the spinning call, comes first.
// The kernel counts the limit in clock ticks: among sleeping threads it kills the loop
// when rusage reads as little as 2.7 s, so the kill itself (SIGKILL) names the limit)
static volatile int forever = 1;
static void hostile_make(void)
{
    while (forever)
        ;
}

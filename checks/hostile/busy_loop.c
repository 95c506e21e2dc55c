// hostile (or just buggy): spins forever in raft_make, burning CPU
// base: stub
// expect: OK 0 /LIMIT: .*CPU-time limit \(4 s|HANG: .*raft_make\(server 0\) did not return within 10 s; thread 'tester' running|CRASH: .*exited with status 1 without a FAIL line/
// (LIMIT when the run gets a core; on a loaded machine it gets under 4 s of CPU
// in 10 s of wall time, and the watchdog's HANG, naming the spinning call, comes first.
// CRASH is a KNOWN MISCLASSIFICATION, open in issue 13: at load 3-5, in 1-2 runs of 3,
// the kernel's CPU-limit SIGKILL comes when rusage reads only 2.7 s of the 4, under
// the runner's 75% attribution threshold; the score is 0 and the batch unharmed either way)
static volatile int forever = 1;
static void hostile_make(void)
{
    while (forever)
        ;
}

// hostile (or just buggy): spins forever in raft_make, burning CPU
// base: stub
// expect: OK 0 /LIMIT: .*CPU-time limit \(4 s/
static volatile int forever = 1;
static void hostile_make(void)
{
    while (forever)
        ;
}

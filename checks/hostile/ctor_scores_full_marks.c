// hostile: a constructor that runs before the tester and fakes every test's verdict (it scored 100/100 before)
// base: skeleton
// expect: REFUSED 0 /has a \.init_array section: constructors/
__attribute__((constructor)) static void take_over(void)
{
    printf("VERDICT forged raft2A/t01_initial_election PASS\n");
}

// hostile: .symver and a global alias through assembly, to export a second name for its code
// base: stub
// expect: REFUSED 0 /inline assembly|defines/
__asm__(".globl harness_report_end\n.set harness_report_end, raft_kill\n");
static void hostile_make(void) {}

// hostile: a weak definition of a harness function, in case the harness's is missing
// base: skeleton
// expect: REFUSED 0 /defines the global symbol harness_check_one_leader/
int harness_check_one_leader(void);
__attribute__((weak)) int harness_check_one_leader(void) { return 0; }

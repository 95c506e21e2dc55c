// hostile: a global variable the harness might also define (interposition by name)
// base: skeleton
// expect: REFUSED 0 /defines the global symbol harness_verbose: only the six raft_\* functions may be global/
extern int harness_verbose;
int harness_verbose = 1;

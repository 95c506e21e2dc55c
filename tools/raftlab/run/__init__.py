"""raftlab.run: runs the lab's tests many times, in parallel, each run in
its own process with limits; shared by tools/stress (students) and the
grader (instructors).

  policy    the failure classes, the parts and the limits: the Python copy
            of harness/lab_policy.h (checks/tools/test_policy.py compares them)
  catalog   which tests a test binary has (its --lab-info), and selecting
            some of them
  build     building a raft.c into a test binary with the lab's Makefile
  limits    resource limits, the network sandbox, killing a process tree
  sandbox   bubblewrap around what runs or compiles untrusted code
  run       one run of one test: its outcome, class, reason, seed, times
  pool      many runs, J at a time, with progress and Ctrl-C
  progress  the progress bar (or plain lines when not on a terminal)
  stats     per-test aggregates and the pass-rate table
  objcheck  the rules a submission's raft.o must keep
  paths     the lab's root, and paths as the user should see them
"""

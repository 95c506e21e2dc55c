"""raftrun: runs the lab's tests many times, in parallel, each run in its own
process with limits; shared by tools/stress (students) and grading/grade
(instructors).

  catalog   which tests a test binary has, and selecting some of them
  build     building a raft.c into a test binary with the lab's Makefile
  limits    resource limits, the network sandbox, killing a process tree
  run       one run of one test: its outcome, class, reason, seed, times
  pool      many runs, J at a time, with progress and Ctrl-C
  progress  the progress bar (or plain lines when not on a terminal)
  stats     per-test aggregates and the pass-rate table
  paths     paths as the user should see them
"""

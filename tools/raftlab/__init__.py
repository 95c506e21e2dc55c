"""raftlab: the lab's Python tools, one package.

  run        runs the lab's tests many times, in parallel, each run in its
             own process with limits (tools/stress's and the grader's runner);
             its objcheck is the check of a raft.o (tools/check-raft's and the
             grader's)
  grading    the grader's own parts: submissions, scoring, reports (instructors)
  raftlog    tools/raftlog: pretty-prints a VERBOSE=1 log
  stress     tools/stress: many runs of tests, a pass-rate table
  checkraft  tools/check-raft: warns when raft.o breaks a submission rule
  grade      tools/grade (and grading/grade, a link to it): the grader

The commands in tools/ are launchers of a few lines: Python puts the
directory of the script it runs, tools/, first on sys.path, so `import
raftlab` finds this package with no path set by hand. Anything else that
imports it (the tests, mypy) is given PYTHONPATH=tools (the Makefile's
check-tools and check-python). Standard library only; Python 3.9 or later.
The students' handout has run, raftlog, stress and checkraft, not grading
or grade.
"""

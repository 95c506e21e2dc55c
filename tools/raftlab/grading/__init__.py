"""raftlab.grading: the parts of the grader (tools/grade, raftlab.grade)
that are about grading, on top of raftlab.run (which runs the tests).
Instructors only: the students' handout leaves it out.

  building    the trusted parts of the lab once, each submission's raft.c
              compiled, checked and linked in the sandbox
  outputs     what the grader writes, atomically, and the failing logs kept
  submission  what a submission is, and taking its raft.c (only that)
  scoring     points per test and the scoring policy
  report      the text report and the CSV
  gradescope  Gradescope's results.json, and a checker of its schema
"""

"""gradelib: the parts of grading/grade that are about grading, on top of
tools/raftrun (which runs the tests).

  submission  what a submission is, and taking its raft.c (only that)
  scoring     points per test and the scoring policy
  report      the text report and the CSV
  gradescope  Gradescope's results.json, and a checker of its schema
"""

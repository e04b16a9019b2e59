"""The harness: runs inside the sandbox and drives a student's code.

It imports nothing else of grader (the sandbox binds only this folder). It reads
a job file, loads the submission, seeds every random generator, builds, trains
and asks for predictions, then writes `predictions.npy` and `report.json` to
the output directory. Nothing it writes is trusted: the grader outside checks
the predictions and computes every metric itself.
"""

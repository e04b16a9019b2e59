"""The pure domain of grader.

Nothing in this package does I/O: no files, no subprocesses, no network, no
database, no Flask or Celery. It takes values and returns values, so every
rule of grading (specs, validation, metrics, scoring) is unit-testable alone.
"""

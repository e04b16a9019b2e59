"""Alembic migrations of grader's database, run by `grader db upgrade` (grader.migrate)."""

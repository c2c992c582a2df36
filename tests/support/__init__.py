"""Helpers shared by test suites (service isolation for PostgreSQL and Redis)."""

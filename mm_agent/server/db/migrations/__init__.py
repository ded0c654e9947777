"""Alembic migrations of the service database (SQLite and PostgreSQL); see ``../migrate.py``."""

"""Storage: the database engine and sessions, the SQLModel tables and their Alembic migrations.

Imports no other onething package: every layer above keeps its rows here.
"""

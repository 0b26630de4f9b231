"""The store: ORM models, database engines and sessions, and the Alembic migrations."""

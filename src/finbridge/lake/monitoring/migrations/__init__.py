"""Alembic revisions of the model-monitoring tables (branch ``monitoring``)."""

"""Alembic branch ``payments``: the payments engine's tables."""

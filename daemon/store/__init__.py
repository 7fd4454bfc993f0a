"""Persistence: SQLAlchemy models, queries and migrations."""

from daemon.store.db import Store

__all__ = ["Store"]

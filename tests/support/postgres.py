"""Throwaway PostgreSQL databases on the local server (127.0.0.1:5432, trust auth)."""

from __future__ import annotations

import os
import uuid

import psycopg
import pytest

ADMIN_DSN = os.environ.get(
    "COMPLAINTD_TEST_PG", "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
)


def available() -> str | None:
    """None when the server answers; otherwise why not."""
    try:
        with psycopg.connect(ADMIN_DSN, connect_timeout=3):
            return None
    except psycopg.Error as exc:
        return str(exc).strip().splitlines()[0]


def require() -> None:
    """Skip the test when the server does not answer; in CI that is a failure, not a skip."""
    problem = available()
    if problem is not None:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL on 127.0.0.1:5432 is not answering: {problem}")
        pytest.skip(f"PostgreSQL not available: {problem}")


def create() -> tuple[str, str]:
    """A new empty database: (its name, its SQLAlchemy URL)."""
    name = f"complaintd_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    params = psycopg.conninfo.conninfo_to_dict(ADMIN_DSN)
    host, port, user = (
        params.get("host", "127.0.0.1"),
        params.get("port", "5432"),
        params.get("user", "postgres"),
    )
    return name, f"postgresql+psycopg://{user}@{host}:{port}/{name}"


def drop(name: str) -> None:
    with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

"""A PostgreSQL database of one's own for a test module (the `postgres_database` fixture makes
one per test): created fresh, dropped afterwards, skipped when no PostgreSQL answers."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator

import pytest

from tests.support.ports import port_answers

POSTGRES_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


async def _admin(sql: str) -> None:
    import asyncpg  # type: ignore[import-untyped]

    conn = await asyncpg.connect(POSTGRES_ADMIN_URL)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@contextlib.asynccontextmanager
async def temporary_database() -> AsyncIterator[str]:
    """The asyncpg URL of a new, empty database; skips the caller when none can be made."""
    if not port_answers(5432):
        pytest.skip("no PostgreSQL on 127.0.0.1:5432")
    import asyncpg

    name = f"atelier_test_{uuid.uuid4().hex[:12]}"
    try:
        await _admin(f'CREATE DATABASE "{name}"')
        # Commits need not wait for the disk: a test database is thrown away, and what a
        # transaction sees is the same either way.
        await _admin(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
    except (OSError, asyncpg.PostgresError) as exc:
        pytest.skip(f"PostgreSQL refused a test database: {exc}")
    try:
        yield f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    finally:
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

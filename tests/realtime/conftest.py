"""Database fixtures for the document store: a SQLite file always, PostgreSQL when one answers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from web.database import create_engine, migrate

DATABASES = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(params=DATABASES)
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of a fresh, empty database: a SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'atelier.db'}"
    # `postgres_database` (tests/conftest.py) creates a unique database, drops it afterwards,
    # and skips the test when no PostgreSQL answers.
    return str(request.getfixturevalue("postgres_database"))


@pytest.fixture
async def database_url(empty_database_url: str) -> str:
    """A fresh database with the schema migrated."""
    await asyncio.to_thread(migrate, empty_database_url)
    return empty_database_url


@pytest.fixture
async def open_engine(database_url: str) -> AsyncIterator[Callable[[], AsyncEngine]]:
    """Open engines on the test database (one per simulated process), disposed at the end."""
    engines: list[AsyncEngine] = []

    def open_one() -> AsyncEngine:
        engine = create_engine(database_url)
        engines.append(engine)
        return engine

    yield open_one
    for engine in engines:
        await engine.dispose()


@pytest.fixture
def engine(open_engine: Callable[[], AsyncEngine]) -> AsyncEngine:
    """An engine on a fresh, migrated database."""
    return open_engine()

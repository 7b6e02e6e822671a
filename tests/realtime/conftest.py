"""Fixtures of the realtime tests: a document store on a fresh SQLite file, and the buses of
workers that share documents (in process, and over a real Redis)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from plumbing.bus import Bus, InProcessBus, LocalHub, RedisBus
from realtime.store import DocumentStore
from web.database import create_engine, database_url, migrate


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[DocumentStore]:
    """A started `DocumentStore` committing every 20 ms, closed at the end."""
    url = database_url(tmp_path, None)
    await asyncio.to_thread(migrate, url)
    engine = create_engine(url)
    document_store = DocumentStore(engine, commit_interval=0.02)
    await document_store.start()
    yield document_store
    await document_store.close()
    await engine.dispose()


@pytest.fixture(params=["in-process", "redis"])
async def worker_bus(request: pytest.FixtureRequest) -> AsyncIterator[Callable[[], Awaitable[Bus]]]:
    """Make the bus of one more worker of a deployment: in-process buses sharing one hub, or
    `RedisBus`es on a real Redis (`redis_url`); all are closed at the end."""
    hub = LocalHub()
    url = str(request.getfixturevalue("redis_url")) if request.param == "redis" else ""
    buses: list[Bus] = []

    async def make() -> Bus:
        bus: Bus = RedisBus(url) if url else InProcessBus(hub)
        await bus.start()
        buses.append(bus)
        return bus

    yield make
    for bus in buses:
        await bus.close()

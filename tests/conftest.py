"""Shared fixtures: real servers, real Redis, real PostgreSQL when present, real Yjs clients."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from tests.support import AtelierServer, RedisServer, YjsClients, port_answers

POSTGRES_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


@pytest.fixture
def unique() -> str:
    """A short unique suffix for document names, so runs never share state."""
    return uuid.uuid4().hex[:10]


@pytest.fixture
def atelier(tmp_path: Path) -> Iterator[Callable[..., AtelierServer]]:
    """Start `atelier serve` processes; all are stopped at the end of the test."""
    started: list[AtelierServer] = []

    def start(data_dir: Path | None = None, **env: str) -> AtelierServer:
        server = AtelierServer(data_dir or tmp_path / "data", env=env)
        started.append(server.start())
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
async def yjs() -> AsyncIterator[YjsClients]:
    """Real yjs + y-websocket clients in one node process."""
    clients = await YjsClients().start()
    yield clients
    await clients.close()


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of our own that a test may stop and restart."""
    server = RedisServer(tmp_path / "redis").start()
    yield server
    server.stop()


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    """The machine's Redis when it answers on 6379, else a private one."""
    if port_answers(6379):
        yield "redis://127.0.0.1:6379/0"
        return
    server = RedisServer(tmp_path / "redis").start()
    yield server.url
    server.stop()


@pytest.fixture
def postgres_database() -> Iterator[str]:
    """A fresh PostgreSQL database (asyncpg URL), dropped afterwards; skip when none answers."""
    if not port_answers(5432):
        pytest.skip("no PostgreSQL on 127.0.0.1:5432")
    import asyncpg

    name = f"atelier_test_{uuid.uuid4().hex[:12]}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(POSTGRES_ADMIN_URL)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    try:
        asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    except (OSError, asyncpg.PostgresError) as exc:
        pytest.skip(f"PostgreSQL refused a test database: {exc}")
    yield f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

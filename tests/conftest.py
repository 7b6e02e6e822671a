"""Shared fixtures: real servers, real Redis, real databases (SQLite, PostgreSQL when present),
real Yjs clients, real Chromium."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser
from sqlalchemy.ext.asyncio import AsyncEngine

from sfu import aiortc_internals
from tests.support.browser import chromium
from tests.support.ports import port_answers
from tests.support.servers import AtelierServer, RedisServer
from tests.support.visio import LOOPBACK_ENV
from tests.support.yjs import YjsClients
from web.database import create_engine, migrate

POSTGRES_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


@pytest.fixture(scope="session", autouse=True)
def aiortc_as_the_sfu_runs_it() -> None:
    """aiortc and aioice patched as an SFU node patches them at its start: the test bots and
    the peers tests make alone then gather on loopback too (`sfu.ice.host_addresses`)."""
    aiortc_internals.install()


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
def server(atelier: Callable[..., AtelierServer]) -> AtelierServer:
    """One `atelier serve` for the test, its media on loopback."""
    return atelier(**LOOPBACK_ENV)


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


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of a fresh, empty database: a SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'atelier.db'}"
    # `postgres_database` creates a unique database, drops it afterwards, and skips the test
    # when no PostgreSQL answers.
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


@pytest.fixture
def browser() -> Iterator[Browser]:
    """One headless Chromium for the test (contexts in it are separate people)."""
    with chromium() as launched:
        yield launched

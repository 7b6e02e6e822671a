"""Fixtures of the browser tests: a document name, and a space seeded on the test's server."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.support.relay import TcpRelay
from tests.support.servers import AtelierServer
from tests.support.space_seeds import Space, seed_space


@pytest.fixture
def doc() -> str:
    """A new document name under `e2e/`."""
    return f"e2e/{uuid.uuid4().hex[:10]}"


@pytest.fixture
def space(server: AtelierServer) -> Space:
    """Alice's space with Bob as editor and a guest link (see `tests.support.space_seeds`)."""
    # Playwright's sync API keeps an event loop on this thread: seed from another one.
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, seed_space(server.data_dir)).result()


@pytest.fixture
def relay(server: AtelierServer) -> Iterator[TcpRelay]:
    """One person's line to the test's server, which the test may cut and restore."""
    line = TcpRelay(server.port).start()
    yield line
    line.close()

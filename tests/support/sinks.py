"""Stand-ins for a client's socket in engine tests run without a network."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class Sink:
    """Stands for a client socket: records what the server sends."""

    def __init__(self) -> None:
        self.received: list[bytes] = []
        self.closed: tuple[int, str] | None = None
        self._changed = asyncio.Event()

    async def send(self, data: bytes) -> None:
        self.received.append(data)
        self._changed.set()

    async def close(self, code: int, reason: str) -> None:
        self.closed = (code, reason)
        self._changed.set()

    async def wait_for(self, check: Callable[[], T], timeout: float = 10.0) -> T:
        """Until `check()` is truthy, checked again whenever the server sends or closes."""
        async with asyncio.timeout(timeout):
            while not (result := check()):
                self._changed.clear()
                await self._changed.wait()
            return result

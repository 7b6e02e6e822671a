"""Stand-ins for a client's socket in engine tests run without a network."""

from __future__ import annotations


class Sink:
    """Stands for a client socket: records what the server sends."""

    def __init__(self) -> None:
        self.received: list[bytes] = []
        self.closed: tuple[int, str] | None = None

    async def send(self, data: bytes) -> None:
        self.received.append(data)

    async def close(self, code: int, reason: str) -> None:
        self.closed = (code, reason)
